"""Asking departments for records: the record-request capability of `EligibilityApp`.

A reviewer asks from a review case (`ask_department`); the department, through its own credential,
lists the requests addressed to it and answers one with facts (`answer_request`: the facts are recorded
on the household in the same transaction, as any department fact is, and the household is decided
again) or declines it with a reason (`decline_request`). Each request is due `record_answer_days_<dept>`
days (a dated parameter, in force in the case's region on the day it was asked) after it was asked.

Escalation is read from the dates, so it follows the clock without a job: a request open past its due
day is `overdue` and escalates the case on the supervisors' queue (`escalations` in reviews.py); one
still open past a second such period is listed for the departments' monthly joint meeting
(`joint_meeting`). Figures per month (asked, answered, open, overdue, median days to answer) come from
the read model (`request_figures`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from contracts.department import REPORTS, DepartmentFactReported
from services.eligibility.base import Actor, EligibilityBase, NotFound, Refused
from services.eligibility.domain import REVIEWER_ROLES, ReviewCase, RoleRefused
from services.eligibility.intake import IntakeStatus
from services.eligibility.record_request import DECLINED, REASONS, VERIFIER, RecordRequest, RequestError
from services.kit.uow import UnitOfWork

DEFAULT_ANSWER_DAYS = 15
"""For a region without a value of `record_answer_days_<department>`."""


def escalation(request: RecordRequest, today: date, days: int) -> str | None:
    """`overdue` past its due day, `joint_meeting` past a second period of `days`; None otherwise."""
    if not request.overdue(today):
        return None
    return "joint_meeting" if request.due_on + timedelta(days=days) < today else "overdue"


class AskingMixin(EligibilityBase):
    """Record requests: ask, answer, decline, read, escalate, count."""

    def answer_days(self, department: str, region: str, on: date) -> int:
        """Days `department` has to answer a request asked on `on` in `region`."""
        value = self.current_table().value_at(f"record_answer_days_{department}", region, on)
        return DEFAULT_ANSWER_DAYS if value is None else int(value.value)

    def record_request(self, request_id: UUID) -> RecordRequest:
        return self.stored(request_id, RecordRequest, "record request")

    def request_escalation(self, request: RecordRequest, today: date) -> str | None:
        return escalation(
            request, today, self.answer_days(request.department, request.region, request.asked_on)
        )

    def ask_department(
        self,
        actor: Actor,
        *,
        case_id: UUID | None = None,
        household_id: UUID | None = None,
        department: str,
        kind: str,
        member_ids: Sequence[UUID] | None,
        why: str,
        rule: str | None,
        note: str,
        warning_id: UUID | None = None,
    ) -> RecordRequest:
        """A reviewer's request for a kind of record that department reports, about some members (all
        when none are named): from an undecided case, or from a household with none (`household_id`).
        With `warning_id`, a verification task: public security verifies the household's actual
        residence for that occupancy warning, which must be one noted on the household."""
        if actor.role not in REVIEWER_ROLES:
            raise RoleRefused("only a reviewer or a supervisor asks a department for a record")
        if department not in REPORTS:
            raise Refused(f"no department {department!r}")
        if kind not in REPORTS[department]:
            raise Refused(f"{department} reports {', '.join(sorted(REPORTS[department]))}, not {kind!r}")
        if why not in REASONS:
            raise Refused(f"a request is asked because a record is one of {', '.join(REASONS)}")
        if warning_id is not None and (department, kind) != (VERIFIER, "registration"):
            raise Refused(
                "a warning's verification task is asked of public_security, for a registration record"
            )

        def work(uow: UnitOfWork) -> RecordRequest:
            if case_id is not None:
                case = self._open_case(uow, case_id)
                household = self._household(uow, case.household_id)
            elif household_id is not None:
                household = self._household(uow, household_id)
            else:
                raise Refused("a request is asked from a case or a household")
            if warning_id is not None and all(
                o.data["warning_id"] != warning_id for o in household.occupancy
            ):
                raise NotFound(f"no occupancy warning {warning_id} on this household")
            members = {str(m["member_id"]): m for m in household.members}
            wanted = [str(m) for m in member_ids] if member_ids else list(members)
            unknown = [m for m in wanted if m not in members]
            if unknown:
                raise Refused(f"not a member of this household: {', '.join(unknown)}")
            now, today = self.clock(), self.today()
            request = RecordRequest(
                case_id,
                household.id,
                household.region,
                household.estate,
                department,
                kind,
                [str(members[m]["person_hash"]) for m in wanted],
                why,
                rule,
                note[:1000],
                actor.operator_id,
                now,
                today,
                today + timedelta(days=self.answer_days(department, household.region, today)),
                warning_id,
            )
            uow.add(request)
            return request

        return self._in_uow(work)

    def _open_case(self, uow: UnitOfWork, case_id: UUID) -> ReviewCase:
        try:
            case = uow.find(case_id, ReviewCase)
        except TypeError:
            case = None
        if case is None:
            raise NotFound(f"no case {case_id}")
        if case.status == "decided":
            raise Refused("the case is decided: a record no longer changes it")
        return case

    def answer_request(
        self,
        request_id: UUID,
        department: str | None,
        answered_by: str,
        reports: Sequence[DepartmentFactReported],
    ) -> tuple[RecordRequest, list[IntakeStatus]]:
        """The department's facts, about the request's household, recorded on it in one transaction
        with the answer; a fact about anyone else refuses the whole answer."""

        def work(uow: UnitOfWork) -> tuple[RecordRequest, list[IntakeStatus]]:
            request = self._request(uow, request_id)
            household = self._household(uow, request.household_id)
            hashes = {str(m["person_hash"]) for m in household.members}
            for number, report in enumerate(reports, start=1):
                if report.department.value != request.department:
                    raise RequestError(
                        f"fact {number}: reported by {report.department.value}, not {request.department}"
                    )
                if report.household_id is not None and report.household_id != request.household_id:
                    raise RequestError(f"fact {number}: about another household than the request's")
                if report.person_hash is not None and report.person_hash not in hashes:
                    raise RequestError(f"fact {number}: about a person who is not a member of the household")
            request.answer(
                department, [r.reference for r in reports], answered_by, self.clock(), self.today()
            )
            self.prefetch_receipts(uow, reports)
            statuses = [self.intake_fact(uow, report) for report in reports]
            return request, statuses

        return self._in_uow(work)

    def inspect_request(
        self, request_id: UUID, department: str | None, answered_by: str, finding: str, note: str
    ) -> RecordRequest:
        """Public security's finding on a verification task; monitoring closes the warning with it
        (`residence-verified`, translate.py)."""

        def work(uow: UnitOfWork) -> RecordRequest:
            request = self._request(uow, request_id)
            request.inspect(department, finding, note[:2000], answered_by, self.clock(), self.today())
            return request

        return self._in_uow(work)

    def decline_request(
        self, request_id: UUID, department: str | None, answered_by: str, outcome: str, reason: str
    ) -> RecordRequest:
        def work(uow: UnitOfWork) -> RecordRequest:
            request = self._request(uow, request_id)
            request.decline(department, outcome, reason[:1000], answered_by, self.clock(), self.today())
            return request

        return self._in_uow(work)

    def _request(self, uow: UnitOfWork, request_id: UUID) -> RecordRequest:
        try:
            request = uow.find(request_id, RecordRequest)
        except TypeError:
            request = None
        if request is None:
            raise NotFound(f"no record request {request_id}")
        return request

    # -- reading ------------------------------------------------------------------------------------

    def record_requests(
        self,
        *,
        department: str | None = None,
        case_id: UUID | None = None,
        household_id: UUID | None = None,
        state: str = "open",
        today: date | None = None,
    ) -> list[RecordRequest]:
        """Requests from the read model, oldest first: `open`, `overdue` (open past their day),
        `joint_meeting`, `closed` (answered or declined) or `all`."""
        self.population.catch_up()
        today = today or self.today()
        found = []
        for request in list(self.population.requests.values()):
            if department is not None and request.department != department:
                continue
            if case_id is not None and request.case_id != case_id:
                continue
            if household_id is not None and request.household_id != household_id:
                continue
            if state == "open" and not request.is_open:
                continue
            if state == "closed" and request.is_open:
                continue
            if state in ("overdue", "joint_meeting"):
                level = self.request_escalation(request, today)
                if level is None or (state == "joint_meeting" and level != "joint_meeting"):
                    continue
            found.append(request)
        return sorted(found, key=lambda r: (r.asked_at, str(r.id)))

    def request_figures(self, requests: Iterable[RecordRequest], today: date) -> dict[str, Any]:
        """Per month asked (YYYY-MM): asked, answered (with a record), declined, still open, overdue,
        and the median days from asking to an answer of those answered; and the totals."""
        months: dict[str, dict[str, Any]] = {}
        waits: dict[str, list[int]] = {}
        for request in requests:
            month = request.asked_on.strftime("%Y-%m")
            row = months.setdefault(
                month, {"month": month, "asked": 0, "answered": 0, "declined": 0, "open": 0, "overdue": 0}
            )
            row["asked"] += 1
            if request.is_open:
                row["open"] += 1
                row["overdue"] += self.request_escalation(request, today) is not None
            else:
                row["declined" if request.outcome in DECLINED else "answered"] += 1
                if request.answered_on is not None:
                    waits.setdefault(month, []).append((request.answered_on - request.asked_on).days)
        for month, row in months.items():
            days = waits.get(month)
            row["median_days_to_answer"] = statistics.median(days) if days else None
        rows = [months[m] for m in sorted(months)]
        every = [d for days in waits.values() for d in days]
        return {
            "by_month": rows,
            "asked": sum(r["asked"] for r in rows),
            "answered": sum(r["answered"] for r in rows),
            "declined": sum(r["declined"] for r in rows),
            "open": sum(r["open"] for r in rows),
            "overdue": sum(r["overdue"] for r in rows),
            "median_days_to_answer": statistics.median(every) if every else None,
        }
