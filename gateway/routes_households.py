"""The operator API (`/api/...`): households: who you are, the list, the search, registration, one household
and its parts."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from gateway.auth import Caller
from gateway.bodies import (
    AnyHouseholdIn,
    Reference,
)
from gateway.paging import HouseholdSearchIn, paged
from gateway.route_parts import BATCH_BODY, Bulk, Ops
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit


def add_households_routes(api: APIRouter) -> None:
    """Households: who you are, the list, the search, registration, one household and its parts."""

    @api.get("/me", tags=["authentication"], summary="Who the token says you are, and your scopes")
    async def me(p: Caller) -> dict[str, Any]:
        return {
            "subject": p.subject,
            "role": p.role,
            "scopes": sorted(p.scopes),
            "estates": None if p.estates is None else sorted(p.estates),
            "department": p.department,
        }

    # -- households ---------------------------------------------------------------------------------

    @api.get(
        "/households", tags=["households"], summary="Households in your estates, a page (households:read)"
    )
    async def households(
        request: Request,
        p: Caller,
        ops: Ops,
        outcome: Literal["qualifies", "exit_triggered", "needs_manual", "none"] | None = None,
        estate: str | None = None,
        building: str | None = None,
        unit: str | None = None,
        reference: Reference | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Registration order; `next` (and the `Link` header) walks every household of your estates.
        `unit` with `estate` and `building` finds a flat's household, `reference` the registering
        office's number."""
        page = await ops.households(
            p,
            outcome=outcome,
            estate=estate,
            building=building,
            unit=unit,
            reference=reference,
            limit=limit,
            cursor=cursor,
        )
        return paged(request, page)

    async def search_households(
        request: Request,
        p: Caller,
        ops: Ops,
        body: HouseholdSearchIn,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """The number in the body, never a URL: access logs and traces keep URLs. The next page: the
        same body posted again with `?cursor=`. Not an `Idempotency-Key` route: a search changes
        nothing, and a kept fingerprint of its body would be one of an ID number."""
        page = await ops.search_households(p, body.id_number, limit, cursor)
        return paged(request, page, link=False)

    api.add_api_route(
        "/households/search",
        search_households,
        methods=["POST"],
        tags=["households"],
        summary="Households with a member of this ID number, in your estates, a page (households:read)",
        route_class_override=APIRoute,
    )

    @api.post(
        "/households",
        tags=["households"],
        status_code=201,
        summary="Register one household, in a unit or on a rent subsidy (households:write)",
        responses={200: {"description": "Its `reference` was registered before: that household."}},
    )
    async def register(p: Caller, intake: Bulk, body: AnyHouseholdIn) -> JSONResponse:
        status, answer = await intake.register(p, body.model_dump(mode="json", exclude_none=True))
        return JSONResponse(answer, status_code=status)

    @api.post(
        "/registrations",
        tags=["households"],
        summary="Register many households: a JSON array or NDJSON, thousands per request (households:write)",
        description=(
            "Each line is a `POST /api/households` body (in a unit, or on a rent subsidy). Answered per "
            "line as eligibility does: `registered`, `duplicate` (its `reference` was registered "
            "before: the household it created), or a problem naming the line and field. Paced by lines "
            "per second per client (429 with Retry-After)."
        ),
        openapi_extra=BATCH_BODY,
        responses={429: {"description": "over the client's lines per second (Retry-After)"}},
    )
    async def registrations(p: Caller, intake: Bulk, request: Request) -> Any:
        body = await request.body()
        return await intake.registrations(p, body, request.headers.get("content-type", "application/json"))

    @api.get("/households/{household_id}", tags=["households"], summary="A household (households:read)")
    async def household(p: Caller, ops: Ops, household_id: UUID) -> Any:
        return await ops.household(p, household_id)

    @api.get(
        "/households/{household_id}/timeline",
        tags=["households"],
        summary="Everything that happened to a household, across every service, oldest first",
    )
    async def timeline(p: Caller, ops: Ops, household_id: UUID) -> dict[str, Any]:
        return await ops.timeline(p, household_id)

    parts = {
        "ledger": ("penalties", "sanctions:read", "Rent ledger (penalties)"),
        "sanctions": ("penalties", "sanctions:read", "Sanctions (penalties)"),
        "notices": ("penalties", "sanctions:read", "Notices sent (penalties)"),
        "placement": ("resettlement", "placements:read", "Placement (resettlement)"),
        "training": ("training", "training:read", "Training and employment (training)"),
    }
    for part, (service, scope, summary) in parts.items():

        def route(part: str = part, service: str = service, scope: str = scope) -> Any:
            async def handler(p: Caller, ops: Ops, household_id: UUID) -> Any:
                return await ops.household_part(p, household_id, service, f"/{part}", scope)

            return handler

        api.add_api_route(
            f"/households/{{household_id}}/{part}",
            route(),
            methods=["GET"],
            tags=["households"],
            summary=f"{summary} ({scope})",
            name=f"household_{part}",
        )
