"""Resettlement's HTTP API: pools and units, placement cases and their steps, the expiry sweep, figures.

Every call carries the caller's service assertion (`services.kit.identity`, minted per call by the
gateway); who acts on a step (accept, decline, move in, close, withdraw, unit changes) is its verified
subject, recorded in the case's or unit's events. Every list item about a household carries
`household_id` and `estate` (the estate of the subsidised flat it leaves), so the gateway can filter
by an operator's estates; one case or one unit is read by its id (`GET /cases/{id}`, `GET /units/{id}`)
so that the gateway's check of a single object never fetches a whole city's list. The same estate rules
hold here from the assertion's claims: an estate-scoped caller reads and acts on cases of its estates'
households and on units of its estates only (403 otherwise; lists filtered), adds units only to its
estates, and does not run the city-wide sweeps (offers' expiry, allocation).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts.identifiers import Label, Text
from contracts.money import SquareMetres
from contracts.timeline import Timeline
from services.kit.dating import DateRefused
from services.kit.http import IsoDate, Problem, problem_doc
from services.kit.identity import Authenticated, Caller
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response
from services.kit.timeline import timeline
from services.resettlement.application import NotFound, Refused, ResettlementApp, UnitSpec
from services.resettlement.domain import CASE_STATES, UNIT_STATES, TransitionError
from services.resettlement.translate import describe

PoolName = Literal["transitional", "affordable"]


class UnitIn(BaseModel):
    estate: Label
    building: Label
    unit: Label
    area_m2: SquareMetres | None = None


class UnitsIn(BaseModel):
    units: list[UnitIn] = Field(min_length=1, max_length=5000)


class DeclineIn(BaseModel):
    reason: Text = ""


class ReasonIn(BaseModel):
    reason: Text = Field(min_length=1)


class UnitStepIn(BaseModel):
    reason: Text = ""


class MoveInIn(BaseModel):
    on: IsoDate | None = Field(
        default=None,
        description=(
            "The day the household moved in (or the purchase completed): today when omitted; earlier "
            "only with `reason_late`, at most `late_recording_days` back, never before the acceptance "
            "nor (transitional) the hand-back of the subsidised flat."
        ),
    )
    reason_late: Text | None = Field(
        default=None, description="Why the move-in is recorded after the day it happened."
    )


class UnitOut(BaseModel):
    """One pool unit; `estate` is the unit's own estate, `household_estate` that of the flat its
    household leaves (when offered, held or occupied)."""

    unit_id: UUID
    pool: PoolName
    estate: str
    building: str
    unit: str
    area_m2: str | None = Field(description="Decimal string, square metres.")
    state: str = Field(description=f"One of {', '.join(UNIT_STATES)}.")
    household_id: UUID | None
    household_estate: str | None
    case_id: UUID | None
    respond_by: date | None


class CaseOut(BaseModel):
    """One placement case; `estate` is that of the subsidised flat the household leaves."""

    case_id: UUID
    household_id: UUID
    estate: str
    placement_class: str
    reasons: list[str]
    pool: PoolName | None
    state: str = Field(description=f"One of {', '.join(CASE_STATES)}.")
    outcome: str | None
    route: str
    decided_on: date
    classified_on: date
    unit_id: UUID | None
    unit: str | None
    respond_by: date | None
    waitlisted_on: date | None
    priority: str | None
    offers_lost: int
    guidance: list[str]
    loan_discount_pp: str | None = Field(description="Decimal string, percentage points.")
    position: int | None = Field(default=None, description="Place on the pool's waitlist, when waiting.")


def router(app: ResettlementApp) -> APIRouter:
    api = APIRouter()

    async def step(call: Any) -> dict[str, str]:
        try:
            await run_in_threadpool(call)
        except NotFound as exc:
            raise Problem(404, "Not found", str(exc)) from None
        except (TransitionError, Refused) as exc:
            raise Problem(409, "Not allowed in this state", str(exc)) from None
        return {"status": "ok"}

    def case_in_scope(who: Caller, case_id: UUID) -> None:
        """403 when the case's household is outside an estate-scoped caller's estates (an unknown case
        is left to the step's own 404)."""
        found = app.view.case(case_id) if who.estates is not None else None
        if found is not None:
            who.check_estate(found.estate)

    def unit_in_scope(who: Caller, unit_id: UUID) -> None:
        found = app.view.unit(unit_id) if who.estates is not None else None
        if found is not None:
            who.check_estate(found.estate)

    # -- pools and units --------------------------------------------------------------------------

    @api.get("/pools", tags=["pools"], summary="Occupancy of each pool, per unit state")
    def pools() -> list[dict[str, Any]]:
        return app.pools()

    @api.get("/pools/{pool}/units", tags=["pools"], summary="A pool's units, optionally of one state, a page")
    def pool_units(
        request: Request,
        pool: PoolName,
        who: Authenticated,
        state: str | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """By estate, building and unit; an estate-scoped caller's estates only."""
        if state is not None and state not in UNIT_STATES:
            raise Problem(422, "Unknown state", f"one of {', '.join(UNIT_STATES)}")
        if estate is not None:
            who.check_estate(estate)
        return page_response(request, app.units_page(pool, state, estate, who.sees_estate, limit, cursor))

    @api.get(
        "/pools/{pool}/waitlist", tags=["pools"], summary="Cases waiting for the pool, in priority order"
    )
    def pool_waitlist(pool: PoolName, who: Authenticated) -> list[dict[str, Any]]:
        return who.visible(app.waitlist(pool))

    @api.post("/pools/{pool}/units", tags=["pools"], status_code=201, summary="Add units to a pool")
    async def add_units(pool: PoolName, body: UnitsIn, who: Authenticated) -> dict[str, int]:
        for unit in body.units:
            who.check_estate(unit.estate)
        specs = [UnitSpec(pool, u.estate, u.building, u.unit, u.area_m2) for u in body.units]
        added = await run_in_threadpool(app.add_units, specs)
        return {"added": added, "already_present": len(specs) - added}

    @api.get(
        "/units/{unit_id}",
        tags=["pools"],
        summary="One unit",
        response_model=UnitOut,
        responses={404: problem_doc("No unit has this id")},
    )
    def one_unit(unit_id: UUID, who: Authenticated) -> dict[str, Any]:
        found = app.view.unit(unit_id)
        if found is None:
            raise Problem(404, "Unknown unit", f"unit {unit_id} does not exist")
        who.check_estate(found.estate)
        with app.view.lock:
            return app.unit_view(found)

    @api.get("/units/{unit_id}/history", tags=["pools"], summary="Every event of a unit: its holders in turn")
    def unit_history(unit_id: UUID, who: Authenticated) -> list[dict[str, Any]]:
        unit_in_scope(who, unit_id)
        try:
            return app.unit_history(unit_id)
        except NotFound as exc:
            raise Problem(404, "Unknown unit", str(exc)) from None

    def unit_route(path: str, name: str, summary: str) -> None:
        @api.post(f"/units/{{unit_id}}/{path}", tags=["pools"], summary=summary, name=name)
        async def unit_step(
            unit_id: UUID, who: Authenticated, body: UnitStepIn | None = None
        ) -> dict[str, str]:
            unit_in_scope(who, unit_id)
            reason = body.reason if body is not None else ""
            return await step(lambda: app.unit_step(unit_id, name, who.subject, reason))

    unit_route("vacate", "vacate", "The occupant of a transitional unit left: the unit is free")
    unit_route("out-of-service", "out_of_service", "Take a free unit out of service (repairs)")
    unit_route("back-in-service", "back_in_service", "Put a unit back in service: it is free")

    # -- cases ------------------------------------------------------------------------------------

    @api.get("/cases", tags=["cases"], summary="Placement cases by state, pool or estate, a page")
    def cases(
        request: Request,
        who: Authenticated,
        state: str | None = None,
        pool: PoolName | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """In the order the cases were opened; an estate-scoped caller's estates only (`estate` is
        that of the flat the household leaves)."""
        if state is not None and state not in CASE_STATES:
            raise Problem(422, "Unknown state", f"one of {', '.join(CASE_STATES)}")
        if estate is not None:
            who.check_estate(estate)
        return page_response(request, app.cases_page(state, pool, estate, who.sees_estate, limit, cursor))

    @api.get(
        "/cases/{case_id}",
        tags=["cases"],
        summary="One placement case (with its waitlist position when waiting)",
        response_model=CaseOut,
        responses={404: problem_doc("No placement case has this id")},
    )
    def one_case(case_id: UUID, who: Authenticated) -> dict[str, Any]:
        found = app.view.case(case_id)
        if found is None:
            raise Problem(404, "Unknown case", f"placement case {case_id} does not exist")
        try:
            placement = app.placement(found.household_id)
        except NotFound as exc:
            raise Problem(404, "Unknown case", str(exc)) from None
        who.check_estate(placement.get("estate"))
        return placement

    @api.get("/households/{household_id}/placement", tags=["cases"], summary="A household's placement case")
    def placement(household_id: UUID, who: Authenticated) -> dict[str, Any]:
        try:
            found = app.placement(household_id)
        except NotFound as exc:
            raise Problem(404, "No placement", str(exc)) from None
        who.check_estate(found.get("estate"))
        return found

    @api.post("/cases/{case_id}/accept", tags=["cases"], summary="The household accepts the offered unit")
    async def accept(case_id: UUID, caller: Authenticated) -> dict[str, str]:
        case_in_scope(caller, case_id)
        who = caller.subject
        return await step(lambda: app.accept(case_id, who))

    @api.post("/cases/{case_id}/decline", tags=["cases"], summary="The household declines the offered unit")
    async def decline(case_id: UUID, body: DeclineIn, caller: Authenticated) -> dict[str, str]:
        case_in_scope(caller, case_id)
        who = caller.subject
        return await step(lambda: app.decline(case_id, who, body.reason))

    @api.post(
        "/cases/{case_id}/move-in",
        tags=["cases"],
        summary="Move in (transitional: once the subsidised flat is handed back), or complete the purchase",
    )
    async def move_in(case_id: UUID, caller: Authenticated, body: MoveInIn | None = None) -> dict[str, str]:
        case_in_scope(caller, case_id)
        who = caller.subject
        given = body or MoveInIn()
        return await step(lambda: app.move_in(case_id, who, given.on, given.reason_late))

    @api.post("/cases/{case_id}/close", tags=["cases"], summary="Close a moved-in or guided case")
    async def close(case_id: UUID, caller: Authenticated) -> dict[str, str]:
        case_in_scope(caller, case_id)
        who = caller.subject
        return await step(lambda: app.close_case(case_id, who))

    @api.post("/cases/{case_id}/withdraw", tags=["cases"], summary="Withdraw a case; its unit is freed")
    async def withdraw(case_id: UUID, body: ReasonIn, caller: Authenticated) -> dict[str, str]:
        case_in_scope(caller, case_id)
        who = caller.subject
        return await step(lambda: app.withdraw(case_id, who, body.reason))

    @api.post(
        "/offers/expire",
        tags=["cases"],
        summary="Expire offers whose last day is before today; units go to the waitlist",
    )
    async def expire(who: Authenticated, as_of: IsoDate | None = None) -> dict[str, Any]:
        """The sweep runs on the service's date: `as_of`, if sent, must be today (422 otherwise: a
        later day would expire offers before their deadline, an earlier one is not the sweep of
        today). Time moves by the clock of the process, never through this call."""
        who.city_wide("the offers' expiry")
        today = app.today()
        if as_of is not None and as_of != today:
            raise DateRefused(
                f"as_of {as_of.isoformat()}: the expiry sweep runs on today ({today.isoformat()}) only",
                "as_of",
            )
        expired = await run_in_threadpool(app.expire_offers)
        return {"expired": [str(case_id) for case_id in expired]}

    @api.post("/pools/allocate", tags=["pools"], summary="Offer free units to waiting cases now")
    async def allocate(who: Authenticated) -> dict[str, int]:
        who.city_wide("allocation")
        return {"offered": await run_in_threadpool(app.drain)}

    # -- household-wide reads -----------------------------------------------------------------------

    @api.get("/households/{household_id}/timeline", tags=["households"], response_model=Timeline)
    def household_timeline(household_id: UUID, who: Authenticated) -> Timeline:
        """Empty for a household resettlement has not heard of; refused outside the caller's estates."""
        if who.estates is not None:
            with suppress(NotFound):
                who.check_estate(app.placement(household_id).get("estate"))
        return Timeline(
            household_id=household_id,
            entries=timeline(app, app.aggregate_ids_of(household_id), describe),
        )

    @api.get(
        "/figures",
        tags=["figures"],
        summary="Counts for the bureau's dashboard",
        description=(
            "`units_by_pool_and_state` ({pool: {state: n}}), `units_free` ({pool: n}), `cases_by_state`, "
            "`cases_by_class`, `waitlisted`, `placements` (households moved in), "
            "`purchase_guidance_records`, `loan_discounts_granted`."
        ),
    )
    def figures() -> dict[str, Any]:
        return app.figures()

    return api
