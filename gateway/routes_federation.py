"""The operator API (`/api/...`): the federation log, cross-region checks and sweeps, and the bureau's
figures."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth import Caller
from gateway.bodies import (
    SweepOrderIn,
)
from gateway.paging import paged
from gateway.route_parts import Ops, answered, sent
from services.kit.paging import Cursor, Limit


def add_federation_routes(api: APIRouter) -> None:
    """The federation log, cross-region checks and sweeps, and the bureau's figures."""
    # -- federation -------------------------------------------------------------------------------

    @api.get(
        "/federation/exchanges",
        tags=["federation"],
        summary="Cross-region exchanges, a page (federation:read)",
    )
    async def exchanges(
        request: Request, p: Caller, ops: Ops, limit: Limit = 50, cursor: Cursor = None
    ) -> JSONResponse:
        """Newest first."""
        return paged(request, await ops.federation_exchanges(p, limit, cursor))

    @api.get("/federation/checks/{check_id}", tags=["federation"], summary="A cross-region check")
    async def check(p: Caller, ops: Ops, check_id: UUID) -> Any:
        return await ops.federation_check(p, check_id)

    # -- cross-region checks (eligibility's sweep) ------------------------------------------------

    @api.post(
        "/cross-region/sweeps",
        tags=["cross-region"],
        status_code=202,
        summary=(
            "Order a cross-region check of every household of a region and/or estate (cross-region:order; "
            "an estate-scoped account: one of its estates)"
        ),
    )
    async def order_sweep(p: Caller, ops: Ops, body: SweepOrderIn) -> Any:
        """Recorded, then asked by eligibility's periodic sweep at the peers' pace: `requested` is how
        many households the order covers."""
        return answered(await ops.order_cross_region_sweep(p, sent(body)))

    @api.get(
        "/cross-region/status",
        tags=["cross-region"],
        summary="How far the cross-region checks are: counts over the whole city (figures:read)",
    )
    async def cross_region_status(p: Caller, ops: Ops) -> Any:
        return await ops.cross_region_status(p)

    # -- the bureau's figures -------------------------------------------------------------------

    @api.get(
        "/figures", tags=["figures"], summary="The dashboard's figures from every service (figures:read)"
    )
    async def figures(p: Caller, ops: Ops) -> dict[str, Any]:
        return await ops.figures(p)
