"""Integration events in (households, decisions, records, exits → the register) and out (warnings).

In, through the kit's inbox (exactly once, in stream order):
- ELIGIBILITY: `household-registered`, `household-members-changed` (the person-to-flat register);
  `exit-decided`, `review-confirmed`, `appeal-resolved` (decisions recorded on the household, shown
  with it and its warnings, and listed in their evidence); `fact-recorded` (which department record
  was recorded: evidence without values); `residence-verified` (public security's finding on a
  verification task raised from a warning: the warning confirmed or dismissed with it);
- DEPARTMENT: `fact-reported` of kind `registration` naming a household (public security's household
  registration against actual residence: the values the sublet-or-lend score weighs). Facts naming only
  a person hash are not ours to match and are skipped;
- PENALTIES: `exit-completed` (the household left: register, warnings and detectors let go of it).
Raw signals do *not* come this way: see `services.monitoring.intake`.

Out: the relay's translator. Every lifecycle step of a warning is a fact for eligibility; a
confirmation is also the violation penalties sanctions.
"""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts import monitoring
from contracts.catalogue import EVENTS, EVENTS_BY_TYPE, EventSpec
from contracts.department import DepartmentFactReported, RegistrationFact
from contracts.eligibility import (
    AppealResolved,
    ExitDecided,
    FactRecorded,
    HouseholdMembersChanged,
    HouseholdRegistered,
    ResidenceVerified,
    ReviewConfirmed,
)
from contracts.monitoring import (
    EvidenceItem,
    OccupancyWarningAssigned,
    OccupancyWarningConfirmed,
    OccupancyWarningDismissed,
    OccupancyWarningRaised,
    OccupancyWarningRectified,
    OccupancyWarningWithdrawn,
    ViolationConfirmed,
)
from contracts.penalties import ExitCompleted
from services.kit.codec import Incoming, Outgoing
from services.kit.inbox import Handler
from services.kit.runtime import Consumes, on
from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from services.monitoring.domain import FINDINGS, OccupancyWarning

log = logging.getLogger(__name__)

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
MEMBERS_CHANGED = EVENTS_BY_TYPE[("housing.eligibility.household-members-changed", 1)]
EXIT_DECIDED = EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)]
REVIEW_CONFIRMED = EVENTS_BY_TYPE[("housing.eligibility.review-confirmed", 1)]
APPEAL_RESOLVED = EVENTS_BY_TYPE[("housing.eligibility.appeal-resolved", 1)]
RESIDENCE_VERIFIED = EVENTS_BY_TYPE[("housing.eligibility.residence-verified", 1)]
FACT_RECORDED = EVENTS_BY_TYPE[("housing.eligibility.fact-recorded", 1)]
FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
EXIT_COMPLETED = EVENTS_BY_TYPE[("housing.penalties.exit-completed", 1)]
SPECS: dict[str, EventSpec] = {
    spec.name: spec for spec in (*EVENTS, *monitoring.EVENTS) if spec.context in ("monitoring", "signals")
}
DOOR_ACCESS = SPECS["door-access"]
UTILITY_READING = SPECS["utility-reading"]


def consumes(app: MonitoringApp) -> tuple[Consumes, ...]:
    def unknown(incoming: Incoming) -> None:
        log.warning(
            "%s for household %s, which is not registered here: ignored",
            incoming.spec.type,
            incoming.envelope.subject,
        )

    def exit_decided(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, ExitDecided)
        if not app.on_decision(uow, p.household_id, "exit_decided", p.route, p.decided_on):
            unknown(incoming)

    def review_confirmed(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, ReviewConfirmed)
        if not app.on_decision(uow, p.household_id, "review_confirmed", p.outcome, p.decided_on):
            unknown(incoming)

    def appeal_resolved(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, AppealResolved)
        if not app.on_decision(
            uow, p.household_id, "appeal_resolved", p.outcome, p.resolved_on, p.overturned
        ):
            unknown(incoming)

    def fact_recorded(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, FactRecorded)
        if p.kind != "registration":
            return  # income, property, assets: eligibility's business, no evidence of occupancy
        app.on_fact(uow, p.household_id, p.department.value, p.reference, p.kind, p.described_on)

    def fact_reported(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, DepartmentFactReported)
        if not isinstance(p.fact, RegistrationFact) or p.household_id is None:
            return
        noted = app.on_fact(
            uow,
            p.household_id,
            p.department.value,
            p.reference,
            p.fact.kind,
            p.described_on,
            p.fact.hukou_city,
            p.fact.actual_residence_city,
        )
        if not noted:
            log.info("registration record for household %s kept until it is registered", p.household_id)

    def residence_verified(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, ResidenceVerified)
        close_verified(uow, p)

    def exit_completed(incoming: Incoming, uow: UnitOfWork) -> None:
        p = incoming.payload
        assert isinstance(p, ExitCompleted)
        withdrawn = app.on_exit_completed(uow, p)
        log.info("household %s exited: %d warning(s) withdrawn", p.household_id, len(withdrawn))

    eligibility: dict[str, Handler] = {
        REGISTERED.type: on(HouseholdRegistered, app.on_household_registered),
        MEMBERS_CHANGED.type: on(HouseholdMembersChanged, app.on_members_changed, unknown="ignore"),
        EXIT_DECIDED.type: exit_decided,
        REVIEW_CONFIRMED.type: review_confirmed,
        APPEAL_RESOLVED.type: appeal_resolved,
        FACT_RECORDED.type: fact_recorded,
        RESIDENCE_VERIFIED.type: residence_verified,
    }
    return (
        Consumes("ELIGIBILITY", eligibility),
        Consumes("PENALTIES", {EXIT_COMPLETED.type: exit_completed}),
        Consumes("DEPARTMENT", {FACT_REPORTED.type: fact_reported}),
    )


