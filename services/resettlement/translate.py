"""Domain events out as contract events, and as words on a household's timeline.

A case's domain events carry only what changed; the contract events also carry the household, its
estate, the pool and the unit. The translator reads them from the case as it was at that event's
version (a replay of a dozen events at most: resettlement's volume is a few hundred cases a year).

What never crosses this boundary: members' birth dates and disability flags (the classification's
reasons say what mattered, in words), unit-only events (out of service, vacated) which concern no
household.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.resettlement import (
    CaseClosed,
    CaseWithdrawn,
    GuidanceGiven,
    HouseholdClassified,
    LoanDiscountGranted,
    MovedIn,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    UnitOffered,
    Waitlisted,
)
from services.kit.codec import Outgoing
from services.kit.store import ServiceApplication
from services.kit.timeline import Step
from services.resettlement.domain import Household, PlacementCase, describe_priority

Translator = Callable[[DomainEventProtocol[UUID]], list[Outgoing]]

CLASS_WORDS = {
    "special_hardship": "special hardship: transitional housing first",
    "purchase": "able to buy: purchase guidance, affordable-for-sale priority, loan-rate discount",
    "market_rental": "market-rental guidance",
}


def _out(name: str, case: PlacementCase, payload: BaseModel) -> list[Outgoing]:
    spec = EVENTS_BY_TYPE.get((f"housing.resettlement.{name}", 1))
    return [] if spec is None else [Outgoing(spec, str(case.household_id), payload)]


def make_translator(app: ServiceApplication) -> Translator:
    def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
        e: object = domain_event
        if not isinstance(e, PlacementCase.Event):
            return []
        case: PlacementCase = app.repository.get(
            domain_event.originator_id, version=domain_event.originator_version
        )
        base: dict[str, Any] = {"household_id": case.household_id, "case_id": case.id, "estate": case.estate}
        if isinstance(e, PlacementCase.Classified | PlacementCase.Reclassified):
            return _out(
                "household-classified",
                case,
                HouseholdClassified(
                    **base,
                    placement_class=e.placement_class,  # type: ignore[arg-type]
                    reasons=[r[:2000] for r in e.reasons],
                    decided_on=e.decided_on,
                    classified_on=e.classified_on,
                ),
            )
        if isinstance(e, PlacementCase.GuidanceGiven):
            guidance = GuidanceGiven(**base, kind=e.kind, given_on=e.on)  # type: ignore[arg-type]
            return _out("guidance-given", case, guidance)
        if isinstance(e, PlacementCase.LoanDiscountGranted):
            loan = LoanDiscountGranted(**base, percentage_points=e.percentage_points, granted_on=e.on)
            return _out("loan-discount-granted", case, loan)
        if isinstance(e, PlacementCase.Waitlisted):
            waiting = Waitlisted(
                **base,
                pool=case.pool,  # type: ignore[arg-type]
                waitlisted_on=e.on,
                priority=describe_priority(e.priority),
            )
            return _out("waitlisted", case, waiting)
        if isinstance(e, PlacementCase.Offered):
            offered = UnitOffered(
                **base,
                pool=e.pool,  # type: ignore[arg-type]
                unit_id=e.unit_id,
                unit_estate=e.unit_estate,
                building=e.building,
                unit=e.unit,
                offered_on=e.on,
                respond_by=e.respond_by,
            )
            return _out("unit-offered", case, offered)
        if isinstance(e, PlacementCase.Withdrawn):
            withdrawn = CaseWithdrawn(
                **base, reason=e.reason[:2000], withdrawn_on=e.on, released_unit_id=e.released_unit_id
            )
            return _out("case-withdrawn", case, withdrawn)
        if isinstance(e, PlacementCase.Closed):
            return _out("case-closed", case, CaseClosed(**base, outcome=e.outcome, closed_on=e.on))
        if case.unit_id is None or case.pool is None:
            return []
        offer: dict[str, Any] = {**base, "pool": case.pool, "unit_id": case.unit_id}
        if isinstance(e, PlacementCase.Accepted):
            return _out("offer-accepted", case, OfferAccepted(**offer, accepted_on=e.on, recorded_by=e.by))
        if isinstance(e, PlacementCase.Declined):
            declined = OfferDeclined(**offer, declined_on=e.on, reason=e.reason[:2000], recorded_by=e.by)
            return _out("offer-declined", case, declined)
        if isinstance(e, PlacementCase.Expired):
            return _out("offer-expired", case, OfferExpired(**offer, expired_on=e.on))
        if isinstance(e, PlacementCase.MovedIn):
            return _out("moved-in", case, MovedIn(**offer, moved_in_on=e.on, recorded_by=e.by))
        return []

    return translate


def describe(domain_event: DomainEventProtocol[UUID]) -> Step | None:
    """A household's timeline in words (its own events and its case's)."""
    e: object = domain_event
    if isinstance(e, Household.Registered):
        return Step("Household known to resettlement (registered by eligibility)")
    if isinstance(e, Household.ExitCompleted):
        return Step(f"Subsidised flat handed back on {e.completed_on} ({e.how})")
    if isinstance(e, PlacementCase.Classified | PlacementCase.Reclassified):
        return Step(
            f"Classified for placement: {CLASS_WORDS.get(e.placement_class, e.placement_class)}",
            reason="; ".join(e.reasons)[:2000],
        )
    if isinstance(e, PlacementCase.GuidanceGiven):
        return Step(f"{'Purchase' if e.kind == 'purchase' else 'Market-rental'} guidance recorded")
    if isinstance(e, PlacementCase.LoanDiscountGranted):
        return Step(
            f"Housing provident fund loan-rate discount of {e.percentage_points} percentage points granted"
        )
    if isinstance(e, PlacementCase.Waitlisted):
        return Step("Waitlisted: no unit free in the pool", reason=describe_priority(e.priority))
    if isinstance(e, PlacementCase.Offered):
        return Step(
            f"Offered {e.pool} unit {e.unit_estate}/{e.building}/{e.unit}, to accept by {e.respond_by}"
        )
    if isinstance(e, PlacementCase.Accepted):
        return Step("Offer accepted: the unit is held", actor=e.by)
    if isinstance(e, PlacementCase.Declined):
        return Step("Offer declined: the unit is free again", actor=e.by, reason=e.reason[:2000])
    if isinstance(e, PlacementCase.Expired):
        return Step("Offer expired without an answer: the unit is free again")
    if isinstance(e, PlacementCase.MovedIn):
        recorded_on = getattr(e, "recorded_on", None)
        late = (
            ""
            if recorded_on is None
            else f" on {e.on.isoformat()} (recorded late on {recorded_on.isoformat()}: {e.late_reason or ''})"
        )
        return Step(f"Moved in (or purchase completed){late}", actor=e.by)
    if isinstance(e, PlacementCase.Closed):
        return Step(f"Placement case closed: {e.outcome}", actor=e.by)
    if isinstance(e, PlacementCase.Withdrawn):
        return Step("Placement case withdrawn", actor=e.by, reason=e.reason[:2000])
    return None
