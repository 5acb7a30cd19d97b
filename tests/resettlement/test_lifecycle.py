"""Each lifecycle, on SQLite and PostgreSQL: special hardship (transitional unit, move-in only after the
flat is handed back), able to buy (guidance, loan discount, affordable unit sold), market rental
(guidance, closed at hand-back), the waitlist in priority order with declines, expiry and withdrawal
passing the unit on, offers exhausted, units out of service and vacated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.eligibility import AppealResolved
from contracts.penalties import ExitCompleted
from services.kit.uow import UnitOfWork
from services.resettlement.application import Refused, ResettlementApp
from services.resettlement.domain import PlacementCase, TransitionError
from tests.resettlement.support import Clock, decision, registration, small_pool


def feed(app: ResettlementApp, handler: Callable[[UnitOfWork, Any], object], payload: Any) -> None:
    """What the inbox does with one message: the handler in a unit of work, then one commit."""
    uow = UnitOfWork(app)
    handler(uow, payload)
    uow.commit(None)


def exit_completed(household_id: UUID, on: date = date(2026, 11, 27)) -> ExitCompleted:
    return ExitCompleted(
        household_id=household_id,
        estate="Chancheng Garden",
        building="3",
        unit="1204",
        completed_on=on,
        how="keys_returned",
        recorded_by="officer-li",
    )


def appeal(household_id: UUID, outcome: str, overturned: bool) -> AppealResolved:
    return AppealResolved(
        household_id=household_id,
        case_id=uuid4(),
        outcome=outcome,  # type: ignore[arg-type]
        overturned=overturned,
        resolved_on=date(2026, 11, 27),
    )


def history(app: ResettlementApp, unit_id: str | None) -> list[str]:
    assert unit_id is not None
    return [entry["type"] for entry in app.unit_history(UUID(unit_id))]


def test_special_hardship_moves_in_only_after_handing_the_flat_back(resettlement: ResettlementApp) -> None:
    app = resettlement
    app.add_units(small_pool("transitional", 2))
    household = uuid4()
    feed(app, app.on_household_registered, registration(household, date(1960, 1, 1), date(1990, 6, 1)))
    feed(app, app.on_exit_decided, decision(household))

    placed = app.placement(household)
    assert placed["placement_class"] == "special_hardship" and placed["estate"] == "Chancheng Garden"
    assert "member aged 60 or more on 2026-11-02: yes (1 of 2)" in placed["reasons"]
    assert placed["state"] == "offered" and placed["pool"] == "transitional"
    assert placed["respond_by"] == (app.today() + timedelta(days=14)).isoformat()
    case_id = UUID(placed["case_id"])

    app.accept(case_id, "officer-chen")
    assert app.placement(household)["state"] == "accepted"
    assert {u["state"] for u in app.units("transitional") if u["unit_id"] == placed["unit_id"]} == {"held"}
    with pytest.raises(Refused):
        app.move_in(case_id, "officer-chen")  # still in the subsidised flat

    feed(app, app.on_exit_completed, exit_completed(household))
    app.move_in(case_id, "officer-chen")
    assert app.placement(household)["state"] == "moved_in"
    app.close_case(case_id, "officer-chen")
    closed = app.placement(household)
    assert (closed["state"], closed["outcome"]) == ("closed", "placed")
    assert history(app, placed["unit_id"]) == ["Added", "Offered", "Held", "MovedIn"]
    assert app.figures()["placements"] == 1
    assert app.pools()[0]["states"] == {
        "free": 1,
        "offered": 0,
        "held": 0,
        "occupied": 1,
        "sold": 0,
        "out_of_service": 0,
    }


def test_able_to_buy_gets_guidance_a_loan_discount_and_an_affordable_unit(
    resettlement: ResettlementApp,
) -> None:
    app = resettlement
    app.add_units(small_pool("affordable", 1))
    buyer, second = uuid4(), uuid4()
    feed(app, app.on_household_registered, registration(buyer, date(1980, 1, 1)))
    feed(app, app.on_exit_decided, decision(buyer, wants_to_buy=True))
    placed = app.placement(buyer)
    assert placed["placement_class"] == "purchase" and placed["pool"] == "affordable"
    assert placed["guidance"] == ["purchase"] and placed["loan_discount_pp"] == "0.50"
    assert placed["state"] == "offered"

    feed(app, app.on_exit_decided, decision(second, wants_to_buy=True))
    assert app.placement(second)["state"] == "waitlisted" and app.placement(second)["position"] == 1

    case_id = UUID(placed["case_id"])
    app.accept(case_id, "officer-chen")
    app.move_in(case_id, "officer-chen")  # a purchase needs no hand-back first
    app.close_case(case_id, "officer-chen")
    assert history(app, placed["unit_id"]) == ["Added", "Offered", "Held", "MovedIn"]
    assert app.pools()[1]["states"]["sold"] == 1
    figures = app.figures()
    assert figures["purchase_guidance_records"] == 2 and figures["loan_discounts_granted"] == 2
    assert figures["cases_by_state"] == {"closed": 1, "waitlisted": 1}


def test_others_get_market_rental_guidance_closed_at_hand_back(resettlement: ResettlementApp) -> None:
    app = resettlement
    household, already_left = uuid4(), uuid4()
    feed(app, app.on_household_registered, registration(household, date(1985, 1, 1)))
    feed(app, app.on_exit_decided, decision(household))
    guided = app.placement(household)
    assert (guided["placement_class"], guided["state"], guided["pool"]) == ("market_rental", "guided", None)
    assert guided["guidance"] == ["market_rental"]
    feed(app, app.on_exit_completed, exit_completed(household))
    assert (app.placement(household)["state"], app.placement(household)["outcome"]) == ("closed", "guided")

    feed(app, app.on_exit_completed, exit_completed(already_left))  # the hand-back came first
    feed(app, app.on_exit_decided, decision(already_left))
    assert app.placement(already_left)["state"] == "closed"


def test_the_waitlist_is_served_in_priority_order_as_units_free_up(
    resettlement: ResettlementApp, clock: Clock
) -> None:
    app = resettlement
    app.add_units(small_pool("transitional", 1))
    first, later, elderly, earlier = uuid4(), uuid4(), uuid4(), uuid4()
    feed(app, app.on_exit_decided, decision(first, low_income=True))
    feed(app, app.on_exit_decided, decision(later, low_income=True, decided_on=date(2026, 11, 10)))
    feed(app, app.on_household_registered, registration(elderly, date(1950, 3, 1)))
    feed(app, app.on_exit_decided, decision(elderly, decided_on=date(2026, 11, 20)))
    feed(app, app.on_exit_decided, decision(earlier, low_income=True, decided_on=date(2026, 10, 1)))
    assert app.placement(first)["state"] == "offered"

    def queue() -> list[str]:
        return [w["household_id"] for w in app.waitlist("transitional")]

    # Elderly or disabled first, then low income, then the earlier decision.
    assert queue() == [str(elderly), str(earlier), str(later)]

    # A decline passes the unit to the head of the queue; the decliner rejoins behind those who
    # have declined nothing.
    app.decline(UUID(app.placement(first)["case_id"]), "officer-chen", "too far from school")
    assert app.placement(elderly)["state"] == "offered"
    assert queue() == [str(earlier), str(later), str(first)]

    # An offer left unanswered expires the day after its last day, and the unit moves on.
    respond_by = date.fromisoformat(app.placement(elderly)["respond_by"])
    clock.advance(days=(respond_by - app.today()).days)
    assert app.today() == respond_by and app.expire_offers() == []
    clock.advance(days=1)
    expired = app.expire_offers()
    assert expired == [PlacementCase.create_id(elderly)]
    assert app.placement(earlier)["state"] == "offered"
    assert queue() == [str(later), str(elderly), str(first)]  # fewer lost offers first

    # An appeal that overturns the exit withdraws the case; the unit goes to the next in line.
    feed(app, app.on_appeal_resolved, appeal(earlier, "retain", overturned=False))
    feed(app, app.on_appeal_resolved, appeal(earlier, "transition", overturned=True))
    assert app.placement(earlier)["state"] == "offered"
    feed(app, app.on_appeal_resolved, appeal(earlier, "retain", overturned=True))
    assert app.placement(earlier)["state"] == "withdrawn"
    assert app.placement(later)["state"] == "offered"
    unit_id = app.placement(later)["unit_id"]
    assert history(app, unit_id) == [
        "Added",
        "Offered",
        "Released",
        "Offered",
        "Released",
        "Offered",
        "Released",
        "Offered",
    ]
    holders = [e.get("household_id") for e in app.unit_history(UUID(unit_id)) if e["type"] == "Offered"]
    assert holders == [str(first), str(elderly), str(earlier), str(later)]

    # A new exit decision reopens a withdrawn case.
    feed(app, app.on_exit_decided, decision(earlier, low_income=True))
    assert app.placement(earlier)["state"] == "waitlisted"


def test_a_case_that_loses_its_offers_is_closed_with_rental_guidance(resettlement: ResettlementApp) -> None:
    app = resettlement
    app.add_units(small_pool("transitional", 2))
    household = uuid4()
    feed(app, app.on_exit_decided, decision(household, low_income=True))
    case_id = UUID(app.placement(household)["case_id"])
    first_unit = app.placement(household)["unit_id"]
    app.decline(case_id, "officer-chen", "")
    second_unit = app.placement(household)["unit_id"]
    assert app.placement(household)["state"] == "offered" and second_unit != first_unit
    app.decline(case_id, "officer-chen", "")
    closed = app.placement(household)
    assert (closed["state"], closed["outcome"], closed["offers_lost"]) == ("closed", "offers_exhausted", 2)
    assert closed["guidance"] == ["market_rental"]
    assert app.pools()[0]["states"]["free"] == 2
    with pytest.raises(TransitionError):
        app.accept(case_id, "officer-chen")


def test_units_out_of_service_and_vacated_go_to_the_waitlist(
    resettlement: ResettlementApp, clock: Clock
) -> None:
    app = resettlement
    app.add_units(small_pool("transitional", 1))
    (unit,) = app.units("transitional")
    unit_id = UUID(unit["unit_id"])
    app.unit_step(unit_id, "out_of_service", "officer-wu", "water damage")
    occupant, waiting = uuid4(), uuid4()
    feed(app, app.on_exit_decided, decision(occupant, low_income=True))
    assert app.placement(occupant)["state"] == "waitlisted"
    app.unit_step(unit_id, "back_in_service", "officer-wu")
    assert app.placement(occupant)["state"] == "offered"

    feed(app, app.on_exit_decided, decision(waiting, low_income=True))
    case_id = UUID(app.placement(occupant)["case_id"])
    app.accept(case_id, "officer-chen")
    feed(app, app.on_exit_completed, exit_completed(occupant))
    app.move_in(case_id, "officer-chen")
    with pytest.raises(TransitionError):
        app.unit_step(unit_id, "out_of_service", "officer-wu", "occupied")
    app.unit_step(unit_id, "vacate", "officer-wu")  # the occupant found a home
    assert app.placement(waiting)["state"] == "offered"
    assert history(app, str(unit_id)) == [
        "Added",
        "OutOfService",
        "BackInService",
        "Offered",
        "Held",
        "MovedIn",
        "Vacated",
        "Offered",
    ]
    # Late acceptance is refused (the sweep will expire it).
    clock.now += timedelta(days=30)
    with pytest.raises(TransitionError):
        app.accept(UUID(app.placement(waiting)["case_id"]), "officer-chen")
    assert app.sweep()["expired"] == 1
