"""The operator API (`/api/...`): penalties' commands: sanctions, their steps, exits, appeals, the overdue
check."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from gateway.auth import Caller
from gateway.bodies import (
    AppealIn,
    DatedIn,
    ResolveIn,
    SanctionIn,
    SanctionStepIn,
)
from gateway.route_parts import Ops, answered, sent


def add_penalties_routes(api: APIRouter) -> None:
    """Penalties' commands: sanctions, their steps, exits, appeals, the overdue check."""
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
