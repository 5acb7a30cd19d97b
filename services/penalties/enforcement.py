"""Enforcement: a repossession's steps (notice, proposal, execution: four eyes) and the overdue check
that turns a plan whose exit date passed into an overstaying violation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from services.kit.uow import UnitOfWork
from services.penalties.domain import CONFIRMERS, VIOLATION_WORDS, RoleRefused, appeal_words
from services.penalties.sanctions import Sanctions


class Enforcement(Sanctions):
    def serve_repossession(
        self, sanction_id: UUID, by: str, *, on: date | None = None, reason_late: str | None = None
    ) -> dict[str, Any]:
        """The notice's deadline counts from the day it is recorded: a late recording never shortens
        the household's notice period."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy, day, recorded_on, late = self._step_day(uow, sanction, on, reason_late)
            deadline = recorded_on + timedelta(
                days=self.policy(tenancy, recorded_on).repossession_notice_days
            )
            sanction.serve_notice(day, deadline, by, recorded_on, late)
            self.issue_notice(
                uow,
                tenancy,
                "repossession_notice",
                sanction.id,
                recorded_on,
                "Notice of repossession",
                f"you must hand the flat and its keys back by {deadline.isoformat()}. After that date the "
                "housing bureau takes the flat back.",
                f"the repossession order of {sanction.imposed_on.isoformat()} for "
                f"{VIOLATION_WORDS[sanction.violation]}.",
                [],
                deadline,
                sanction.appeal_until,
                appeal_words(sanction.appeal_until, "the repossession cannot be carried out"),
            )
            return self.sanction_dict(sanction)

        return self.run(command)

    def propose_execution(self, sanction_id: UUID, by: str, *, role: str) -> dict[str, Any]:
        """The first pair of eyes on a repossession: today, once the notice's deadline has passed."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            sanction.propose_execution(self.today(), by, role)
            return self.sanction_dict(sanction)

        return self.run(command)

    def execute_repossession(
        self,
        sanction_id: UUID,
        by: str,
        *,
        role: str,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> dict[str, Any]:
        """A supervisor other than the proposer carries the order out; before the deadline (by the
        service's day) it is refused whatever `on` says, and `on` cannot lie on or before it."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            if role not in CONFIRMERS:  # 403 before any state or date is looked at
                raise RoleRefused(f"a {role} cannot execute a repossession; a supervisor can")
            today = self.today()
            deadline = sanction.deadline
            if deadline is None or today <= deadline or sanction.state != "notice_served":
                sanction.execute(today, by, role, today)  # refuses with the rule that applies
            assert deadline is not None
            step = self.dated(
                tenancy, on, reason_late, deadline + timedelta(days=1), "the day after the notice's deadline"
            )
            late = step.reason or ""
            sanction.execute(step.on, by, role, today, step.recorded_on, late)
            self._complete_exit(uow, tenancy, step.on, "repossessed", by, step.recorded_on, late)
            return self.sanction_dict(sanction)

        return self.run(command)

    # -- overstaying -----------------------------------------------------------------------------------

    def overdue_check(self) -> list[UUID]:
        """Plans whose exit date passed before today (the service's day: no caller names it) become an
        `overstaying` violation with a surcharge."""
        today = self.today()
        self.catch_up()
        with self.lock:
            due = [
                h for h, plan in self.transitions.items() if plan["state"] == "active" and plan["due"] < today
            ]
        sanctioned: list[UUID] = []
        for household_id in due:

            def command(uow: UnitOfWork, household_id: UUID = household_id) -> UUID | None:
                tenancy = self.tenancy(uow, household_id)
                plan = tenancy.transition
                if plan is None or plan["state"] != "active" or plan["exit_due_on"] >= today:
                    return None
                if tenancy.exited is not None or tenancy.plan_held():
                    return None  # an open appeal against the decision holds the plan
                tenancy.close_plan(plan["transition_id"], "overdue", today)
                sanction, _ = self._impose(
                    uow, tenancy, "rent_surcharge", "overstaying", plan["transition_id"], today, None, ""
                )
                return sanction.id

            sanction_id = self.run(command)
            if sanction_id is not None:
                sanctioned.append(sanction_id)
        return sanctioned
