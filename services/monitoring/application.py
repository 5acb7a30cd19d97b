"""Monitoring's Application: commands on the register and on warnings, detection, and queries.

The in-memory views (the register the intake reads per signal, the warnings index the queries read,
the watch states the detectors read) are folds of this application's own notification log
(`catch_up`), so there is one source of truth, the store, whoever wrote to it (an inbox handler, an
HTTP command, the detector). The occupancy book is the other in-memory state: the projection of the
SIGNALS stream, owned by `services.monitoring.intake`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts.eligibility import HouseholdMembersChanged, HouseholdRegistered
from contracts.penalties import ExitCompleted
from services.kit.clock import Clock
from services.kit.paging import Page, paginate
from services.kit.uow import UnitOfWork
from services.kit.views import Tail
from services.monitoring.credentials import CredentialHasher, resolve_key
from services.monitoring.detectors import (
    Assessment,
    assess_sublet,
    assess_vacancy,
    registration_lead,
    risk_score,
)
from services.monitoring.domain import (
    CONDITIONS,
    Household,
    HouseholdView,
    OccupancyBook,
    OccupancyWarning,
    Pending,
    Register,
    UnitRef,
    UnitWatch,
    flatten,
)
from services.monitoring.enrolment import EnrolmentMixin
from services.monitoring.errors import NotFound
from services.monitoring.investigation import InvestigationMixin
from services.monitoring.settings import MonitoringSettings

log = logging.getLogger(__name__)

OPEN = ("raised", "assigned", "confirmed")
WITHDRAWN_EXITED = "household_exited"


class RegisteredMeanwhile(RuntimeError):
    """A household's registration was committed while a message about it was being handled: the
    inbox retries the message, which then finds the household."""


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
    "OccupancyWarning.Withdrawn": "withdrawn",
}


class MonitoringApp(InvestigationMixin, EnrolmentMixin):
    def __init__(
        self, settings: MonitoringSettings, env: dict[str, str] | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, env, clock)
        self.config = settings
        self.params = settings.detector_params()
        self.lock = threading.RLock()
        self.register = Register()
        self.book = OccupancyBook(settings.zone, settings.retention_days)
        self.warnings: dict[UUID, WarningView] = {}
        self.watches: dict[UnitRef, dict[str, tuple[UUID | None, date | None]]] = {}
        self._seen = 0
        self._tail = Tail(self)
        key, self.credential_key_source = resolve_key(
            settings.monitoring_credential_key, self.env.get("CIPHER_KEY")
        )
        self.hasher = CredentialHasher(key)

    # -- views from the notification log ----------------------------------------------------------

    def catch_up(self) -> None:
        """Fold what was stored since the last call into the register, warnings and watches."""
        with self.lock:
            self._seen = self._tail.follow(self._seen, self._apply)

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
        elif kind == "UnitWatch.Released":
            states = self.watches.setdefault(
                UnitRef(domain_event.estate, domain_event.building, domain_event.unit), {}
            )
            for condition in CONDITIONS:
                open_id, closed_on = states.get(condition, (None, None))
                on = domain_event.on if closed_on is None else max(closed_on, domain_event.on)
                states[condition] = (open_id, on)
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
        household = Household(
            payload.household_id,
            payload.estate,
            payload.building,
            payload.unit,
            payload.tenancy_start,
            [m.member_id for m in payload.members],
            payload.region,
        )
        pending = uow.find(Pending.create_id(payload.household_id), Pending)
        if pending is None:
            uow.add(Pending(payload.household_id, registered=True))  # see `Pending`: races collide
        else:  # news from other streams came first: apply it now, in its order
            for department, reference, kind, described_on, hukou, actual in pending.facts:
                if not household.knows_fact(department, reference, actual is not None):
                    household.note_fact(department, reference, kind, described_on, hukou, actual)
            if pending.exit is not None:
                household.exit(*pending.exit)
            pending.applied()
        uow.add(household)

    def on_members_changed(self, uow: UnitOfWork, payload: HouseholdMembersChanged) -> bool:
        household = uow.find(payload.household_id, Household)
        if household is None:
            return False
        members = [m.member_id for m in payload.members]
        if members != household.members:
            household.change_members(members)
        return True

    def on_exit_completed(self, uow: UnitOfWork, payload: ExitCompleted) -> list[UUID]:
        """The household handed its flat back: it leaves the register, its open warnings are withdrawn
        (reason `household_exited`) and their watches closed on the hand-back day, so a household let
        the flat next is judged on its own days. Returns the warnings withdrawn."""
        household = uow.find(payload.household_id, Household)
        if household is None:
            pending = self._pending(uow, payload.household_id)
            if pending.exit is None:
                pending.keep_exit(payload.completed_on, payload.how, payload.recorded_by)
            log.info("exit of household %s before its registration: kept for it", payload.household_id)
            return []
        if household.exited_on is not None:
            return []
        household.exit(payload.completed_on, payload.how, payload.recorded_by)
        self.catch_up()
        with self.lock:
            candidates = sorted(
                (v.raised_on, v.warning_id)
                for v in self.warnings.values()
                if v.household_id == payload.household_id and v.status in OPEN
            )
        withdrawn = []
        for _, warning_id in candidates:
            warning = uow.get(warning_id, OccupancyWarning)
            if not warning.is_open:
                continue  # closed since the view was read
            warning.withdraw(WITHDRAWN_EXITED, payload.completed_on)
            watch = uow.get(UnitWatch.create_id(*warning.unit_ref), UnitWatch)
            watch.closed(warning.condition, warning.id, payload.completed_on)
            withdrawn.append(warning_id)
        unit = household.unit_ref
        released = uow.find(UnitWatch.create_id(*unit), UnitWatch)
        if released is None:
            released = UnitWatch(*unit)
            uow.add(released)
        released.released(payload.household_id, *unit, payload.completed_on)
        return withdrawn

    def on_decision(
        self,
        uow: UnitOfWork,
        household_id: UUID,
        source: str,
        outcome: str,
        decided_on: date,
        overturned: bool = False,
    ) -> bool:
        """Record an eligibility decision on the household (shown with it and its warnings)."""
        household = uow.find(household_id, Household)
        if household is None:
            return False
        household.record_decision(source, outcome, decided_on, overturned)
        return True

    def on_fact(
        self,
        uow: UnitOfWork,
        household_id: UUID,
        department: str,
        reference: str,
        kind: str,
        described_on: date,
        hukou_city: str | None = None,
        actual_residence_city: str | None = None,
    ) -> bool:
        """Note a department record on the household, once per (record, with or without values).

        A record for a household not registered (yet) is kept for it (`Pending`): returns False."""
        with_values = actual_residence_city is not None
        household = uow.find(household_id, Household)
        if household is None:
            pending = self._pending(uow, household_id)
            if not pending.knows_fact(department, reference, with_values):
                pending.keep_fact(
                    department, reference, kind, described_on, hukou_city, actual_residence_city
                )
            return False
        if not household.knows_fact(department, reference, with_values):
            household.note_fact(department, reference, kind, described_on, hukou_city, actual_residence_city)
        return True

    @staticmethod
    def _pending(uow: UnitOfWork, household_id: UUID) -> Pending:
        """Where news for a household not found is kept; raises `RegisteredMeanwhile` when the
        registration was committed between the two reads (the inbox handles the message again)."""
        pending = uow.find(Pending.create_id(household_id), Pending)
        if pending is None:
            pending = Pending(household_id)
            uow.add(pending)
        elif pending.registered:
            raise RegisteredMeanwhile(f"household {household_id} was registered meanwhile")
        return pending

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
        lead = registration_lead(household, as_of, self.params)
        assessments = [
            assess_vacancy(occupancy, household, as_of, monitored_from, since("vacancy"), self.params),
            assess_sublet(
                occupancy,
                as_of,
                since("sublet_or_lend"),
                self.params,
                tenancy_start=household.tenancy_start.toordinal(),
                lead=lead,
            ),
        ]
        context = household_evidence(household)
        if context:
            assessments = [dataclasses.replace(a, evidence=a.evidence + context) for a in assessments]
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
            for attempt in range(3):  # a concurrent step on the same watch: read it again
                if attempt:
                    self.catch_up()  # e.g. the household exited meanwhile
                household_id = self.register.by_unit.get(unit)
                if household_id is None:
                    break
                try:
                    watch: UnitWatch = self.repository.get(UnitWatch.create_id(*unit))
                except AggregateNotFoundError:
                    watch = UnitWatch(*unit)
                if assessment.condition in watch.open:
                    break
                warning = OccupancyWarning(
                    household_id,
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

    # -- queries -----------------------------------------------------------------------------------

    def _household_context(self, household_id: UUID) -> dict[str, Any]:
        view = self.register.households.get(household_id)
        if view is None:
            return {"household_status": None, "exit_decision": None}
        decision = view.exit_decision
        return {
            "household_status": view.status,
            "exit_decision": None if decision is None else decision.as_dict(),
        }

    def open_warnings(self, estate: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Warnings in `state` (default: the open ones), highest risk first; optionally of one estate."""
        self.catch_up()
        states = OPEN if state is None else (state,)
        with self.lock:
            views = [
                v
                for v in self.warnings.values()
                if v.status in states and (estate is None or v.unit.estate == estate)
            ]
            return [
                {**v.as_dict(), **self._household_context(v.household_id)}
                for v in sorted(views, key=lambda v: (-v.risk_score, v.raised_on))
            ]

    def warnings_page(
        self,
        estate: str | None,
        state: str | None,
        sees: Callable[[object], bool],
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        """`open_warnings` a page at a time (`services.kit.paging`), the household's context added for
        the page's warnings only. Highest risk first: a warning's score is fixed when it is raised, so
        the order never changes under a walk."""
        self.catch_up()
        states = OPEN if state is None else (state,)
        with self.lock:
            chosen = (
                v
                for v in self.warnings.values()
                if v.status in states and (estate is None or v.unit.estate == estate) and sees(v.unit.estate)
            )
            page = paginate(
                chosen,
                lambda v: (-v.risk_score, v.raised_on.isoformat(), str(v.warning_id)),
                limit=limit,
                cursor=cursor,
            )
            return page.map(lambda v: {**v.as_dict(), **self._household_context(v.household_id)})

    def warning(self, warning_id: UUID) -> dict[str, Any]:
        self.catch_up()
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
                **self._household_context(warning.household_id),
                "explanation": warning.explanation,
                "evidence": [{"label": label, "value": value} for label, value in warning.evidence],
                "outcome_note": warning.outcome_note,
                "closed_on": None if warning.closed_on is None else warning.closed_on.isoformat(),
            }

    def household(self, household_id: UUID) -> dict[str, Any]:
        """What monitoring holds about a household: its flat, status, decisions, records, warnings."""
        self.catch_up()
        with self.lock:
            view = self.register.households.get(household_id)
            if view is None:
                raise NotFound(f"household {household_id} is not registered here")
            decision = view.exit_decision
            return {
                "household_id": str(household_id),
                "estate": view.unit.estate,
                "building": view.unit.building,
                "unit": view.unit.unit,
                "status": view.status,
                "members": len(view.members),
                "tenancy_start": view.tenancy_start.isoformat(),
                "exited_on": None if view.exited_on is None else view.exited_on.isoformat(),
                "exit_how": view.exit_how,
                "exit_decision": None if decision is None else decision.as_dict(),
                "decisions": [d.as_dict() for d in view.decisions],
                "records": [r.as_dict() for r in view.facts.values()],
                "warnings": [
                    v.as_dict()
                    for v in sorted(self.warnings.values(), key=lambda v: v.raised_on)
                    if v.household_id == household_id
                ],
            }

    def household_aggregates(self, household_id: UUID) -> list[UUID]:
        """The aggregates whose events tell the household's story here (for its timeline)."""
        self.catch_up()
        with self.lock:
            warnings = sorted(
                (v.raised_on, v.warning_id) for v in self.warnings.values() if v.household_id == household_id
            )
            view = self.register.households.get(household_id)
            members = view.members if view is not None else frozenset()
            credentials = [
                aggregate_id
                for aggregate_id, key in self.register.credential_keys.items()
                if self.register.credentials.get(key) in members
            ]
        return [household_id, Pending.create_id(household_id), *(w for _, w in warnings), *credentials]

    def figures(self) -> dict[str, Any]:
        """Counts for the bureau's dashboard."""
        self.catch_up()
        with self.lock:
            by_state = Counter(v.status for v in self.warnings.values())
            by_condition = Counter(v.condition for v in self.warnings.values())
            open_by_condition = Counter(v.condition for v in self.warnings.values() if v.status in OPEN)
            violations = Counter(v.finding for v in self.warnings.values() if v.finding is not None)
            statuses = Counter(h.status for h in self.register.households.values())
            signals = dict(self.book.signals)
            return {
                "warnings_by_state": dict(sorted(by_state.items())),
                "warnings_by_condition": dict(sorted(by_condition.items())),
                "warnings_by_state_and_condition": {
                    state: dict(
                        sorted(
                            Counter(v.condition for v in self.warnings.values() if v.status == state).items()
                        )
                    )
                    for state in sorted(by_state)
                },
                "open_warnings_by_condition": dict(sorted(open_by_condition.items())),
                "violations_confirmed_by_kind": dict(sorted(violations.items())),
                "flats_monitored": len(self.register.by_unit),
                "flats_unlet": len(self.register.unlet()),
                "households_exit_decided": statuses.get("exit_decided", 0),
                "households_exited": statuses.get("exited", 0),
                "credentials_enrolled": len(self.register.credentials),
                "signals_ingested": sum(n for outcome, n in signals.items() if outcome in INGESTED),
                "signals_refused": sum(n for outcome, n in signals.items() if outcome not in INGESTED),
            }

    def occupancy(self, unit: UnitRef, days: int = 30) -> dict[str, Any]:
        """A unit's occupancy history: daily counters, utilities, current assessments and risk score.

        A flat no household holds any more is `unlet`: its door openings are still shown, but no
        detector judges it (an empty unlet flat is not a vacancy)."""
        self.catch_up()
        with self.lock:
            let = unit in self.register.by_unit
            if not let and unit not in self.register.units:
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
                "status": "let" if let else "unlet",
                "household_id": str(self.register.by_unit[unit]) if let else None,
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
                "risk_score": 0,
                "assessments": [],
            }
            if let and as_of is not None:
                assessments, score = self.assess(unit, as_of)
                result["risk_score"] = score
                result["assessments"] = [
                    {"condition": a.condition, "triggered": a.triggered, "explanation": a.explanation}
                    for a in assessments
                ]
            return result


INGESTED = ("applied", "unlet")
"""Outcomes of a signal that is folded into the book (the others are refused and dead-lettered)."""


def household_evidence(household: HouseholdView) -> tuple[tuple[str, str], ...]:
    """What eligibility told monitoring about the household, as evidence every warning carries."""
    items: list[tuple[str, str]] = []
    for decision in household.decisions:
        text = f"{decision.outcome} on {decision.decided_on.isoformat()}"
        if decision.overturned:
            text += " (overturned the earlier outcome)"
        items.append((decision.source, text))
    for record in household.facts.values():
        text = f"{record.department} record {record.reference} of {record.described_on.isoformat()}"
        if record.actual_residence_city is None:
            text += " (recorded by eligibility; its values are not shared with monitoring)"
        else:
            text += (
                f": actual residence {record.actual_residence_city}, "
                f"household registration {record.hukou_city}"
            )
        items.append((f"{record.kind}_record", text))
    return tuple(items)
