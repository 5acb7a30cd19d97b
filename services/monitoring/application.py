"""Monitoring's Application: commands on the register and on warnings, detection, and queries.

The in-memory views (the register the intake reads per signal, the warnings index the queries read,
the watch states the detectors read) are folds of this application's own notification log
(`catch_up`), so there is one source of truth, the store, whoever wrote to it (an inbox handler, an
HTTP command, the detector). The occupancy book is the other in-memory state: the projection of the
SIGNALS stream, owned by `services.monitoring.intake`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts.eligibility import HouseholdMembersChanged, HouseholdRegistered
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork
from services.monitoring.detectors import Assessment, assess_sublet, assess_vacancy, risk_score
from services.monitoring.domain import (
    Credential,
    Household,
    OccupancyBook,
    OccupancyWarning,
    Register,
    UnitRef,
    UnitWatch,
    flatten,
)
from services.monitoring.settings import MonitoringSettings


class NotFound(LookupError):
    """The named household, member or warning is unknown here."""


@dataclass
class WarningView:
    warning_id: UUID
    household_id: UUID
    unit: UnitRef
    condition: str
    raised_on: date
    risk_score: int
    status: str
    inspector_id: str | None = None
    finding: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "warning_id": str(self.warning_id),
            "household_id": str(self.household_id),
            "estate": self.unit.estate,
            "building": self.unit.building,
            "unit": self.unit.unit,
            "condition": self.condition,
            "raised_on": self.raised_on.isoformat(),
            "risk_score": self.risk_score,
            "status": self.status,
            "inspector_id": self.inspector_id,
            "finding": self.finding,
        }


_STATUS = {
    "OccupancyWarning.Assigned": "assigned",
    "OccupancyWarning.Confirmed": "confirmed",
    "OccupancyWarning.Dismissed": "dismissed",
    "OccupancyWarning.Rectified": "rectified",
}


class MonitoringApp(ServiceApplication):
    def __init__(self, settings: MonitoringSettings, env: dict[str, str] | None = None) -> None:
        super().__init__(settings, env)
        self.config = settings
        self.params = settings.detector_params()
        self.lock = threading.RLock()
        self.register = Register()
        self.book = OccupancyBook(settings.utc_offset_hours, settings.retention_days)
        self.warnings: dict[UUID, WarningView] = {}
        self.watches: dict[UnitRef, dict[str, tuple[UUID | None, date | None]]] = {}
        self._seen = 0

    # -- views from the notification log ----------------------------------------------------------

    def catch_up(self) -> None:
        """Fold what was stored since the last call into the register, warnings and watches."""
        with self.lock:
            while True:
                notifications = self.process_recorder.select_notifications(
                    start=self._seen, limit=1000, inclusive_of_start=False
                )
                if not notifications:
                    return
                for notification in notifications:
                    self._apply(self.mapper.to_domain_event(notification))
                    self._seen = notification.id

    def _apply(self, domain_event: Any) -> None:
        kind = type(domain_event).__qualname__
        if kind.startswith(("Household.", "Credential.")):
            self.register.apply(domain_event)
        elif kind == "OccupancyWarning.Raised":
            unit = UnitRef(domain_event.estate, domain_event.building, domain_event.unit)
            self.warnings[domain_event.originator_id] = WarningView(
                domain_event.originator_id,
                domain_event.household_id,
                unit,
                domain_event.condition,
                domain_event.raised_on,
                domain_event.risk_score,
                "raised",
            )
        elif kind in _STATUS:
            view = self.warnings[domain_event.originator_id]
            view.status = _STATUS[kind]
            view.inspector_id = getattr(domain_event, "inspector_id", view.inspector_id)
            view.finding = getattr(domain_event, "finding", view.finding)
        elif kind == "UnitWatch.Started":
            self.watches.setdefault(
                UnitRef(domain_event.estate, domain_event.building, domain_event.unit), {}
            )
        elif kind in ("UnitWatch.Opened", "UnitWatch.Closed"):
            warning = self.warnings.get(domain_event.warning_id)
            if warning is None:
                return
            states = self.watches.setdefault(warning.unit, {})
            _, closed_on = states.get(domain_event.condition, (None, None))
            if kind == "UnitWatch.Opened":
                states[domain_event.condition] = (domain_event.warning_id, closed_on)
            else:
                states[domain_event.condition] = (None, domain_event.on)

    # -- register (inbox handlers and HTTP) --------------------------------------------------------

    def on_household_registered(self, uow: UnitOfWork, payload: HouseholdRegistered) -> None:
        if uow.find(payload.household_id, Household) is not None:
            return  # registered before (a replay, or the same fact under another message)
        uow.add(
            Household(
                payload.household_id,
                payload.estate,
                payload.building,
                payload.unit,
                payload.tenancy_start,
                [m.member_id for m in payload.members],
            )
        )

    def on_members_changed(self, uow: UnitOfWork, payload: HouseholdMembersChanged) -> bool:
        household = uow.find(payload.household_id, Household)
        if household is None:
            return False
        members = [m.member_id for m in payload.members]
        if members != household.members:
            household.change_members(members)
        return True

    def enrol_credential(self, kind: str, credential_id: str, member_id: UUID) -> UnitRef:
        """Enrol (or move) a door credential to a registered member; returns the member's unit."""
        self.catch_up()
        with self.lock:
            household_id = self.register.member_household.get(member_id)
            if household_id is None:
                raise NotFound(f"member {member_id} is in no registered household")
            unit = self.register.households[household_id].unit
            try:
                credential: Credential = self.repository.get(Credential.create_id(kind, credential_id))
            except AggregateNotFoundError:
                credential = Credential(kind, credential_id, member_id)
            else:
                if credential.member_id == member_id:
                    return unit
                credential.reassign(member_id)
            self.save(credential)
        self.catch_up()
        return unit

    def excuse_absence(
        self, household_id: UUID, member_id: UUID, start: date, end: date, reason: str
    ) -> None:
        with self.lock:
            try:
                household: Household = self.repository.get(household_id)
            except AggregateNotFoundError:
                raise NotFound(f"household {household_id} is not registered here") from None
            if member_id not in household.members:
                raise NotFound(f"member {member_id} is not in household {household_id}")
            household.excuse_absence(member_id, start, end, reason)
            self.save(household)
        self.catch_up()

    # -- detection ---------------------------------------------------------------------------------

    def assess(self, unit: UnitRef, as_of: int) -> tuple[list[Assessment], int]:
        """The detectors' assessments of one unit on local day `as_of`, and its risk score."""
        household_id = self.register.by_unit[unit]
        household = self.register.households[household_id]
        occupancy = self.book.units.get(unit)
        states = self.watches.get(unit, {})

        def since(condition: str) -> int | None:
            closed = states.get(condition, (None, None))[1]
            return None if closed is None else closed.toordinal()

        monitored_from = self.book.first_day if self.book.first_day is not None else as_of
        assessments = [
            assess_vacancy(occupancy, household, as_of, monitored_from, since("vacancy"), self.params),
            assess_sublet(occupancy, as_of, since("sublet_or_lend"), self.params),
        ]
        return assessments, risk_score(assessments)

    def as_of_day(self, estate: str | None = None) -> int | None:
        """Detection runs on the signals' own clock, the latest local day an estate's readers
        reported, not the wall clock: when an estate's readers are down no signal arrives, and an
        outage must not turn every flat there into a vacancy warning. (An operator can still run
        detection `as_of` a date.)"""
        if estate is not None and estate in self.book.estate_days:
            return self.book.estate_days[estate]
        return None if self.book.watermark is None else self.book.local_day(self.book.watermark)

    def detect(self, units: Iterable[UnitRef] | None = None, as_of: int | None = None) -> list[UUID]:
        """Run the detectors over `units` (default: every registered unit); raise what is new."""
        self.catch_up()
        with self.lock:
            candidates = list(self.register.by_unit) if units is None else list(units)
            findings: list[tuple[UnitRef, Assessment, int, int]] = []
            for unit in candidates:
                day = as_of if as_of is not None else self.book.estate_days.get(unit.estate)
                if day is None or unit not in self.register.by_unit:
                    continue  # no reader of this estate has reported yet: nothing to judge
                assessments, score = self.assess(unit, day)
                states = self.watches.get(unit, {})
                for assessment in assessments:
                    if assessment.triggered and states.get(assessment.condition, (None, None))[0] is None:
                        findings.append((unit, assessment, score, day))
            raised = self._raise(findings)
        self.catch_up()
        return raised

    def _raise(self, findings: list[tuple[UnitRef, Assessment, int, int]]) -> list[UUID]:
        raised: list[UUID] = []
        for unit, assessment, score, day in findings:
            on = date.fromordinal(day)
            for _ in range(3):  # a concurrent lifecycle step on the same watch: read it again
                try:
                    watch: UnitWatch = self.repository.get(UnitWatch.create_id(*unit))
                except AggregateNotFoundError:
                    watch = UnitWatch(*unit)
                if assessment.condition in watch.open:
                    break
                warning = OccupancyWarning(
                    self.register.by_unit[unit],
                    unit.estate,
                    unit.building,
                    unit.unit,
                    assessment.condition,
                    on,
                    score,
                    assessment.explanation,
                    flatten(assessment.evidence),
                )
                watch.opened(assessment.condition, warning.id)
                try:
                    self.save(warning, watch)
                except IntegrityError:
                    continue
                raised.append(warning.id)
                break
        return raised

    # -- warnings lifecycle ------------------------------------------------------------------------

    def _warning(self, warning_id: UUID) -> OccupancyWarning:
        try:
            warning: OccupancyWarning = self.repository.get(warning_id)
        except AggregateNotFoundError:
            raise NotFound(f"warning {warning_id} does not exist") from None
        return warning

    def assign(self, warning_id: UUID, inspector_id: str, on: date) -> None:
        with self.lock:
            warning = self._warning(warning_id)
            warning.assign(inspector_id, on)
            self.save(warning)
        self.catch_up()

    def confirm(self, warning_id: UUID, inspector_id: str, finding: str, on: date, note: str) -> None:
        with self.lock:
            warning = self._warning(warning_id)
            warning.confirm(inspector_id, finding, on, note)
            self.save(warning)
        self.catch_up()

    def dismiss(self, warning_id: UUID, inspector_id: str, reason: str, on: date) -> None:
        self._close(warning_id, lambda w: w.dismiss(inspector_id, reason, on), on)

    def rectify(self, warning_id: UUID, operator_id: str, on: date, note: str) -> None:
        self._close(warning_id, lambda w: w.rectify(operator_id, on, note), on)

    def _close(self, warning_id: UUID, step: Any, on: date) -> None:
        with self.lock:
            warning = self._warning(warning_id)
            step(warning)
            watch: UnitWatch = self.repository.get(UnitWatch.create_id(*warning.unit_ref))
            watch.closed(warning.condition, warning.id, on)
            self.save(warning, watch)
        self.catch_up()

    # -- queries -----------------------------------------------------------------------------------

    def open_warnings(self, estate: str | None = None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            views = [
                v
                for v in self.warnings.values()
                if v.status in ("raised", "assigned", "confirmed")
                and (estate is None or v.unit.estate == estate)
            ]
            return [v.as_dict() for v in sorted(views, key=lambda v: (-v.risk_score, v.raised_on))]

    def warning(self, warning_id: UUID) -> dict[str, Any]:
        with self.lock:
            warning = self._warning(warning_id)
            return {
                **WarningView(
                    warning.id,
                    warning.household_id,
                    warning.unit_ref,
                    warning.condition,
                    warning.raised_on,
                    warning.risk_score,
                    warning.status,
                    warning.inspector_id,
                    warning.finding,
                ).as_dict(),
                "explanation": warning.explanation,
                "evidence": [{"label": label, "value": value} for label, value in warning.evidence],
                "outcome_note": warning.outcome_note,
                "closed_on": None if warning.closed_on is None else warning.closed_on.isoformat(),
            }

    def occupancy(self, unit: UnitRef, days: int = 30) -> dict[str, Any]:
        """A unit's occupancy history: daily counters, utilities, current assessments and risk score."""
        self.catch_up()
        with self.lock:
            if unit not in self.register.by_unit:
                raise NotFound(f"no registered household holds {'/'.join(unit)}")
            as_of = self.as_of_day(unit.estate)
            occupancy = self.book.units.get(unit)
            history = []
            if occupancy is not None and as_of is not None:
                for day in range(as_of - days + 1, as_of + 1):
                    counts = occupancy.days.get(day)
                    if counts:
                        history.append(
                            {
                                "day": date.fromordinal(day).isoformat(),
                                "member_openings": counts[0],
                                "other_openings": counts[1],
                                "member_openings_elsewhere": counts[2],
                            }
                        )
            result: dict[str, Any] = {
                "estate": unit.estate,
                "building": unit.building,
                "unit": unit.unit,
                "household_id": str(self.register.by_unit[unit]),
                "as_of": None if as_of is None else date.fromordinal(as_of).isoformat(),
                "days": history,
                "utilities": [
                    {
                        "month": month,
                        "water_m3": None if w is None else str(w),
                        "electricity_kwh": None if e is None else str(e),
                    }
                    for month, (w, e) in sorted((occupancy.utilities if occupancy else {}).items())
                ],
            }
            if as_of is not None:
                assessments, score = self.assess(unit, as_of)
                result["risk_score"] = score
                result["assessments"] = [
                    {"condition": a.condition, "triggered": a.triggered, "explanation": a.explanation}
                    for a in assessments
                ]
            return result
