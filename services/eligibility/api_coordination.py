"""Eligibility's HTTP API: the coordination register (coordinating.py), the cross-department problems
the bureau takes to the departments' monthly joint meeting.

A problem is city-wide (a data conflict between two departments is not one estate's), so it carries no
estate and every bureau role reads every problem; the record requests it names are checked against the
caller's estates when it is raised, as reading them would be. Department systems, households and
assessors take no part in the register (403): the departments speak at the meeting, and the bureau's
operators record what was said.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts.base import Contract
from services.eligibility.api_common import actor, plain, problems
from services.eligibility.application import EligibilityApp
from services.eligibility.coordination import CoordinationProblem
from services.kit.http import Problem
from services.kit.identity import Authenticated, Caller
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response, paginate, time_key

ProblemState = Literal["open", "resolved", "all"]
OUTSIDERS = frozenset({"department", "household", "assessor", "registry"})
"""Roles that do not read the register: it is the bureau's record of the meetings."""


class ProblemIn(Contract):
    title: str = Field(min_length=1, max_length=200, description="The problem in a line.")
    description: str = Field(min_length=1, max_length=4000, description="What goes wrong, and since when.")
    kind: Literal["data_conflict", "no_answer", "other"]
    departments: list[str] = Field(
        min_length=1, max_length=7, description="The departments involved, e.g. `civil_affairs`."
    )
    record_requests: list[UUID] = Field(
        default_factory=list, max_length=100, description="Record requests that show the problem."
    )


class AssignmentIn(Contract):
    department: str = Field(description="The lead department: one of those involved.")
    owner: str = Field(min_length=1, max_length=128, description="The bureau's operator accountable for it.")


class DiscussionIn(Contract):
    note: str = Field(min_length=1, max_length=4000, description="What the joint meeting said or agreed.")
    meeting_on: date | None = Field(
        default=None, description="The day of the joint meeting; today when absent, never in the future."
    )


class ResolutionIn(Contract):
    resolution: str = Field(min_length=1, max_length=4000, description="How it was resolved.")


def problem_view(problem: CoordinationProblem) -> Any:
    return plain(
        {
            "problem_id": problem.id,
            "title": problem.title,
            "description": problem.description,
            "kind": problem.kind,
            "departments": list(problem.departments),
            "record_requests": list(problem.record_requests),
            "state": "open" if problem.is_open else "resolved",
            "raised_by": problem.raised_by,
            "raised_at": problem.raised_at,
            "raised_on": problem.raised_on,
            "lead": problem.lead,
            "owner": problem.owner,
            "assignments": [
                {"department": a.department, "owner": a.owner, "by": a.by, "at": a.at}
                for a in problem.assignments
            ],
            "discussions": [
                {"note": d.note, "meeting_on": d.meeting_on, "by": d.by, "at": d.at}
                for d in problem.discussions
            ],
            "meetings": list(problem.meetings),
            "resolution": problem.resolution,
            "resolved_by": problem.resolved_by,
            "resolved_at": problem.resolved_at,
            "resolved_on": problem.resolved_on,
            "days_to_solve": problem.days_to_resolve(),
        }
    )


def _reader(who: Caller) -> None:
    if who.role in OUTSIDERS or who.department is not None:
        raise Problem(
            403, "Role not allowed", f"the role {who.role!r} does not read the coordination register"
        )


def add_coordination_routes(api: APIRouter, app: EligibilityApp) -> None:
    """Raise, list, read, assign, discuss and resolve cross-department problems."""

    @api.post(
        "/coordination-problems",
        status_code=201,
        tags=["coordination"],
        summary="Supervisor: raise a cross-department problem for the joint meeting",
    )
    def raise_problem(body: ProblemIn, who: Authenticated) -> JSONResponse:
        acting = actor(who)
        with problems():
            for request_id in body.record_requests:
                who.check_estate(app.record_request(request_id).estate)
            problem = app.raise_problem(
                acting,
                title=body.title,
                description=body.description,
                kind=body.kind,
                departments=body.departments,
                record_requests=body.record_requests,
            )
        return JSONResponse(problem_view(problem), status_code=201)

    @api.get(
        "/coordination-problems",
        tags=["coordination"],
        summary="Cross-department problems, a page, oldest first",
    )
    def list_problems(
        request: Request,
        who: Authenticated,
        state: ProblemState = "open",
        department: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        _reader(who)
        with problems():
            found = app.coordination_problems(state=state, department=department)
        page = paginate(found, lambda p: time_key(p.raised_at, p.id), limit=limit, cursor=cursor)
        return page_response(request, page, problem_view)

    @api.get(
        "/coordination-problems/{problem_id}", tags=["coordination"], summary="One cross-department problem"
    )
    def get_problem(problem_id: UUID, who: Authenticated) -> JSONResponse:
        _reader(who)
        with problems():
            problem = app.coordination_problem(problem_id)
        return JSONResponse(problem_view(problem))

    @api.post(
        "/coordination-problems/{problem_id}/assignment",
        tags=["coordination"],
        summary="Supervisor: a lead department and an owner (again: hand it over)",
    )
    def assign(problem_id: UUID, body: AssignmentIn, who: Authenticated) -> JSONResponse:
        with problems():
            problem = app.assign_problem(actor(who), problem_id, department=body.department, owner=body.owner)
        return JSONResponse(problem_view(problem))

    @api.post(
        "/coordination-problems/{problem_id}/discussion",
        tags=["coordination"],
        summary="Reviewer or supervisor: what a joint meeting said about it (`meeting_on`: its day)",
    )
    def discuss(problem_id: UUID, body: DiscussionIn, who: Authenticated) -> JSONResponse:
        with problems():
            problem = app.discuss_problem(actor(who), problem_id, note=body.note, meeting_on=body.meeting_on)
        return JSONResponse(problem_view(problem))

    @api.post(
        "/coordination-problems/{problem_id}/resolution",
        tags=["coordination"],
        summary="Supervisor: resolved, with what was agreed (once)",
    )
    def resolve(problem_id: UUID, body: ResolutionIn, who: Authenticated) -> JSONResponse:
        with problems():
            problem = app.resolve_problem(actor(who), problem_id, resolution=body.resolution)
        return JSONResponse(problem_view(problem))
