"""The operator API (`/api/...`): one front for every service, each route with the scope it needs
(gateway/README.md) and the object-level checks of `gateway.operations`."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from gateway.auth import Caller
from gateway.bodies import (
    REGION,
    AnyHouseholdIn,
    AppealDecisionIn,
    AppealIn,
    AppealState,
    AssessmentReportIn,
    AssessmentRequestIn,
    AttendanceIn,
    AttributeIn,
    CaseAppealIn,
    CourseIn,
    DatedIn,
    DecisionIn,
    DeclineIn,
    EmploymentIn,
    EnrolIn,
    ExpireIn,
    FindingIn,
    MoveInIn,
    ParameterValueIn,
    PathName,
    Pool,
    ReasonIn,
    Reference,
    ReferIn,
    ReferralState,
    ResolveIn,
    SanctionIn,
    SanctionState,
    SanctionStepIn,
    StableIn,
    SweepOrderIn,
    TransitionState,
    UnitStepIn,
    WarningStepIn,
    WhatIfIn,
)
from gateway.coordination import add_coordination_routes
from gateway.department_requests import add_department_request_routes
from gateway.idempotency import IdempotentRoute
from gateway.intake import Intake
from gateway.operations import Forwarded, Operations
from gateway.paging import CaseStatuses, HouseholdSearchIn, WarningState, paged
from services.kit.http import IsoDate
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit


def operations(request: Request) -> Operations:
    ops: Operations = request.app.state.operations
    return ops


def answered(forwarded: Forwarded) -> JSONResponse:
    """A command's answer with its service's status (201 created, 200 already there)."""
    return JSONResponse(forwarded.body, status_code=forwarded.status)


def sent(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


Ops = Annotated[Operations, Depends(operations)]
Bulk = Annotated[Intake, Depends(intake_of)]

UNAUTH = {401: {"description": "no valid bearer token (problem+json, WWW-Authenticate)"}}
REFUSED = {
    **UNAUTH,
    403: {"description": "role lacks the scope, or the object is outside the caller's estates"},
    502: {"description": "the service behind is unreachable or failed"},
    504: {"description": "the service behind did not answer in time"},
}


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api", responses=REFUSED, route_class=IdempotentRoute)  # type: ignore[arg-type]

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
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
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

    # -- department intake --------------------------------------------------------------------------

    @api.post(
        "/facts",
        tags=["intake"],
        summary="Department facts (facts:write): only your department, only its kinds of facts",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def facts(p: Caller, intake: Bulk, request: Request) -> Any:
        body = await request.body()
        return await intake.facts(p, body, request.headers.get("content-type", "application/json"))

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

    # -- penalties: commands ----------------------------------------------------------------------

    @api.post(
        "/households/{household_id}/sanctions",
        tags=["penalties"],
        status_code=201,
        summary="Impose a sanction on a basis penalties has seen (sanctions:write); 200 if already imposed",
    )
    async def impose(p: Caller, ops: Ops, household_id: UUID, body: SanctionIn) -> Any:
        return answered(
            await ops.household_command(
                p, household_id, "sanctions:write", "penalties", "/sanctions", sent(body)
            )
        )

    for exit_step, exit_summary in (
        ("voluntary-exit", "The household applies to leave voluntarily (exits:write)"),
        ("keys-returned", "The household handed the flat back (exits:write)"),
    ):

        def exit_route(exit_step: str = exit_step) -> Any:
            async def handler(p: Caller, ops: Ops, household_id: UUID, body: DatedIn) -> Any:
                return answered(
                    await ops.household_command(
                        p, household_id, "exits:write", "penalties", f"/{exit_step}", sent(body)
                    )
                )

            return handler

        api.add_api_route(
            f"/households/{{household_id}}/{exit_step}",
            exit_route(),
            methods=["POST"],
            tags=["penalties"],
            summary=exit_summary,
            name=f"household_{exit_step.replace('-', '_')}",
        )

    # annotations name module-level models: FastAPI resolves them in this module's namespace
    # Irreversible steps need four eyes: an officer proposes (sanctions:write), a supervisor other than
    # the proposer carries it out (sanctions:execute); penalties refuses the same person (409).
    sanction_steps = {
        "serve-notice": ("sanctions:write", "Serve a repossession order's notice (sanctions:write)"),
        "propose-execution": (
            "sanctions:write",
            "Propose carrying out a served repossession whose deadline has passed (sanctions:write)",
        ),
        "execute": (
            "sanctions:execute",
            "Carry out a repossession another officer proposed, after its deadline (sanctions:execute)",
        ),
        "enter": (
            "sanctions:execute",
            "Enter a credit-list entry another officer proposed (sanctions:execute)",
        ),
        "lift": (
            "sanctions:write",
            "End a sanction from now on: the violation was put right (sanctions:write)",
        ),
        "withdraw": (
            "sanctions:write",
            "Withdraw a sanction from its start, with a reason (sanctions:write)",
        ),
    }
    for sanction_step, (step_scope, step_summary) in sanction_steps.items():

        def sanction_route(sanction_step: str = sanction_step, scope: str = step_scope) -> Any:
            async def dated(p: Caller, ops: Ops, sanction_id: UUID, body: DatedIn) -> Any:
                return answered(await ops.sanction_command(p, sanction_id, scope, sanction_step, sent(body)))

            async def reasoned(p: Caller, ops: Ops, sanction_id: UUID, body: SanctionStepIn) -> Any:
                return answered(await ops.sanction_command(p, sanction_id, scope, sanction_step, sent(body)))

            async def bare(p: Caller, ops: Ops, sanction_id: UUID) -> Any:
                return answered(await ops.sanction_command(p, sanction_id, scope, sanction_step, None))

            if sanction_step in ("propose-execution", "enter"):
                return bare
            return reasoned if sanction_step in ("lift", "withdraw") else dated

        api.add_api_route(
            f"/sanctions/{{sanction_id}}/{sanction_step}",
            sanction_route(),
            methods=["POST"],
            tags=["penalties"],
            summary=step_summary,
            name=f"sanction_{sanction_step.replace('-', '_')}",
        )

    @api.post(
        "/sanctions/{sanction_id}/appeals",
        tags=["penalties"],
        status_code=201,
        summary="Lodge the household's appeal against a sanction, within the window (appeals:lodge)",
    )
    async def lodge(p: Caller, ops: Ops, sanction_id: UUID, body: AppealIn) -> Any:
        return answered(await ops.sanction_command(p, sanction_id, "appeals:lodge", "appeals", sent(body)))

    @api.post(
        "/appeals/{appeal_id}/resolve",
        tags=["penalties"],
        summary="Uphold or dismiss an appeal, not on a sanction you imposed (appeals:decide)",
    )
    async def resolve(p: Caller, ops: Ops, appeal_id: UUID, body: ResolveIn) -> Any:
        return answered(await ops.resolve_appeal(p, appeal_id, sent(body)))

    @api.post(
        "/transitions/overdue-check",
        tags=["penalties"],
        summary="Sanction plans overdue before today, the service's day: it takes no date (sanctions:write; "
        "not for an estate-scoped account)",
    )
    async def overdue_check(p: Caller, ops: Ops) -> Any:
        return answered(await ops.sweep(p, "sanctions:write", "penalties", "/transitions/overdue-check"))

    # -- resettlement: commands -------------------------------------------------------------------

    case_steps = {
        "accept": "The household accepts the offered unit (placements:write)",
        "decline": "The household declines the offered unit (placements:write)",
        "move-in": "Move in, or complete the purchase (placements:write)",
        "close": "Close a moved-in or guided case (placements:write)",
        "withdraw": "Withdraw a case, with a reason; its unit is freed (placements:write)",
    }
    for case_step_name, case_summary in case_steps.items():

        def case_route(step: str = case_step_name) -> Any:
            async def bare(p: Caller, ops: Ops, case_id: UUID) -> Any:
                return answered(await ops.placement_command(p, case_id, step, None))

            async def declined(p: Caller, ops: Ops, case_id: UUID, body: DeclineIn) -> Any:
                return answered(await ops.placement_command(p, case_id, step, sent(body)))

            async def reasoned(p: Caller, ops: Ops, case_id: UUID, body: ReasonIn) -> Any:
                return answered(await ops.placement_command(p, case_id, step, sent(body)))

            async def moved(p: Caller, ops: Ops, case_id: UUID, body: MoveInIn | None = None) -> Any:
                given = None if body is None else sent(body) or None
                return answered(await ops.placement_command(p, case_id, step, given))

            return {"decline": declined, "withdraw": reasoned, "move-in": moved}.get(step, bare)

        api.add_api_route(
            f"/resettlement-cases/{{case_id}}/{case_step_name}",
            case_route(),
            methods=["POST"],
            tags=["resettlement"],
            summary=case_summary,
            name=f"resettlement_case_{case_step_name.replace('-', '_')}",
        )

    @api.post(
        "/resettlement-cases/expire",
        tags=["resettlement"],
        summary="Expire offers past their last day (placements:write; not for an estate-scoped account)",
    )
    async def expire(p: Caller, ops: Ops, body: ExpireIn) -> Any:
        as_of = None if body.as_of is None else body.as_of.isoformat()
        return answered(
            await ops.sweep(p, "placements:write", "resettlement", "/offers/expire", params={"as_of": as_of})
        )

    for unit_step, unit_summary in (
        ("out-of-service", "Take a free unit out of service (placements:write)"),
        ("back-in-service", "Put a unit back in service (placements:write)"),
    ):

        def unit_route(unit_step: str = unit_step) -> Any:
            async def handler(p: Caller, ops: Ops, unit_id: UUID, body: UnitStepIn) -> Any:
                return answered(await ops.unit_command(p, unit_id, unit_step, sent(body)))

            return handler

        api.add_api_route(
            f"/units/{{unit_id}}/{unit_step}",
            unit_route(),
            methods=["POST"],
            tags=["resettlement"],
            summary=unit_summary,
            name=f"unit_{unit_step.replace('-', '_')}",
        )

    # -- training: commands -----------------------------------------------------------------------

    @api.post("/courses", tags=["training"], status_code=201, summary="Schedule a course (training:write)")
    async def add_course(p: Caller, ops: Ops, body: CourseIn) -> Any:
        return answered(await ops.add_course(p, sent(body)))

    @api.post(
        "/referrals",
        tags=["training"],
        status_code=201,
        summary="Refer a member of a household (training:write); 200 if already referred",
    )
    async def refer(p: Caller, ops: Ops, body: ReferIn) -> Any:
        return answered(await ops.refer(p, sent(body)))

    @api.post(
        "/courses/{course_id}/enrolments",
        tags=["training"],
        status_code=201,
        summary="Enrol a referred member: a seat, or the waiting list (training:write)",
    )
    async def enrol(p: Caller, ops: Ops, course_id: UUID, body: EnrolIn) -> Any:
        path = f"/courses/{course_id}/enrolments"
        return answered(await ops.referral_command(p, body.referral_id, path, sent(body)))

    @api.post(
        "/courses/{course_id}/sessions/{session}/attendance",
        tags=["training"],
        summary="A session was held: who attended (training:write)",
    )
    async def attendance(
        p: Caller,
        ops: Ops,
        course_id: UUID,
        session: Annotated[int, Path(ge=1, le=500)],
        body: AttendanceIn,
    ) -> Any:
        return answered(await ops.attendance(p, course_id, session, sent(body)))

    @api.post(
        "/courses/{course_id}/completions",
        tags=["training"],
        summary="The course ends for a trainee: completed if attendance meets the rule (training:write)",
    )
    async def completion(p: Caller, ops: Ops, course_id: UUID, body: EnrolIn) -> Any:
        path = f"/courses/{course_id}/completions"
        return answered(await ops.referral_command(p, body.referral_id, path, sent(body)))

    @api.post(
        "/referrals/{referral_id}/employment",
        tags=["training"],
        status_code=201,
        summary="A trainee's new job, verified by you (training:write)",
    )
    async def employment(p: Caller, ops: Ops, referral_id: UUID, body: EmploymentIn) -> Any:
        path = f"/referrals/{referral_id}/employment"
        return answered(await ops.referral_command(p, referral_id, path, sent(body)))

    @api.post(
        "/referrals/{referral_id}/employment/stable",
        tags=["training"],
        summary="The trainee still works there: stable once the months are reached (training:write)",
    )
    async def stable(p: Caller, ops: Ops, referral_id: UUID, body: StableIn) -> Any:
        path = f"/referrals/{referral_id}/employment/stable"
        return answered(await ops.referral_command(p, referral_id, path, sent(body)))

    @api.post(
        "/employment-evidence/{evidence_id}/attribute",
        tags=["training"],
        summary="Attribute an unmatched employment fact to a trainee (training:write)",
    )
    async def attribute(p: Caller, ops: Ops, evidence_id: UUID, body: AttributeIn) -> Any:
        return answered(await ops.attribute_employment(p, evidence_id, body.referral_id))

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

    add_department_request_routes(api)
    add_coordination_routes(api)
    return api
