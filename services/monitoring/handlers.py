"""Integration events in (eligibility's households → the person-to-flat register) and out (warnings).

In: the kit's inbox on the ELIGIBILITY stream, whose batches are small and rare (a household's
registration, a change of members), so the exactly-once machinery costs nothing that matters here.
Raw signals do *not* come this way: see `services.monitoring.intake`.

Out: the relay's translator. Every lifecycle step of a warning is a fact for eligibility; a
confirmation is also the violation penalties sanctions.
"""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts.catalogue import EVENTS, EVENTS_BY_TYPE, EventSpec
from contracts.eligibility import HouseholdMembersChanged, HouseholdRegistered
from contracts.monitoring import (
    EvidenceItem,
    OccupancyWarningAssigned,
    OccupancyWarningConfirmed,
    OccupancyWarningDismissed,
    OccupancyWarningRaised,
    OccupancyWarningRectified,
    ViolationConfirmed,
)
from services.kit.codec import Incoming, Outgoing
from services.kit.inbox import Handler
from services.kit.runtime import Consumes
from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from services.monitoring.domain import OccupancyWarning

log = logging.getLogger(__name__)

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
MEMBERS_CHANGED = EVENTS_BY_TYPE[("housing.eligibility.household-members-changed", 1)]
SPECS: dict[str, EventSpec] = {
    spec.name: spec for spec in EVENTS if spec.context in ("monitoring", "signals")
}
DOOR_ACCESS = SPECS["door-access"]
UTILITY_READING = SPECS["utility-reading"]


def consumes(app: MonitoringApp) -> tuple[Consumes, ...]:
    def registered(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, HouseholdRegistered)
        app.on_household_registered(uow, incoming.payload)

    def members_changed(incoming: Incoming, uow: UnitOfWork) -> None:
        assert isinstance(incoming.payload, HouseholdMembersChanged)
        if not app.on_members_changed(uow, incoming.payload):
            log.warning(
                "members changed for household %s, which was never registered", incoming.envelope.subject
            )

    handlers: dict[str, Handler] = {REGISTERED.type: registered, MEMBERS_CHANGED.type: members_changed}
    return (Consumes("ELIGIBILITY", handlers),)


def _spec(name: str) -> EventSpec:
    """The published spec: from `EVENTS` once catalogued there, else from the pending list."""
    pending = SPECS[name]
    return EVENTS_BY_TYPE.get((pending.type, pending.version), pending)


def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
    """Domain events of `OccupancyWarning` → contract events; everything else stays private."""
    kind = type(domain_event).__qualname__
    if not kind.startswith("OccupancyWarning."):
        return []
    e: object = domain_event
    warning_id = domain_event.originator_id
    household_id: UUID = getattr(e, "household_id")  # noqa: B009 (every warning event carries it)
    subject = str(household_id)
    if isinstance(e, OccupancyWarning.Raised):
        raised = OccupancyWarningRaised(
            household_id=household_id,
            warning_id=warning_id,
            estate=e.estate,
            building=e.building,
            unit=e.unit,
            condition=e.condition,  # type: ignore[arg-type]
            raised_on=e.raised_on,
            risk_score=e.risk_score,
            explanation=e.explanation[:2000],
            evidence=[EvidenceItem(label=label, value=value[:500]) for label, value in e.evidence],
        )
        return [Outgoing(_spec("warning-raised"), subject, raised)]
    values = vars(e)
    if kind == "OccupancyWarning.Assigned":
        assigned = OccupancyWarningAssigned(
            household_id=household_id,
            warning_id=warning_id,
            inspector_id=values["inspector_id"],
            assigned_on=values["on"],
        )
        return [Outgoing(_spec("warning-assigned"), subject, assigned)]
    if kind == "OccupancyWarning.Confirmed":
        confirmed = OccupancyWarningConfirmed(
            household_id=household_id,
            warning_id=warning_id,
            inspector_id=values["inspector_id"],
            finding=values["finding"],
            confirmed_on=values["on"],
            note=values["note"],
        )
        violation = ViolationConfirmed(
            household_id=household_id,
            warning_id=warning_id,
            violation=values["finding"],
            estate=values["estate"],
            building=values["building"],
            unit=values["unit"],
            inspector_id=values["inspector_id"],
            confirmed_on=values["on"],
        )
        return [
            Outgoing(_spec("warning-confirmed"), subject, confirmed),
            Outgoing(_spec("violation-confirmed"), subject, violation),
        ]
    if kind == "OccupancyWarning.Dismissed":
        dismissed = OccupancyWarningDismissed(
            household_id=household_id,
            warning_id=warning_id,
            inspector_id=values["inspector_id"],
            dismissed_on=values["on"],
            reason=values["reason"],
        )
        return [Outgoing(_spec("warning-dismissed"), subject, dismissed)]
    if kind == "OccupancyWarning.Rectified":
        rectified = OccupancyWarningRectified(
            household_id=household_id,
            warning_id=warning_id,
            rectified_by=values["operator_id"],
            rectified_on=values["on"],
            note=values["note"],
        )
        return [Outgoing(_spec("warning-rectified"), subject, rectified)]
    return []
