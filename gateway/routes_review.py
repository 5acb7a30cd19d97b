"""The operator API (`/api/...`): review cases and their steps, assessments, reviewers' reports, parameters
and what-if."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from gateway.auth import Caller
from gateway.bodies import (
    REGION,
    AppealDecisionIn,
    AssessmentReportIn,
    AssessmentRequestIn,
    CaseAppealIn,
    DecisionIn,
    FindingIn,
    ParameterValueIn,
    PathName,
    WhatIfIn,
)
from gateway.paging import CaseStatuses, paged
from gateway.route_parts import Ops
from services.kit.http import IsoDate
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit


def add_review_routes(api: APIRouter) -> None:
    """Review cases and their steps, assessments, reviewers' reports, parameters and what-if."""
    # -- review -------------------------------------------------------------------------------------

    @api.get("/review-queue", tags=["review"], summary="Cases waiting for a reviewer or supervisor, a page")
    async def queue(
        request: Request,
        p: Caller,
        ops: Ops,
        estate: str | None = None,
        escalated: Annotated[
            bool | None,
            Query(description="Only escalations (an assessment or an appeal past its day), or none"),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """The open states (open, proposed, assessment, appealed), oldest first (cases:read). Each case
        says `escalated` and its `escalations` (an assessment past its deadline, an appeal undecided past
        `appeal_decision_days`)."""
        return paged(request, await ops.queue(p, estate, limit, cursor, escalated))

    @api.get("/cases", tags=["review"], summary="Review cases in your estates, a page (cases:read)")
    async def cases(
        request: Request,
        p: Caller,
        ops: Ops,
        status: CaseStatuses = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Oldest first; `status` repeated for cases in any of them."""
        return paged(request, await ops.cases(p, status, estate, limit, cursor))

    @api.get("/cases/{case_id}", tags=["review"], summary="A case with its explanation and trail")
    async def case(p: Caller, ops: Ops, case_id: UUID) -> Any:
        return await ops.case(p, case_id)

    @api.post("/cases/{case_id}/findings", tags=["review"], summary="Record findings (cases:review)")
    async def findings(p: Caller, ops: Ops, case_id: UUID, body: FindingIn) -> Any:
        return await ops.case_step(p, case_id, "findings", body.model_dump(mode="json"))

    @api.post(
        "/cases/{case_id}/approval", tags=["review"], summary="Approve, not your own proposal (cases:approve)"
    )
    async def approval(p: Caller, ops: Ops, case_id: UUID, body: DecisionIn) -> Any:
        return await ops.case_step(p, case_id, "approval", body.model_dump(mode="json"))

    @api.post("/cases/{case_id}/send-back", tags=["review"], summary="Send back (cases:approve)")
    async def send_back(p: Caller, ops: Ops, case_id: UUID, body: DecisionIn) -> Any:
        return await ops.case_step(p, case_id, "send-back", body.model_dump(mode="json"))

    @api.post(
        "/cases/{case_id}/assessment-requests",
        tags=["review"],
        summary="Ask a third-party assessor (cases:review)",
    )
    async def assessment(p: Caller, ops: Ops, case_id: UUID, body: AssessmentRequestIn) -> Any:
        return await ops.case_step(p, case_id, "assessment-requests", body.model_dump(mode="json"))

    @api.post(
        "/cases/{case_id}/appeals",
        tags=["review"],
        summary="Lodge the household's appeal against the case's final decision, within the window "
        "(cases:review)",
    )
    async def case_appeal(p: Caller, ops: Ops, case_id: UUID, body: CaseAppealIn) -> Any:
        return await ops.case_step(p, case_id, "appeals", body.model_dump(mode="json"))

    @api.post(
        "/cases/{case_id}/appeal-decision",
        tags=["review"],
        summary="Uphold or overturn the exit decision appealed against; not by who approved it or lodged "
        "the appeal (cases:approve)",
    )
    async def case_appeal_decision(p: Caller, ops: Ops, case_id: UUID, body: AppealDecisionIn) -> Any:
        return await ops.case_step(p, case_id, "appeal-decision", body.model_dump(mode="json"))

    @api.get(
        "/assessments",
        tags=["assessments"],
        summary="The assessments assigned to you, a page (assessments:read)",
    )
    async def assessments(
        request: Request,
        p: Caller,
        ops: Ops,
        state: Literal["pending", "reported", "all"] = "pending",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Oldest request first: each with its case and household (reference, estate), the question
        asked, the deadline and whether it is overdue."""
        return paged(request, await ops.assessments(p, state, limit, cursor))

    @api.post(
        "/cases/{case_id}/assessment-reports",
        tags=["assessments"],
        summary="File your report on an assessment assigned to you; the case returns to the reviewer "
        "(assessments:report)",
    )
    async def assessment_report(p: Caller, ops: Ops, case_id: UUID, body: AssessmentReportIn) -> Any:
        return await ops.assessment_report(p, case_id, body.model_dump(mode="json"))

    @api.get("/reviewers/{operator_id}/report", tags=["review"], summary="A reviewer's figures (cases:read)")
    async def reviewer_report(p: Caller, ops: Ops, operator_id: PathName) -> Any:
        return await ops.reviewer_report(p, operator_id)

    # -- parameters ---------------------------------------------------------------------------------

    @api.get("/parameters", tags=["parameters"], summary="Values in force (parameters:read)")
    async def parameters(
        p: Caller,
        ops: Ops,
        region: Annotated[str, Query(pattern=REGION)] = "CN-FS",
        on: IsoDate | None = None,
    ) -> Any:
        return await ops.parameters(p, region, None if on is None else on.isoformat())

    @api.get("/parameters/history", tags=["parameters"], summary="Every dated value (parameters:read)")
    async def history(p: Caller, ops: Ops, rule: str | None = None, region: str | None = None) -> Any:
        return await ops.parameter_history(p, rule, region)

    @api.post(
        "/parameters/{rule}/values",
        tags=["parameters"],
        status_code=201,
        summary="Add a value (parameters:write)",
    )
    async def add_value(p: Caller, ops: Ops, rule: PathName, body: ParameterValueIn) -> Any:
        return await ops.add_parameter_value(p, rule, body.model_dump(mode="json"))

    @api.post("/what-if", tags=["parameters"], summary="Who would flip under candidate values (no writes)")
    async def what_if(p: Caller, ops: Ops, body: WhatIfIn) -> Any:
        return await ops.what_if(p, body.model_dump(mode="json"))
