"""The coordination register at the front door (issue 22): the cross-department problems the bureau
takes to the departments' monthly joint meeting, kept by eligibility (`/coordination-problems`).

Scopes, checked here before anything is forwarded: reading needs `cases:read`; raising, assigning
and resolving `cases:approve` (a supervisor speaks for the bureau at the meeting); adding a meeting's
note `cases:review`. Eligibility checks the roles again from the assertion. A problem is city-wide and
carries no estate, so the lists are not filtered by estate here; the record requests a problem names
are checked against the caller's estates by eligibility when it is raised.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gateway.auth import Caller
from gateway.operations import Operations
from gateway.paging import paged
from gateway.roles import Principal
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, Page

ProblemState = Literal["open", "resolved", "all"]


class ProblemIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    kind: Literal["data_conflict", "no_answer", "other"]
    departments: list[str] = Field(min_length=1, max_length=7, description="e.g. `civil_affairs`, `tax`")
    record_requests: list[UUID] = Field(default_factory=list, max_length=100)


class AssignmentIn(BaseModel):
    department: str = Field(description="The lead department: one of those involved.")
    owner: str = Field(min_length=1, max_length=128, description="The operator accountable for it.")


class DiscussionIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000)
    meeting_on: date | None = Field(default=None, description="The joint meeting's day; today when absent.")


class ResolutionIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=4000)


STEP_SCOPES = {"assignment": "cases:approve", "discussion": "cases:review", "resolution": "cases:approve"}


async def listing(
    ops: Operations, p: Principal, state: str, department: str | None, limit: int, cursor: str | None
) -> Page[Any]:
    ops.require(p, "cases:read")
    params = {"state": state, "department": department, "limit": limit, "cursor": cursor}
    found = await ops.up.json("eligibility", "GET", "/coordination-problems", p, params=params)
    items = found.get("items", []) if isinstance(found, dict) else []
    return Page(ops.shown(p, items), found.get("next") if isinstance(found, dict) else None)


async def raise_problem(ops: Operations, p: Principal, body: ProblemIn) -> Any:
    ops.require(p, "cases:approve")
    sent = body.model_dump(mode="json")
    return await ops.up.json("eligibility", "POST", "/coordination-problems", p, json=sent)


async def take_step(ops: Operations, p: Principal, problem_id: UUID, step: str, body: BaseModel) -> Any:
    ops.require(p, STEP_SCOPES[step])
    path = f"/coordination-problems/{problem_id}/{step}"
    return await ops.up.json("eligibility", "POST", path, p, json=body.model_dump(mode="json"))


def _operations(request: Request) -> Operations:
    found: Operations = request.app.state.operations
    return found


Ops = Annotated[Operations, Depends(_operations)]


def add_coordination_routes(api: APIRouter) -> None:
    """The routes, on the operator API's router."""

    @api.post(
        "/coordination-problems",
        status_code=201,
        tags=["coordination"],
        summary="Raise a cross-department problem for the joint meeting (cases:approve)",
    )
    async def raise_one(p: Caller, ops: Ops, body: ProblemIn) -> Any:
        return await raise_problem(ops, p, body)

    @api.get(
        "/coordination-problems",
        tags=["coordination"],
        summary="Cross-department problems, a page, oldest first (cases:read)",
    )
    async def list_problems(
        request: Request,
        p: Caller,
        ops: Ops,
        state: ProblemState = "open",
        department: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Any:
        return paged(request, await listing(ops, p, state, department, limit, cursor))

    @api.get(
        "/coordination-problems/{problem_id}",
        tags=["coordination"],
        summary="One cross-department problem, with its meetings' notes (cases:read)",
    )
    async def one(p: Caller, ops: Ops, problem_id: UUID) -> Any:
        ops.require(p, "cases:read")
        found = await ops.up.json("eligibility", "GET", f"/coordination-problems/{problem_id}", p)
        return ops.shown(p, found)

    @api.post(
        "/coordination-problems/{problem_id}/assignment",
        tags=["coordination"],
        summary="A lead department and an owner; again: hand it over (cases:approve)",
    )
    async def assign(p: Caller, ops: Ops, problem_id: UUID, body: AssignmentIn) -> Any:
        return await take_step(ops, p, problem_id, "assignment", body)

    @api.post(
        "/coordination-problems/{problem_id}/discussion",
        tags=["coordination"],
        summary="What a joint meeting said about it, dated with the meeting's day (cases:review)",
    )
    async def discuss(p: Caller, ops: Ops, problem_id: UUID, body: DiscussionIn) -> Any:
        return await take_step(ops, p, problem_id, "discussion", body)

    @api.post(
        "/coordination-problems/{problem_id}/resolution",
        tags=["coordination"],
        summary="Resolved, with what was agreed; once (cases:approve)",
    )
    async def resolve(p: Caller, ops: Ops, problem_id: UUID, body: ResolutionIn) -> Any:
        return await take_step(ops, p, problem_id, "resolution", body)
