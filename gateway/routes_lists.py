"""The operator API (`/api/...`): the lists of penalties, resettlement and training, pools and courses."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth import Caller
from gateway.bodies import (
    AppealState,
    Pool,
    ReferralState,
    SanctionState,
    TransitionState,
)
from gateway.paging import paged
from gateway.route_parts import Ops
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit


def add_lists_routes(api: APIRouter) -> None:
    """The lists of penalties, resettlement and training, pools and courses."""
    # -- penalties, resettlement, training ------------------------------------------------------

    lists = {
        "/sanctions": ("penalties", "/sanctions", "sanctions:read", "Sanctions by state"),
        "/transitions": ("penalties", "/transitions", "sanctions:read", "Transitions by state"),
        "/appeals": ("penalties", "/appeals", "sanctions:read", "Appeals against sanctions by state"),
        "/resettlement-cases": ("resettlement", "/cases", "placements:read", "Resettlement cases by state"),
        "/referrals": ("training", "/referrals", "training:read", "Training referrals by state"),
    }
    states: dict[str, Any] = {
        "/sanctions": SanctionState,
        "/transitions": TransitionState,
        "/appeals": AppealState,
        "/resettlement-cases": str,  # resettlement takes any state (and finds none for an unknown one)
        "/referrals": ReferralState,
    }
    for path, (service, upstream_path, scope, summary) in lists.items():

        def listing(
            service: str = service,
            upstream_path: str = upstream_path,
            scope: str = scope,
            kind: Any = states[path],
        ) -> Any:
            async def handler(
                request: Request,
                p: Caller,
                ops: Ops,
                state: str | None = None,
                estate: str | None = None,
                limit: Limit = DEFAULT_LIMIT,
                cursor: Cursor = None,
            ) -> JSONResponse:
                params = {"state": state, "estate": estate, "limit": limit, "cursor": cursor}
                return paged(request, await ops.listing(p, service, upstream_path, scope, params))

            # Each list takes the states its service knows (so the document says what the service
            # accepts): the annotation is set per route, as a closure's type cannot be written in it.
            handler.__annotations__["state"] = kind | None
            return handler

        api.add_api_route(
            path,
            listing(),
            methods=["GET"],
            tags=[service],
            summary=f"{summary}, in your estates, a page ({scope})",
            name=path.strip("/").replace("-", "_"),
        )

    @api.get("/pools", tags=["resettlement"], summary="Resettlement pools and occupancy (placements:read)")
    async def pools(p: Caller, ops: Ops) -> Any:
        return await ops.pools(p)

    @api.get(
        "/pools/{pool}/units",
        tags=["resettlement"],
        summary="Units of a pool, those in your estates (placements:read)",
    )
    async def pool_units(
        request: Request,
        p: Caller,
        ops: Ops,
        pool: Pool,
        state: str | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """By estate, building and unit, a page."""
        params = {"state": state, "estate": estate, "limit": limit, "cursor": cursor}
        page = await ops.listing(p, "resettlement", f"/pools/{pool}/units", "placements:read", params)
        return paged(request, page)

    @api.get("/courses", tags=["training"], summary="Courses (training:read)")
    async def courses(p: Caller, ops: Ops) -> Any:
        return await ops.reference(p, "training", "/courses", "training:read")

    @api.get("/courses/{course_id}", tags=["training"], summary="A course (training:read)")
    async def course(p: Caller, ops: Ops, course_id: UUID) -> Any:
        return await ops.reference(p, "training", f"/courses/{course_id}", "training:read")
