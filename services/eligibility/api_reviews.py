"""Eligibility's HTTP API: review cases (findings, approval, send back, assessments, appeals and their
decision), the assessors' lists and the reviewers' reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from contracts.identifiers import OperatorId
from services.eligibility.api_bodies import (
    AppealDecisionIn,
    AppealIn,
    AssessmentReportIn,
    AssessmentRequestIn,
    CaseStatus,
    DecisionIn,
    FindingIn,
)
from services.eligibility.api_common import actor, case_of, plain, problems
from services.eligibility.api_requests import request_view
from services.eligibility.application import EligibilityApp
from services.eligibility.domain import ReviewCase
from services.eligibility.queries import reviewer_report
from services.kit.http import Problem
from services.kit.identity import Authenticated
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response, paginate, time_key


def case_view(app: EligibilityApp, case: ReviewCase) -> Any:
    """A case with its trail; a pending third-party assessment past its deadline is marked overdue,
    an appeal carries the day it is to be decided by (`decide_by`, overdue while undecided after it),
    and `escalations` lists what waits past its day (the supervisors' queue shows them)."""
    today = app.today()
    assessments = [
        {**a, "overdue": a["received_at"] is None and a["deadline"] < today} for a in case.assessments
    ]
    appeals = []
    for a in case.appeals:
        due = app.appeal_due(case, a)
        appeals.append({**a, "decide_by": due, "overdue": a.get("outcome") is None and due < today})
    escalations = app.escalations(case, today)
    return plain(
        {
            "case_id": case.id,
            "household_id": case.household_id,
            "review_id": case.review_id,
            "region": case.region,
            "estate": case.estate,
            "reason": case.reason,
            "status": case.status,
            "opened_at": case.opened_at,
            "proposal": case.proposal,
            "final_outcome": case.final_outcome,
            "final_proposal": case.final_proposal,
            "decided_at": case.decided_at,
            "assessments": assessments,
            "appeals": appeals,
            "record_requests": [
                request_view(app, app.population.requests[r])
                for r in app.population.requests_by_case.get(case.id, ())
            ],
            "escalated": bool(escalations),
            "escalations": escalations,
            "trail": case.steps,
        }
    )


def add_review_routes(api: APIRouter, app: EligibilityApp) -> None:
    """Cases and their steps, assessments, reviewers' reports."""

    @api.get("/cases", tags=["review"], summary="Review cases, optionally by status and estate, a page")
    def list_cases(
        request: Request,
        who: Authenticated,
        status: Annotated[
            list[CaseStatus] | None,
            Query(description="One or more (`?status=open&status=proposed`): cases in any of them"),
        ] = None,
        estate: str | None = None,
        escalated: Annotated[
            bool | None,
            Query(description="Only cases with an assessment or appeal past its day (or only without)"),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Oldest first (the review queue is the open states, `open`, `proposed`, `assessment`,
        `appealed`, in one walk); an estate-scoped caller lists its estates' cases only."""
        if estate is not None:
            who.check_estate(estate)
        app.population.catch_up()
        wanted = set(status or ())
        today = app.today()
        cases = (
            c
            for c in list(app.population.cases.values())
            if (not wanted or c.status in wanted)
            and (estate is None or c.estate == estate)
            and who.sees_estate(c.estate)
            and (escalated is None or bool(app.escalations(c, today)) == escalated)
        )
        page = paginate(cases, lambda c: time_key(c.opened_at, c.id), limit=limit, cursor=cursor)
        return page_response(request, page, lambda c: case_view(app, c))

    @api.get("/cases/{case_id}", tags=["review"], summary="A case with its accountability trail")
    def get_case(case_id: UUID, who: Authenticated) -> JSONResponse:
        case = case_of(app, case_id, who)
        app.population.catch_up()  # its record requests and their escalations are the read model's
        return JSONResponse(case_view(app, case))

    @api.post("/cases/{case_id}/findings", tags=["review"], summary="Reviewer: findings and proposed outcome")
    def findings(case_id: UUID, body: FindingIn, caller: Authenticated) -> JSONResponse:
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            case = app.record_finding(
                case_id,
                who,
                findings=body.findings,
                proposed_outcome=body.proposed_outcome,
                reason_code=body.reason_code,
                low_income=body.low_income,
                wants_to_buy=body.wants_to_buy,
            )
        return JSONResponse(case_view(app, case))

    @api.post("/cases/{case_id}/approval", tags=["review"], summary="Supervisor (not the reviewer): approve")
    def approve(case_id: UUID, body: DecisionIn, caller: Authenticated) -> JSONResponse:
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.approve(case_id, who, body.reason)))

    @api.post(
        "/cases/{case_id}/send-back", tags=["review"], summary="Supervisor (not the reviewer): send back"
    )
    def send_back(case_id: UUID, body: DecisionIn, caller: Authenticated) -> JSONResponse:
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.send_back(case_id, who, body.reason)))

    @api.post("/cases/{case_id}/assessment-requests", tags=["review"], summary="Ask a third-party assessor")
    def request_assessment(case_id: UUID, body: AssessmentRequestIn, caller: Authenticated) -> JSONResponse:
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            case = app.request_assessment(case_id, who, body.assessor_id, body.deadline, body.reason)
        return JSONResponse(case_view(app, case))

    @api.post("/cases/{case_id}/assessment-reports", tags=["review"], summary="The assessor's report")
    def assessment_report(case_id: UUID, body: AssessmentReportIn, caller: Authenticated) -> JSONResponse:
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            case = app.receive_assessment(case_id, who, body.report, body.recommendation)
        return JSONResponse(case_view(app, case))

    @api.post(
        "/cases/{case_id}/appeals", tags=["review"], summary="Appeal a final decision (within the window)"
    )
    def appeal(case_id: UUID, body: AppealIn, caller: Authenticated) -> JSONResponse:
        """By the household or an operator on its behalf, within `APPEAL_WINDOW_DAYS` of the decision
        by this service's clock; `reason` holds the grounds."""
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.lodge_appeal(case_id, who, body.reason)))

    @api.post(
        "/cases/{case_id}/appeal-decision",
        tags=["review"],
        summary="Supervisor: uphold or overturn the exit decision appealed against (four eyes)",
    )
    def appeal_decision(case_id: UUID, body: AppealDecisionIn, caller: Authenticated) -> JSONResponse:
        """Not by who approved the decision nor by who lodged the appeal: 403 naming the four-eyes
        rule. Overturned, the outcome becomes `retain` (`appeal-resolved`, `overturned: true`)."""
        case_of(app, case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.decide_appeal(case_id, who, body.decision, body.reason)))

    @api.get(
        "/assessments", tags=["review"], summary="Third-party assessments assigned to an assessor, a page"
    )
    def list_assessments(
        request: Request,
        who: Authenticated,
        assessor_id: Annotated[
            OperatorId | None,
            Query(description="Whose (reviewers and supervisors); an assessor lists only its own"),
        ] = None,
        state: Literal["pending", "reported", "all"] = "pending",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """An assessor's own assessments (`assessor_id` defaults to the caller; naming another is 403),
        each with its case's household, reference, estate, the question asked, deadline and whether it
        is overdue; oldest request first."""
        if who.role == "assessor":
            if assessor_id not in (None, who.subject):
                raise Problem(403, "Forbidden", "an assessor lists only the assessments assigned to it")
            assessor_id = who.subject
        elif who.role not in ("reviewer", "supervisor"):
            raise Problem(403, "Role not allowed", f"the role {who.role!r} is assigned no assessments")
        app.population.catch_up()
        today = app.today()
        found = [
            (case, index, a)
            for case in list(app.population.cases.values())
            if who.sees_estate(case.estate)
            for index, a in enumerate(case.assessments)
            if (assessor_id is None or a["assessor_id"] == assessor_id)
            and (state == "all" or (a["received_at"] is None) == (state == "pending"))
        ]

        def view(item: tuple[ReviewCase, int, dict[str, Any]]) -> Any:
            case, index, a = item
            household = app.population.households.get(case.household_id)
            pending = a["received_at"] is None
            return plain(
                {
                    "case_id": case.id,
                    "assessment": index,
                    "household_id": case.household_id,
                    "reference": household.reference if household is not None else None,
                    "estate": case.estate,
                    "building": household.building if household is not None else None,
                    "unit": household.unit if household is not None else None,
                    "case_status": case.status,
                    "case_reason": case.reason,
                    "question": a.get("reason", ""),
                    "assessor_id": a["assessor_id"],
                    "requested_by": a["requested_by"],
                    "requested_at": a["requested_at"],
                    "deadline": a["deadline"],
                    "overdue": pending and a["deadline"] < today,
                    "state": "pending" if pending else "reported",
                    "can_report": pending
                    and case.status == "assessment"
                    and index == len(case.assessments) - 1,
                    "recommendation": a["recommendation"],
                    "received_at": a["received_at"],
                }
            )

        page = paginate(
            found,
            lambda item: (*time_key(item[2]["requested_at"], item[0].id), item[1]),
            limit=limit,
            cursor=cursor,
        )
        return page_response(request, page, view)

    @api.get(
        "/reviewers/{operator_id}/report", tags=["review"], summary="Cases handled, overturned, time taken"
    )
    def report(operator_id: str) -> JSONResponse:
        """404 for an operator who has taken no step in any case (an unknown reviewer, or an id
        mistyped): zeros would read as a reviewer who handled nothing."""
        app.population.catch_up()
        cases = list(app.population.cases.values())
        if not any(step["actor"] == operator_id for case in cases for step in case.steps):
            raise Problem(404, "Unknown reviewer", f"no review step was taken by {operator_id}")
        return JSONResponse(plain(reviewer_report(cases, operator_id)))
