"""Eligibility's HTTP API: record requests to departments (asking.py). A reviewer asks from a case; a
department system lists the requests addressed to it and answers or declines them.

What a department sees of a request is what it needs to find the record: the kind, the household's id
and the persons by hash, the dates, the reviewer's note; not the case, its reasons or who asked.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts.base import Contract
from contracts.identifiers import Text
from services.eligibility.api_common import actor, case_of, plain, problems
from services.eligibility.api_facts import validate_lines
from services.eligibility.application import EligibilityApp
from services.eligibility.record_request import RecordRequest
from services.kit.http import Problem
from services.kit.identity import Authenticated, Caller
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response, paginate, time_key

RequestState = Literal["open", "overdue", "joint_meeting", "closed", "all"]


class RecordRequestIn(Contract):
    department: str = Field(description="The department asked, e.g. `finance`.")
    kind: str = Field(description="The kind of record, one of the facts that department reports.")
    members: list[UUID] | None = Field(
        default=None, description="The members the record is about (member ids); all when absent."
    )
    why: Literal["missing", "stale", "conflict", "doubt"] = Field(
        description="A rule found the record missing, stale or in conflict, or the reviewer doubts it."
    )
    rule: str | None = Field(default=None, max_length=64, description="The rule that could not decide.")
    note: str = Field(default="", max_length=1000, description="What the reviewer asks, for the department.")
    warning_id: UUID | None = Field(
        default=None,
        description="A verification task: public security verifies the household's actual residence for "
        "this occupancy warning (department `public_security`, kind `registration`).",
    )


class AnswerIn(Contract):
    facts: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=100,
        description="`housing.department.fact-reported` payloads: each checked as a line of `POST /facts`, "
        'an invalid one named in `problems` (422 "Invalid fact").',
    )


class InspectionIn(Contract):
    finding: Literal["sublet", "lend", "vacant", "lives_there"]
    note: Text = ""


class DeclineIn(Contract):
    outcome: Literal["no_record", "cannot_verify"]
    reason: str = Field(min_length=1, max_length=1000)


def request_view(app: EligibilityApp, request: RecordRequest, *, department_view: bool = False) -> Any:
    """A request as the bureau reads it, or (`department_view`) as the department asked does."""
    escalation = app.request_escalation(request, app.today())
    view: dict[str, Any] = {
        "request_id": request.id,
        "department": request.department,
        "kind": request.kind,
        "household_id": request.household_id,
        "persons": list(request.persons),
        "note": request.note,
        "asked_on": request.asked_on,
        "due_on": request.due_on,
        "state": request.outcome or "open",
        "overdue": escalation is not None,
        "references": list(request.references),
        "reason": request.reason,
        "answered_on": request.answered_on,
        "warning_id": request.warning_id,
        "finding": request.finding,
    }
    if not department_view:
        view |= {
            "case_id": request.case_id,
            "region": request.region,
            "estate": request.estate,
            "why": request.why,
            "rule": request.rule,
            "asked_by": request.asked_by,
            "asked_at": request.asked_at,
            "answered_by": request.answered_by,
            "answered_at": request.answered_at,
            "escalation": escalation,
        }
    return plain(view)


def _department(who: Caller) -> str | None:
    """The caller's department, when it is a department system (403 for one that names none)."""
    if who.department is None and who.role == "department":
        raise Problem(403, "Forbidden", "a department system's assertion must name its department")
    return who.department


def _readable(app: EligibilityApp, request_id: UUID, who: Caller) -> RecordRequest:
    with problems():
        request = app.record_request(request_id)
    department = _department(who)
    if department is not None and request.department != department:
        raise Problem(403, "Not addressed to you", f"this request is addressed to {request.department}")
    if department is None:
        who.check_estate(request.estate)
    return request


