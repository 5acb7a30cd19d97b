"""The operator API (`/api/...`): department facts in (the bulk door), and monitoring's warnings and their
steps."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth import Caller
from gateway.bodies import (
    WarningStepIn,
)
from gateway.paging import WarningState, paged
from gateway.route_parts import BATCH_BODY, Bulk, Ops
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit


def add_intake_routes(api: APIRouter) -> None:
    """Department facts in (the bulk door), and monitoring's warnings and their steps."""
    # -- department intake --------------------------------------------------------------------------

    @api.post(
        "/facts",
        tags=["intake"],
        summary="Department facts (facts:write): only your department, only its kinds of facts",
        openapi_extra=BATCH_BODY,
    )
    async def facts(p: Caller, intake: Bulk, request: Request) -> Any:
        body = await request.body()
        return await intake.facts(p, body, request.headers.get("content-type", "application/json"))

    @api.post(
        "/credentials",
        tags=["intake"],
        summary="Door credentials of registered members, many at once (credentials:write)",
        description=(
            "Each line `{kind: card|face, credential_id, member_id}` (a JSON array or NDJSON, at most "
            "20,000 lines), enrolled in one transaction and answered per line: `enrolled`, `moved` (it "
            "was another member's) or `unchanged` (sent again), with the member's flat; a problem names "
            "the line (422 invalid, 404 unknown member, 403 a flat outside your estates). Only the "
            "credential's keyed digest is kept. Paced by lines per second per client (429 with "
            "Retry-After)."
        ),
        openapi_extra=BATCH_BODY,
        responses={429: {"description": "over the client's lines per second (Retry-After)"}},
    )
    async def credentials(p: Caller, intake: Bulk, request: Request) -> Any:
        body = await request.body()
        return await intake.credentials(p, body, request.headers.get("content-type", "application/json"))

    # -- monitoring ---------------------------------------------------------------------------------

    @api.get("/warnings", tags=["monitoring"], summary="Warnings in your estates, a page (warnings:read)")
    async def warnings(
        request: Request,
        p: Caller,
        ops: Ops,
        estate: str | None = None,
        state: WarningState | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """The open ones (raised, assigned, confirmed) unless `state` names one; riskiest first."""
        params = {"estate": estate, "state": state, "limit": limit, "cursor": cursor}
        return paged(request, await ops.listing(p, "monitoring", "/warnings", "warnings:read", params))

    @api.get("/warnings/{warning_id}", tags=["monitoring"], summary="A warning with its evidence")
    async def warning(p: Caller, ops: Ops, warning_id: UUID) -> Any:
        return await ops.item(p, "monitoring", f"/warnings/{warning_id}", "warnings:read")

    @api.post(
        "/warnings/{warning_id}/{step}",
        tags=["monitoring"],
        summary="assign | confirm | dismiss | rectify a warning, as yourself (warnings:write)",
    )
    async def warning_step(
        p: Caller,
        ops: Ops,
        warning_id: UUID,
        step: Literal["assign", "confirm", "dismiss", "rectify"],
        body: WarningStepIn,
    ) -> Any:
        return await ops.warning_step(p, warning_id, step, body.model_dump(mode="json", exclude_none=True))
