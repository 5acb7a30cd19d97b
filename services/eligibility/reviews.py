"""The manual re-review of a case: findings, four-eyes approval, assessments, appeals.

A case is opened by the automated review (intake.py); each step here is one unit of work on the case
that also closes or reopens the case on its household when the case's decision comes or goes. Who may
do which step (roles, four eyes, the appeal window) is the `ReviewCase` aggregate's to refuse.
Split out of application.py so that the application module stays readable in one sitting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID

from services.eligibility.base import Actor, EligibilityBase, NotFound
from services.eligibility.domain import ReviewCase
from services.kit.uow import UnitOfWork


class ReviewsMixin(EligibilityBase):
    """Review cases: read one, and every step of the re-review."""

    def case(self, case_id: UUID) -> ReviewCase:
        return self.stored(case_id, ReviewCase, "case")

    def _case_step(self, case_id: UUID, step: Callable[[ReviewCase, datetime], None]) -> ReviewCase:
        def work(uow: UnitOfWork) -> ReviewCase:
            case: ReviewCase | None
            try:
                case = uow.find(case_id, ReviewCase)
            except TypeError:
                case = None
            if case is None:
                raise NotFound(f"no case {case_id}")
            was = case.status
            step(case, self.clock())
            if case.status == "decided" and was != "decided":
                household = self._household(uow, case.household_id)
                household.case_closed(case.id, str(case.final_outcome))
            elif was == "decided" and case.status != "decided":
                household = self._household(uow, case.household_id)
                household.case_reopened(case.id, f"case {case.status} again")
            return case

        return self._in_uow(work)

    def record_finding(
        self,
        case_id: UUID,
        actor: Actor,
        *,
        findings: str,
        proposed_outcome: str,
        reason_code: str,
        low_income: bool,
        wants_to_buy: bool,
    ) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.record_finding(
                actor.operator_id,
                actor.role,
                findings,
                proposed_outcome,
                reason_code,
                now,
                low_income,
                wants_to_buy,
            ),
        )

    def approve(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id, lambda case, now: case.approve(actor.operator_id, actor.role, reason, now)
        )

    def send_back(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id, lambda case, now: case.send_back(actor.operator_id, actor.role, reason, now)
        )

    def request_assessment(
        self, case_id: UUID, actor: Actor, assessor_id: str, deadline: date, reason: str
    ) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.request_assessment(
                actor.operator_id, actor.role, assessor_id, deadline, reason, now
            ),
        )

    def receive_assessment(self, case_id: UUID, actor: Actor, report: str, recommendation: str) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.receive_assessment(
                actor.operator_id, actor.role, report, recommendation, now
            ),
        )

    def lodge_appeal(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.lodge_appeal(
                actor.operator_id, actor.role, reason, now, self.config.appeal_window_days
            ),
        )