VERIFIED_BY = "public_security"
"""Who a warning's step taken on public security's verification names (the department, not a person:
`verified_by` in the event says which of its systems or officers answered)."""


def close_verified(uow: UnitOfWork, verified: ResidenceVerified) -> bool:
    """Close the warning public security verified: confirmed with its finding (the violation penalties
    sanctions, as an inspector's confirmation is), or dismissed when the household lives there. A
    warning closed meanwhile, unknown here, or a finding that is not one for its condition (a sublet
    found on a vacancy warning) is left as it is, for an inspector. True when it was closed."""
    warning = uow.find(verified.warning_id, OccupancyWarning)
    if warning is None or not warning.is_open or warning.status not in ("raised", "assigned"):
        log.info(
            "verification of warning %s: the warning is not open here, nothing to close", verified.warning_id
        )
        return False
    finding = verified.finding
    if finding != "lives_there" and finding not in FINDINGS[warning.condition]:
        log.warning(
            "verification of warning %s found %r, no finding for %r: left for an inspector",
            verified.warning_id,
            finding,
            warning.condition,
        )
        return False
    on = max(verified.verified_on, warning.not_before()[0])
    note = f"verified by public security ({verified.verified_by})" + (
        f": {verified.note}" if verified.note else ""
    )
    if warning.status == "raised":
        warning.assign(VERIFIED_BY, on)
    if finding == "lives_there":
        warning.dismiss(VERIFIED_BY, note, on)
    else:
        warning.confirm(VERIFIED_BY, finding, on, note)
    return True


def withdrawn_payload(domain_event: DomainEventProtocol[UUID]) -> OccupancyWarningWithdrawn:
    values = vars(domain_event)
    return OccupancyWarningWithdrawn(
        household_id=values["household_id"],
        warning_id=domain_event.originator_id,
        withdrawn_on=values["on"],
        reason=values["reason"],
        previous_status=values["previous_status"],
    )


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
        return [Outgoing(SPECS["warning-raised"], subject, raised)]
    values = vars(e)
    if kind == "OccupancyWarning.Assigned":
        assigned = OccupancyWarningAssigned(
            household_id=household_id,
            warning_id=warning_id,
            inspector_id=values["inspector_id"],
            assigned_on=values["on"],
        )
        return [Outgoing(SPECS["warning-assigned"], subject, assigned)]
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
            Outgoing(SPECS["warning-confirmed"], subject, confirmed),
            Outgoing(SPECS["violation-confirmed"], subject, violation),
        ]
    if kind == "OccupancyWarning.Dismissed":
        dismissed = OccupancyWarningDismissed(
            household_id=household_id,
            warning_id=warning_id,
            inspector_id=values["inspector_id"],
            dismissed_on=values["on"],
            reason=values["reason"],
        )
        return [Outgoing(SPECS["warning-dismissed"], subject, dismissed)]
    if kind == "OccupancyWarning.Rectified":
        rectified = OccupancyWarningRectified(
            household_id=household_id,
            warning_id=warning_id,
            rectified_by=values["operator_id"],
            rectified_on=values["on"],
            note=values["note"],
        )
        return [Outgoing(SPECS["warning-rectified"], subject, rectified)]
    if kind == "OccupancyWarning.Withdrawn":
        return [Outgoing(SPECS["warning-withdrawn"], subject, withdrawn_payload(domain_event))]
    return []
