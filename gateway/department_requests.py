"""Record requests at the front door (issue 22): a reviewer asks a department for a record from a case
(`POST /api/cases/{id}/record-requests`, cases:review); the department's system, with its own client
credentials, lists what it is asked (`GET /api/department-requests`, requests:answer) and answers with
facts or declines with a reason. The bureau's roles read every department's requests (cases:read).

What is checked here, before anything is forwarded: the caller is a department system for the
answering routes, its facts speak for its department and its kinds only (as on `POST /api/facts`),
and an answer's facts count against its lines-per-second budget. Eligibility checks the rest again
(a request addressed to another department is 403 there too).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gateway.auth import Caller
from gateway.intake import Intake
from gateway.operations import Operations, forbidden
from gateway.paging import paged
from gateway.roles import DEPARTMENT_KINDS, Principal
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, Page

RequestState = Literal["open", "overdue", "joint_meeting", "closed", "all"]


class RecordRequestIn(BaseModel):
    department: str = Field(description="The department asked, e.g. `finance`.")
    kind: str = Field(description="The kind of record: one of the facts that department reports.")
    members: list[UUID] | None = Field(default=None, description="Members it is about; all when absent.")
    why: Literal["missing", "stale", "conflict", "doubt"]
    rule: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=1000, description="What you ask, in words for the department.")
    warning_id: UUID | None = Field(
        default=None, description="A verification task for public security, from this occupancy warning."
    )


class AnswerIn(BaseModel):
    facts: list[dict[str, Any]] = Field(
        min_length=1, max_length=100, description="`housing.department.fact-reported` payloads."
    )


class InspectionIn(BaseModel):
    finding: Literal["sublet", "lend", "vacant", "lives_there"]
    note: str = Field(default="", max_length=2000, description="What the officer saw (no personal numbers).")


class DeclineIn(BaseModel):
    outcome: Literal["no_record", "cannot_verify"]
    reason: str = Field(min_length=1, max_length=1000)


class DepartmentRequests:
    """The department's side, and the bureau's view of it."""

    def __init__(self, ops: Operations, intake: Intake) -> None:
        self.ops, self.intake = ops, intake

    def _reader_scope(self, p: Principal) -> str:
        return "requests:answer" if p.department is not None else "cases:read"

    async def listing(
        self,
        p: Principal,
        state: str,
        department: str | None,
        case_id: UUID | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Any]:
        if p.department is not None and department not in (None, p.department):
            raise forbidden(f"you answer for {p.department}, not {department}")
        params = {"state": state, "department": p.department or department, "limit": limit, "cursor": cursor}
        if case_id is not None:
            params["case_id"] = str(case_id)
        scope = self._reader_scope(p)
        self.ops.require(p, scope)
        found = await self.ops.up.json("eligibility", "GET", "/record-requests", p, params=params)
        items = found.get("items", []) if isinstance(found, dict) else []
        if p.department is None:
            items = self.ops.visible(p, items)
        return Page(self.ops.shown(p, items), found.get("next") if isinstance(found, dict) else None)

    async def one(self, p: Principal, request_id: UUID) -> Any:
        self.ops.require(p, self._reader_scope(p))
        found = await self.ops.up.json("eligibility", "GET", f"/record-requests/{request_id}", p)
        if p.department is None:
            self.ops.check_object(p, found)
        return self.ops.shown(p, found)

    def _department(self, p: Principal) -> str:
        self.ops.require(p, "requests:answer")
        if p.department is None:
            raise forbidden("only the department asked answers a record request")
        return p.department

    async def answer(self, p: Principal, request_id: UUID, body: AnswerIn) -> Any:
        department = self._department(p)
        kinds = DEPARTMENT_KINDS.get(department, frozenset())
        refused = []
        for number, fact in enumerate(body.facts, start=1):
            inner = fact.get("fact")
            kind = inner.get("kind") if isinstance(inner, dict) else None
            if fact.get("department") != department:
                refused.append({"line": number, "detail": f"department must be {department}"})
            elif isinstance(kind, str) and kind not in kinds:
                refused.append({"line": number, "detail": f"{department} does not report {kind!r} facts"})
        if refused:
            raise forbidden("some facts speak for another department or kind of fact", lines=refused)
        self.intake.limits.take(p, len(body.facts))
        path = f"/record-requests/{request_id}/answer"
        return await self.ops.up.json("eligibility", "POST", path, p, json=body.model_dump(mode="json"))

    async def inspection(self, p: Principal, request_id: UUID, body: InspectionIn) -> Any:
        """Public security's finding on a verification task (eligibility refuses any other department)."""
        self._department(p)
        path = f"/record-requests/{request_id}/inspection"
        return await self.ops.up.json("eligibility", "POST", path, p, json=body.model_dump(mode="json"))

    async def decline(self, p: Principal, request_id: UUID, body: DeclineIn) -> Any:
        self._department(p)
        path = f"/record-requests/{request_id}/decline"
        return await self.ops.up.json("eligibility", "POST", path, p, json=body.model_dump(mode="json"))


