"""Eligibility's HTTP API: registering households (one, or a batch), listing, searching and showing
them, their timeline, changing their members."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.timeline import Timeline
from services.eligibility import identity
from services.eligibility.api_bodies import (
    HOUSEHOLD_IN,
    HouseholdIn,
    MembersIn,
    Reference,
    RentSubsidyHouseholdIn,
    SearchIn,
    TenancyHouseholdIn,
    born_by,
    registration,
)
from services.eligibility.api_common import inline_schema, line_errors, no_valid_line, plain, problems
from services.eligibility.application import (
    EligibilityApp,
    MemberInput,
    NotFound,
    Refused,
    RegistrationStatus,
)
from services.eligibility.domain import Household
from services.eligibility.timeline import household_timeline
from services.kit.dating import InvalidField
from services.kit.http import Problem
from services.kit.identity import Authenticated
from services.kit.lines import line_problem, parse_batch
from services.kit.paging import DEFAULT_LIMIT, Cursor, Key, Limit, page_response, paginate, time_key


def household_key(household: Household) -> Key:
    """Registration order: a household's key never changes, so a walk meets it once."""
    return time_key(household.created_on, household.id)


def household_row(household: Household) -> Any:
    """A household as a list shows it: where it lives and where its review stands."""
    return plain(
        {
            "household_id": household.id,
            "reference": household.reference,
            "region": household.region,
            "estate": household.estate,
            "building": household.building,
            "unit": household.unit,
            "outcome": household.outcome,
            "review_id": household.review_id,
            "open_case": household.open_case,
        }
    )


def household_view(household: Household) -> Any:
    """`estate` is None for a household on a rent subsidy, which the gateway then shows only to
    operators whose scope is the whole city (an estate-scoped operator sees only named estates)."""
    subsidy = household.rent_subsidy
    return plain(
        {
            "household_id": household.id,
            "reference": household.reference,
            "region": household.region,
            "housing": household.housing,
            "estate": household.estate,
            "building": household.building,
            "unit": household.unit,
            "base_rent": None if household.base_rent is None else f"{household.base_rent:.2f}",
            "tenancy_start": household.tenancy_start,
            "rent_subsidy": None
            if subsidy is None
            else {
                "monthly_subsidy": f"{subsidy.monthly_subsidy:.2f}",
                "start": subsidy.start,
                "district": subsidy.district,
            },
            "registered_by": household.registered_by,
            "occupancy": [dict(o.data) for o in getattr(household, "occupancy", ())],
            "members": [
                {
                    "member_id": m["member_id"],
                    "person_hash": m["person_hash"],
                    "id_number_masked": identity.mask(m["id_number"]),
                    "birth_date": m["birth_date"],
                    "disabled": m["disabled"],
                }
                for m in household.members
            ],
            "facts": {
                kind: {
                    scope: [
                        {
                            "value": o.value,
                            "department": o.source.department,
                            "reference": o.source.reference,
                            "described_on": o.source.described_on,
                        }
                        for o in observations
                    ]
                    for scope, observations in scopes.items()
                }
                for kind, scopes in household.facts.items()
            },
            "review_id": household.review_id,
            "decision": None if household.decision is None else household.decision.data,
            "open_case": household.open_case,
            "cross_region_check": household.check_id,
            "cross_region": household.cross_region,
            "cross_region_checked_at": household.checked_at,
            "cross_region_awaiting": sorted(set(household.check_cities) - set(household.check_answered)),
            "version": household.version,
        }
    )


def registered_line(
    number: int, reference: str | None, status: RegistrationStatus, household: Household
) -> dict[str, Any]:
    """A batch line's answer: enough to go on (members' ids by person hash) without asking again."""
    return {  # plain already: written out rather than through `plain` (one per line of a batch)
        "line": number,
        "status": status,
        "reference": reference,
        "household_id": str(household.id),
        "housing": household.housing,
        "members": [
            {
                "member_id": str(m["member_id"]),
                "person_hash": m["person_hash"],
                "birth_date": m["birth_date"].isoformat(),
            }
            for m in household.members
        ],
    }


