"""Integration events in (eligibility's households, decisions and appeals; monitoring's violations) and
out (the relay's translator).

In: the kit's inbox on ELIGIBILITY and MONITORING. A batch and its tracking record are committed in one
transaction, so a redelivered message has no second effect; on top of that every command is idempotent
on its own terms (a tenancy is the household's id, a sanction's id derives from its basis and kind, the
subsidy's from the household), so the same fact reaching us twice under different messages changes
nothing either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import DomainEventProtocol, event
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE, EventSpec
from contracts.eligibility import (
    AppealLodged,
    AppealResolved,
    ExitDecided,
    HouseholdRegistered,
    RentSubsidyRegistered,
)
from contracts.monitoring import OccupancyWarningRectified, ViolationConfirmed
from contracts.penalties import (
    ExitCompleted,
    MonthlyRent,
    NoticeDelivered,
    NoticeIssued,
    PenaltyAppealLodged,
    PenaltyAppealResolved,
    PurchaseHelpFlagged,
    RentAdjusted,
    SanctionChanged,
    SanctionImposed,
    SubsidyAwarded,
    TransitionClosed,
    TransitionStarted,
    VoluntaryExitApplied,
)
from services.kit.clock import Aggregate
from services.kit.codec import Incoming, Outgoing
from services.kit.inbox import Handler
from services.kit.runtime import Consumes, on
from services.kit.uow import UnitOfWork
from services.penalties.application import PenaltiesApp
from services.penalties.domain import label, transition_schedule

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
RENT_SUBSIDY_REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.rent-subsidy-registered", 1)]
EXIT_DECIDED = EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)]
APPEAL_LODGED = EVENTS_BY_TYPE[("housing.eligibility.appeal-lodged", 1)]
APPEAL_RESOLVED = EVENTS_BY_TYPE[("housing.eligibility.appeal-resolved", 1)]
VIOLATION_CONFIRMED = EVENTS_BY_TYPE[("housing.monitoring.violation-confirmed", 1)]
WARNING_RECTIFIED = EVENTS_BY_TYPE[("housing.monitoring.warning-rectified", 1)]


def _spec(name: str) -> EventSpec:
    return EVENTS_BY_TYPE[(f"housing.penalties.{name}", 1)]


class RentSubsidyHousehold(Aggregate):
    """A household on a rent subsidy (eligibility's `rent-subsidy-registered`): it rents on the market,
    so penalties keeps no rent ledger, transition rent or voluntary-exit subsidy for it (exit means the
    subsidy stops, which eligibility's exit decision says). Kept only so that its exit decision is
    acknowledged as "nothing to do here" rather than retried as a tenancy not yet registered.
    (Belongs in services/penalties/domain.py; kept here to edit the handlers only.)"""

    class Registered(Aggregate.Created):
        household_id: UUID
        region: str

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(household_id, "penalties/rent-subsidy")

    @event(Registered)
    def __init__(self, household_id: UUID, region: str) -> None:
        self.household_id = household_id
        self.region = region


def on_rent_subsidy_registered(uow: UnitOfWork, payload: RentSubsidyRegistered) -> None:
    if uow.find(RentSubsidyHousehold.create_id(payload.household_id), RentSubsidyHousehold) is None:
        uow.add(RentSubsidyHousehold(payload.household_id, payload.region))


def consumes(app: PenaltiesApp) -> tuple[Consumes, ...]:
    # A decision or violation can overtake the registration it follows (two streams, read
    # independently): `retry` lets the inbox try again once the registration has arrived.
    retried = on(ExitDecided, app.on_exit_decided, unknown="retry")

    def exit_decided(incoming: Incoming, uow: UnitOfWork) -> None:
        payload = incoming.payload
        if isinstance(payload, ExitDecided):
            marker = uow.find(RentSubsidyHousehold.create_id(payload.household_id), RentSubsidyHousehold)
            if marker is not None:
                return  # no tenancy to plan an exit for: the subsidy stops, which is eligibility's
        retried(incoming, uow)

    eligibility: dict[str, Handler] = {
        REGISTERED.type: on(HouseholdRegistered, app.on_household_registered),
        RENT_SUBSIDY_REGISTERED.type: on(RentSubsidyRegistered, on_rent_subsidy_registered),
        EXIT_DECIDED.type: exit_decided,
        APPEAL_LODGED.type: on(AppealLodged, app.on_eligibility_appeal_lodged),
        APPEAL_RESOLVED.type: on(AppealResolved, app.on_eligibility_appeal_resolved),
    }
    monitoring: dict[str, Handler] = {
        VIOLATION_CONFIRMED.type: on(ViolationConfirmed, app.on_violation_confirmed, unknown="retry"),
        WARNING_RECTIFIED.type: on(OccupancyWarningRectified, app.on_warning_rectified),
    }
    return (Consumes("ELIGIBILITY", eligibility), Consumes("MONITORING", monitoring))


# -- out ----------------------------------------------------------------------------------------------


def _rent(e: Any, household_id: UUID, action: str, month: date, explanation: str) -> RentAdjusted:
    return RentAdjusted(
        household_id=household_id,
        adjustment_id=e.adjustment_id,
        action=action,  # type: ignore[arg-type]
        kind=e.kind,
        cause_id=e.cause_id,
        effective_month=label(month),
        base_rent=e.base_rent,
        explanation=explanation[:2000],
    )


def _tenancy(kind: str, e: Any) -> list[tuple[str, BaseModel]]:
    household_id: UUID = e.originator_id
    if kind == "TransitionStarted":
        schedule = transition_schedule(e.base_rent, e.first_month, e.months, e.rise, e.rule)
        return [
            (
                "transition-started",
                TransitionStarted(
                    household_id=household_id,
                    transition_id=e.transition_id,
                    review_id=e.review_id,
                    estate=e.estate,
                    route=e.route,
                    base_rent=e.base_rent,
                    first_month=label(e.first_month),
                    months=e.months,
                    monthly_rise=e.rise,
                    rule=e.rule,
                    schedule=[MonthlyRent(month=label(m), rent=r) for m, r in schedule],
                    exit_due_on=e.exit_due_on,
                ),
            )
        ]
    if kind == "TransitionClosed":
        closed = TransitionClosed(
            household_id=household_id, transition_id=e.transition_id, how=e.how, closed_on=e.on
        )
        return [("transition-closed", closed)]
    if kind == "Adjusted":
        return [("rent-adjusted", _rent(e, household_id, "started", e.first_month, e.explanation))]
    if kind == "AdjustmentEnded":
        text = f"Ends after {label(e.last_month)}: {e.reason}."
        return [("rent-adjusted", _rent(e, household_id, "ended", e.last_month, text))]
    if kind == "AdjustmentCancelled":
        text = f"Cancelled from its start: {e.reason}."
        return [("rent-adjusted", _rent(e, household_id, "cancelled", e.first_month, text))]
    if kind in ("HoldPlaced", "HoldReleased"):
        action, on = ("held", e.since) if kind == "HoldPlaced" else ("released", e.on)
        out: list[tuple[str, BaseModel]] = []
        for line in e.lines:
            adjusted = RentAdjusted(
                household_id=household_id,
                adjustment_id=line["adjustment_id"],
                action=action,  # type: ignore[arg-type]
                kind=line["kind"],
                cause_id=line["cause_id"],
                effective_month=label(on),
                base_rent=e.base_rent,
                explanation=f"{'Suspended' if action == 'held' else 'Due again'}: {line['explanation']}"[
                    :2000
                ],
            )
            out.append(("rent-adjusted", adjusted))
        return out
    if kind == "VoluntaryExitApplied":
        applied = VoluntaryExitApplied(
            household_id=household_id,
            estate=e.estate,
            applied_on=e.applied_on,
            low_income=e.low_income,
            wants_to_buy=e.wants_to_buy,
        )
        return [("voluntary-exit-applied", applied)]
    if kind == "PurchaseHelpFlagged":
        flagged = PurchaseHelpFlagged(
            household_id=household_id, estate=e.estate, flagged_on=e.on, source=e.source
        )
        return [("purchase-help-flagged", flagged)]
    if kind == "ExitCompleted":
        completed = ExitCompleted(
            household_id=household_id,
            estate=e.estate,
            building=e.building,
            unit=e.unit,
            completed_on=e.on,
            how=e.how,
            recorded_by=e.by,
        )
        return [("exit-completed", completed)]
    return []


def _sanction(kind: str, e: Any) -> list[tuple[str, BaseModel]]:
    if kind == "Imposed" and not getattr(e, "awaiting_entry", False):
        imposed = SanctionImposed(
            household_id=e.household_id,
            sanction_id=e.originator_id,
            kind=e.kind,
            violation=e.violation,
            basis_kind=e.basis_kind,
            basis_id=e.basis_id,
            estate=e.estate,
            imposed_on=e.imposed_on,
            effective_from=e.effective_from,
            ends_on=e.ends_on,
            surcharge_rate=e.rate,
            appeal_until=e.appeal_until,
            imposed_by=e.imposed_by,
        )
        return [("sanction-imposed", imposed)]
    if kind == "Entered":  # a proposed credit-list entry entered by a second person: now it is imposed
        entered = SanctionImposed(
            household_id=e.household_id,
            sanction_id=e.originator_id,
            kind=e.kind,
            violation=e.violation,
            basis_kind=e.basis_kind,
            basis_id=e.basis_id,
            estate=e.estate,
            imposed_on=e.imposed_on,
            effective_from=e.on,
            ends_on=e.ends_on,
            surcharge_rate=None,
            appeal_until=e.appeal_until,
            imposed_by=e.imposed_by,
        )
        return [("sanction-imposed", entered)]
    if kind == "Changed":
        changed = SanctionChanged(
            household_id=e.household_id,
            sanction_id=e.originator_id,
            kind=e.kind,
            state=e.state,
            on=e.on,
            deadline=e.deadline,
            reason=e.reason[:2000],
            by=e.by,
        )
        return [("sanction-changed", changed)]
    return []


def _other(kind: str, e: Any) -> list[tuple[str, BaseModel]]:
    if kind == "Appeal.Lodged":
        lodged = PenaltyAppealLodged(
            household_id=e.household_id,
            appeal_id=e.originator_id,
            sanction_id=e.sanction_id,
            lodged_on=e.lodged_on,
        )
        return [("appeal-lodged", lodged)]
    if kind == "Appeal.Resolved":
        resolved = PenaltyAppealResolved(
            household_id=e.household_id,
            appeal_id=e.originator_id,
            sanction_id=e.sanction_id,
            outcome=e.outcome,
            resolved_on=e.on,
            resolved_by=e.by,
        )
        return [("appeal-resolved", resolved)]
    if kind == "Notice.Issued":
        issued = NoticeIssued(
            household_id=e.household_id,
            notice_id=e.originator_id,
            estate=e.estate,
            kind=e.kind,
            issued_on=e.issued_on,
            deadline=e.deadline,
            appeal_until=e.appeal_until,
        )
        return [("notice-issued", issued)]
    if kind == "Notice.Delivered":
        delivered = NoticeDelivered(
            household_id=e.household_id, notice_id=e.originator_id, channel=e.channel, delivered_on=e.on
        )
        return [("notice-delivered", delivered)]
    if kind == "Subsidy.Awarded":
        awarded = SubsidyAwarded(
            household_id=e.household_id,
            subsidy_id=e.originator_id,
            estate=e.estate,
            amount=Decimal(e.amount),
            awarded_on=e.awarded_on,
        )
        return [("subsidy-awarded", awarded)]
    return []


_BY_AGGREGATE: dict[str, Callable[[str, Any], list[tuple[str, BaseModel]]]] = {
    "Tenancy": _tenancy,
    "Sanction": _sanction,
}


def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
    """Domain events → contract events; the subject of every one is the household."""
    qualname = type(domain_event).__qualname__
    aggregate, _, kind = qualname.partition(".")
    handler = _BY_AGGREGATE.get(aggregate)
    produced = handler(kind, domain_event) if handler is not None else _other(qualname, domain_event)
    out = []
    for name, payload in produced:
        household_id = getattr(payload, "household_id")  # noqa: B009 (every penalties payload has it)
        out.append(Outgoing(_spec(name), str(household_id), payload))
    return out