def department_requests(request: Request) -> DepartmentRequests:
    found: DepartmentRequests = request.app.state.department_requests
    return found


Requests = Annotated[DepartmentRequests, Depends(department_requests)]


def add_department_request_routes(api: APIRouter) -> None:
    """The routes, on the operator API's router."""

    @api.post(
        "/cases/{case_id}/record-requests",
        status_code=201,
        tags=["record requests"],
        summary="Ask a department for a record about the case's household (cases:review)",
    )
    async def ask(p: Caller, requests: Requests, case_id: UUID, body: RecordRequestIn) -> Any:
        return await requests.ops.case_step(p, case_id, "record-requests", body.model_dump(mode="json"))

    @api.post(
        "/households/{household_id}/record-requests",
        status_code=201,
        tags=["record requests"],
        summary="Ask a department for a record about a household the automated review could not decide "
        "(cases:review)",
    )
    async def ask_about_household(
        p: Caller, requests: Requests, household_id: UUID, body: RecordRequestIn
    ) -> Any:
        path, sent = "/record-requests", body.model_dump(mode="json")
        forwarded = await requests.ops.household_command(
            p, household_id, "cases:review", "eligibility", path, sent
        )
        return forwarded.body

    @api.get(
        "/department-requests",
        tags=["record requests"],
        summary="Record requests, a page, oldest first: a department's own (requests:answer), or every "
        "department's (cases:read)",
    )
    async def listing(
        request: Request,
        p: Caller,
        requests: Requests,
        state: RequestState = "open",
        department: str | None = None,
        case_id: UUID | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Any:
        return paged(request, await requests.listing(p, state, department, case_id, limit, cursor))

    @api.get("/department-requests/{request_id}", tags=["record requests"], summary="One record request")
    async def one(p: Caller, requests: Requests, request_id: UUID) -> Any:
        return await requests.one(p, request_id)

    @api.post(
        "/department-requests/{request_id}/answer",
        tags=["record requests"],
        summary="Answer a request addressed to your department with facts (requests:answer); the household "
        "is decided again",
    )
    async def answer(p: Caller, requests: Requests, request_id: UUID, body: AnswerIn) -> Any:
        return await requests.answer(p, request_id, body)

    @api.post(
        "/department-requests/{request_id}/inspection",
        tags=["record requests"],
        summary="Public security: what it found verifying a household's actual residence for an occupancy "
        "warning (requests:answer); monitoring closes the warning with it",
    )
    async def inspection(p: Caller, requests: Requests, request_id: UUID, body: InspectionIn) -> Any:
        return await requests.inspection(p, request_id, body)

    @api.post(
        "/department-requests/{request_id}/decline",
        tags=["record requests"],
        summary="No record, or cannot verify, with a reason (requests:answer)",
    )
    async def decline(p: Caller, requests: Requests, request_id: UUID, body: DeclineIn) -> Any:
        return await requests.decline(p, request_id, body)