def add_household_routes(api: APIRouter, app: EligibilityApp) -> None:
    """Registration (one, or a batch), the list, the search, a household and its timeline."""

    @api.post(
        "/households",
        status_code=201,
        tags=["households"],
        summary="Register a household: in a unit, or on a rent subsidy",
        responses={200: {"description": "The reference was registered before: that household."}},
    )
    def register(body: HouseholdIn, who: Authenticated) -> JSONResponse:
        """The caller (the assertion's subject) is recorded as the one who registered. A household on
        a rent subsidy has no estate: only city-wide callers register or see it."""
        who.check_estate(getattr(body, "estate", None))
        born_by(body.members, app.today())
        with problems():
            status, household = app.register(registration(body), registered_by=who.subject)
        return JSONResponse(household_view(household), status_code=201 if status == "registered" else 200)

    @api.post(
        "/registrations",
        tags=["households"],
        summary="Register many households: a JSON array or NDJSON, thousands per request",
        description=(
            "Each line is a `POST /households` body (in a unit, or on a rent subsidy). Valid lines are "
            "registered, a few dozen per transaction; a line whose `reference` was registered before is "
            "answered `duplicate` with that household; an invalid line gets a problem entry naming its "
            "line and field, and a refused one (an ID number already in another household) a 409 entry, "
            "without costing the others. 422 when no line is valid."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": inline_schema(HOUSEHOLD_IN.json_schema()),
                            "minItems": 1,
                        }
                    },
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def register_batch(request: Request, who: Authenticated) -> JSONResponse:
        body = await request.body()
        lines, not_json = parse_batch(
            body, request.headers.get("content-type", "application/json"), "Invalid registration"
        )
        if len(lines) + len(not_json) > app.config.intake_max_lines:
            raise Problem(413, "Too many households", f"at most {app.config.intake_max_lines} per request")
        today = app.today()
        valid: list[tuple[int, TenancyHouseholdIn | RentSubsidyHouseholdIn]] = []
        invalid: list[dict[str, Any]] = []
        for number, item in lines:
            try:
                household = HOUSEHOLD_IN.validate_python(item)
                born_by(household.members, today)
            except ValidationError as exc:
                invalid += line_errors(number, exc, "Invalid registration")
                continue
            except InvalidField as exc:
                invalid.append(line_problem(number, exc.field, str(exc), exc.title))
                continue
            if who.sees_estate(getattr(household, "estate", None)):
                valid.append((number, household))
            else:
                problem = line_problem(number, "estate", "outside the estates you are assigned", "Forbidden")
                invalid.append({**problem, "status": 403})
        if not valid:
            received = len(lines) + len(not_json)
            return no_valid_line(
                [*not_json, *invalid], "No valid registration", received, ("registered", "duplicates")
            )
        batch = [registration(b) for _, b in valid]
        answers = await run_in_threadpool(app.register_batch, batch, who.subject)
        results: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for (number, item), answer in zip(valid, answers, strict=True):
            if isinstance(answer, Refused):
                refused.append({**line_problem(number, "members", str(answer), "Refused"), "status": 409})
            else:
                results.append(registered_line(number, item.reference, *answer))
        entries = sorted([*not_json, *invalid, *refused], key=lambda p: p["line"])
        statuses = [r["status"] for r in results]
        return JSONResponse(
            {
                "received": len(lines) + len(not_json),
                "registered": statuses.count("registered"),
                "duplicates": statuses.count("duplicate"),
                "rejected": len({p["line"] for p in entries}),
                "results": results,
                "problems": entries,
            }
        )

    @api.get("/households", tags=["households"], summary="Households by latest automated decision, a page")
    def list_households(
        request: Request,
        who: Authenticated,
        outcome: Literal["qualifies", "exit_triggered", "needs_manual", "none"] | None = None,
        estate: str | None = None,
        building: str | None = None,
        unit: str | None = None,
        reference: Reference | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """The manual-review queue is `?outcome=needs_manual`; `none` lists households not yet decided.
        `unit` (with `estate` and `building` when known) finds a flat's household, `reference` the
        registering office's number. Registration order (`next` walks the whole city); an
        estate-scoped caller lists its estates' households only (another estate named: 403)."""
        if estate is not None:
            who.check_estate(estate)
        app.population.catch_up()
        found = (
            h
            for h in list(app.population.households.values())  # a snapshot: catch-up may add meanwhile
            if (outcome is None or (h.outcome or "none") == outcome)
            and (estate is None or h.estate == estate)
            and (building is None or h.building == building)
            and (unit is None or h.unit == unit)
            and (reference is None or h.reference == reference)
            and who.sees_estate(h.estate)
        )
        page = paginate(found, household_key, limit=limit, cursor=cursor)
        return page_response(request, page, household_row)

    @api.post(
        "/households/search",
        tags=["households"],
        summary="Households with a member of this ID number, a page (the number in the body, never a URL)",
    )
    def search_households(
        request: Request,
        body: SearchIn,
        who: Authenticated,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Found by the member's `person_hash` (the number is hashed here and goes no further: not in
        a URL, where access logs and traces would keep it, nor in a log); each household as `GET
        /households/{id}` shows it, ID numbers masked. An estate-scoped caller finds its estates'
        households only. The next page: the same body posted again with `?cursor=`."""
        hashed = identity.person_hash(body.id_number, app.config.person_hash_key)
        app.population.catch_up()
        found = (
            h
            for h in list(app.population.households.values())
            if h.member_of(hashed) is not None and who.sees_estate(h.estate)
        )
        page = paginate(found, household_key, limit=limit, cursor=cursor)
        return page_response(request, page, household_view, link=False)

    # `:uuid` in the path: `/households/search` (a POST) is not a household, so a GET there is no
    # route (405 naming POST only), not this route's 422
    @api.get(
        "/households/{household_id:uuid}", tags=["households"], summary="A household, its facts and decision"
    )
    def get_household(household_id: UUID, who: Authenticated) -> JSONResponse:
        with problems():
            household = app.household(household_id)
        who.check_estate(household.estate)
        return JSONResponse(household_view(household))

    @api.get(
        "/households/{household_id}/timeline",
        tags=["households"],
        summary="The household's steps in eligibility, oldest first",
        response_model=Timeline,
    )
    def get_timeline(household_id: UUID, who: Authenticated) -> Timeline:
        """Empty for a household not known here; an estate-scoped caller's household must be of its
        estates."""
        if who.estates is not None:
            with suppress(NotFound):
                who.check_estate(app.household(household_id).estate)
        app.population.catch_up()
        asked = [r.id for r in list(app.population.requests.values()) if r.household_id == household_id]
        return Timeline(household_id=household_id, entries=household_timeline(app, household_id, asked))


def add_member_routes(api: APIRouter, app: EligibilityApp) -> None:
    """Replacing a household's members."""

    @api.put("/households/{household_id}/members", tags=["households"], summary="Replace the members")
    def put_members(household_id: UUID, body: MembersIn, who: Authenticated) -> JSONResponse:
        born_by(body.members, app.today())
        with problems():
            who.check_estate(app.household(household_id).estate)
            household = app.change_members(
                household_id, [MemberInput(m.id_number, m.birth_date, m.disabled) for m in body.members]
            )
        return JSONResponse(household_view(household))
