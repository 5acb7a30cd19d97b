"""The manual re-review of a case: findings, four-eyes approval, assessments, appeals.

Deadlines (issue 23): a third-party assessment is due on the deadline its requester set; an appeal
against an exit decision is to be decided within the dated regional parameter `appeal_decision_days`
(parameters/appeal_decision_days.yaml, in force on the day it was lodged) of its lodging. Either one
past its day, still waiting, is an escalation on the supervisors' review queue (`escalations`).

A case is opened by the automated review (intake.py); each step here is one unit of work on the case
that also closes or reopens the case on its household when the case's decision comes or goes. Who may
do which step (roles, four eyes, the appeal window) is the `ReviewCase` aggregate's to refuse.
Split out of application.py so that the application module stays readable in one sitting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from services.eligibility.base import Actor, EligibilityBase, NotFound
from services.eligibility.domain import ReviewCase
from services.kit.uow import UnitOfWork

DEFAULT_APPEAL_DECISION_DAYS = 60
"""For a region without a value of `appeal_decision_days`."""


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
                actor.operator_id,
                actor.role,
                assessor_id,
                deadline,
                reason,
                now,
                self.settings.local_date(now),
            ),
        )

    def receive_assessment(self, case_id: UUID, actor: Actor, report: str, recommendation: str) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.receive_assessment(
                actor.operator_id, actor.role, report, recommendation, now
            ),
        )

    def decide_appeal(self, case_id: UUID, actor: Actor, decision: str, reason: str) -> ReviewCase:
        """The exit decision appealed against upheld or overturned, by a supervisor (four eyes)."""
        return self._case_step(
            case_id,
            lambda case, now: case.decide_appeal(actor.operator_id, actor.role, decision, reason, now),
        )

    def appeal_decision_days(self, region: str, on: date) -> int:
        """Days to decide an appeal lodged on `on` in `region`: the dated parameter then in force."""
        value = self.current_table().value_at("appeal_decision_days", region, on)
        return DEFAULT_APPEAL_DECISION_DAYS if value is None else int(value.value)

    def appeal_due(self, case: ReviewCase, appeal: dict[str, Any]) -> date:
        """The day by which an appeal is to be decided: its lodging day (the city's) plus the days in
        force in the case's region on that day."""
        lodged_on = self.settings.local_date(appeal["lodged_at"])
        return lodged_on + timedelta(days=self.appeal_decision_days(case.region, lodged_on))

    def escalations(self, case: ReviewCase, today: date) -> list[dict[str, Any]]:
        """What on the case waits past its day: the pending assessment past its deadline, a record
        request a department has not answered by its due day (asking.py), the undecided appeal past
        its decision deadline. Each is an escalation for the supervisors. The read model's requests:
        callers have caught it up (the case lists do)."""
        found: list[dict[str, Any]] = []
        if case.status == "assessment" and case.assessments:
            pending = case.assessments[-1]
            if pending["received_at"] is None and pending["deadline"] < today:
                found.append(
                    {
                        "kind": "assessment_overdue",
                        "due": pending["deadline"],
                        "assessor_id": pending["assessor_id"],
                    }
                )
        for request_id in self.population.requests_by_case.get(case.id, ()):
            request = self.population.requests[request_id]
            level = self.request_escalation(request, today)
            if level is not None:
                found.append(
                    {
                        "kind": "record_overdue",
                        "due": request.due_on,
                        "department": request.department,
                        "request_id": request.id,
                        "joint_meeting": level == "joint_meeting",
                    }
                )
        appeal = case.appeals[-1] if case.appeals else None
        if case.status in ("appealed", "proposed") and appeal is not None and appeal["outcome"] is None:
            due = self.appeal_due(case, appeal)
            if due < today:
                found.append({"kind": "appeal_overdue", "due": due, "lodged_by": appeal["lodged_by"]})
        return found

    def lodge_appeal(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.lodge_appeal(
                actor.operator_id,
                actor.role,
                reason,
                now,
                self.config.appeal_window_days,
                self.settings.local_date,
            ),
        )