def add_request_routes(api: APIRouter, app: EligibilityApp) -> None:
    """Ask (from a case), list, read, answer and decline record requests."""

    def asked(who: Caller, body: RecordRequestIn, **where: UUID) -> JSONResponse:
        with problems():
            request = app.ask_department(
                actor(who),
                **where,
                department=body.department,
                kind=body.kind,
                member_ids=body.members,
                why=body.why,
                rule=body.rule,
                note=body.note,
                warning_id=body.warning_id,
            )
        return JSONResponse(request_view(app, request), status_code=201)

    @api.post(
        "/cases/{case_id}/record-requests",
        status_code=201,
        tags=["record requests"],
        summary="Reviewer: ask a department for a record about the case's household",
    )
    def ask(case_id: UUID, body: RecordRequestIn, who: Authenticated) -> JSONResponse:
        case_of(app, case_id, who)
        return asked(who, body, case_id=case_id)

    @api.post(
        "/households/{household_id}/record-requests",
        status_code=201,
        tags=["record requests"],
        summary="Reviewer: ask a department for a record about a household the automated review could "
        "not decide (it has no case)",
    )
    def ask_about_household(household_id: UUID, body: RecordRequestIn, who: Authenticated) -> JSONResponse:
        with problems():
            household = app.household(household_id)
        who.check_estate(household.estate)
        return asked(who, body, household_id=household_id)

    @api.get("/record-requests", tags=["record requests"], summary="Record requests, a page, oldest first")
    def list_requests(
        request: Request,
        who: Authenticated,
        department: str | None = None,
        case_id: UUID | None = None,
        household_id: UUID | None = None,
        state: RequestState = "open",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """A department system sees only the requests addressed to it (403 for another department's);
        the bureau's roles see every department's, in their estates."""
        own = _department(who)
        if own is not None and department not in (None, own):
            raise Problem(403, "Not addressed to you", f"you answer for {own}, not {department}")
        found = app.record_requests(
            department=own or department, case_id=case_id, household_id=household_id, state=state
        )
        if own is None:
            found = [r for r in found if who.sees_estate(r.estate)]
        page = paginate(found, lambda r: time_key(r.asked_at, r.id), limit=limit, cursor=cursor)
        return page_response(request, page, lambda r: request_view(app, r, department_view=own is not None))

    @api.get("/record-requests/{request_id}", tags=["record requests"], summary="One record request")
    def get_request(request_id: UUID, who: Authenticated) -> JSONResponse:
        request = _readable(app, request_id, who)
        return JSONResponse(request_view(app, request, department_view=who.department is not None))

    @api.post(
        "/record-requests/{request_id}/answer",
        tags=["record requests"],
        summary="Department: answer a request with facts (recorded on the household, which is decided again)",
    )
    async def answer(request_id: UUID, body: AnswerIn, who: Authenticated) -> JSONResponse:
        department = _department(who)
        if department is None:
            raise Problem(403, "Forbidden", "only the department asked answers a record request")
        valid, invalid = validate_lines(list(enumerate(body.facts, start=1)), app.today())
        if invalid:
            said = "; ".join(f"fact {p['line']}: {p['detail']}" for p in invalid[:10])
            raise Problem(422, "Invalid fact", said, problems=invalid)
        reports = [report for _, report in valid]
        with problems():
            request, statuses = await run_in_threadpool(
                app.answer_request, request_id, department, who.subject, reports
            )
        view = request_view(app, request, department_view=True)
        facts = [{"reference": f.reference, "status": s} for f, s in zip(reports, statuses, strict=True)]
        return JSONResponse({**view, "facts": facts})

    @api.post(
        "/record-requests/{request_id}/inspection",
        tags=["record requests"],
        summary="Public security: what it found verifying a household's actual residence (a verification "
        "task from an occupancy warning); monitoring closes the warning with it",
    )
    def inspection(request_id: UUID, body: InspectionIn, who: Authenticated) -> JSONResponse:
        department = _department(who)
        if department is None:
            raise Problem(403, "Forbidden", "only the department asked answers a record request")
        with problems():
            request = app.inspect_request(request_id, department, who.subject, body.finding, body.note)
        return JSONResponse(request_view(app, request, department_view=True))

    @api.post(
        "/record-requests/{request_id}/decline",
        tags=["record requests"],
        summary="Department: no record, or cannot verify, with a reason",
    )
    def decline(request_id: UUID, body: DeclineIn, who: Authenticated) -> JSONResponse:
        department = _department(who)
        if department is None:
            raise Problem(403, "Forbidden", "only the department asked answers a record request")
        with problems():
            request = app.decline_request(request_id, department, who.subject, body.outcome, body.reason)
        return JSONResponse(request_view(app, request, department_view=True))
