"""The operator API (`/api/...`): resettlement's and training's commands: offers, units, courses, referrals,
employment."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path

from gateway.auth import Caller
from gateway.bodies import (
    AttendanceIn,
    AttributeIn,
    CourseIn,
    DeclineIn,
    EmploymentIn,
    EnrolIn,
    ExpireIn,
    MoveInIn,
    ReasonIn,
    ReferIn,
    StableIn,
    UnitStepIn,
)
from gateway.route_parts import Ops, answered, sent


def add_casework_routes(api: APIRouter) -> None:
    """Resettlement's and training's commands: offers, units, courses, referrals, employment."""
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
