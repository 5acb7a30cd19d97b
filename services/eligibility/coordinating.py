"""The coordination register: the cross-department problem capability of `EligibilityApp`.

The bureau's supervisors raise what one record request cannot settle (a systematic data conflict, a
department that does not answer), assign it to a lead department and an owner, and resolve it; a
reviewer or a supervisor adds what each monthly joint meeting said about it. Supervisors only raise,
assign and resolve because they speak for the bureau at the meeting; reviewers, who see the conflicts
first, add their notes.

Figures per month raised (raised, solved, still open, median days from raised to resolved) and the
number of meetings (distinct meeting days in the notes: the paper's "24 meetings") come from the read
model (`coordination_figures`), as the record requests' do.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from services.eligibility.base import Actor, EligibilityBase, NotFound, Refused
from services.eligibility.coordination import CoordinationProblem
from services.eligibility.domain import REVIEWER_ROLES, RoleRefused
from services.eligibility.record_request import RecordRequest
from services.kit.uow import UnitOfWork

STATES = ("open", "resolved", "all")


def _supervisor(actor: Actor, step: str) -> None:
    if actor.role != "supervisor":
        raise RoleRefused(f"only a supervisor {step} a cross-department problem")


class CoordinationMixin(EligibilityBase):
    """Cross-department problems: raise, assign, discuss, resolve, read, count."""

    def coordination_problem(self, problem_id: UUID) -> CoordinationProblem:
        return self.stored(problem_id, CoordinationProblem, "coordination problem")

    def raise_problem(
        self,
        actor: Actor,
        *,
        title: str,
        description: str,
        kind: str,
        departments: Sequence[str],
        record_requests: Sequence[UUID] = (),
    ) -> CoordinationProblem:
        """A new problem; the record requests it names exist and are addressed to a department
        involved (they are the evidence the meeting reads)."""
        _supervisor(actor, "raises")

        def work(uow: UnitOfWork) -> CoordinationProblem:
            for request_id in record_requests:
                try:
                    request = uow.find(request_id, RecordRequest)
                except TypeError:
                    request = None
                if request is None:
                    raise Refused(f"no record request {request_id}")
                if request.department not in departments:
                    raise Refused(
                        f"record request {request_id} is addressed to {request.department}, "
                        "which is not among the departments involved"
                    )
            problem = CoordinationProblem.raise_problem(
                title,
                description[:4000],
                kind,
                list(departments),
                list(record_requests),
                actor.operator_id,
                self.clock(),
                self.today(),
            )
            uow.add(problem)
            return problem

        return self._in_uow(work)

    def assign_problem(
        self, actor: Actor, problem_id: UUID, *, department: str, owner: str
    ) -> CoordinationProblem:
        _supervisor(actor, "assigns")

        def work(uow: UnitOfWork) -> CoordinationProblem:
            problem = self._problem(uow, problem_id)
            problem.assign(department, owner, actor.operator_id, self.clock())
            return problem

        return self._in_uow(work)

    def discuss_problem(
        self, actor: Actor, problem_id: UUID, *, note: str, meeting_on: date | None = None
    ) -> CoordinationProblem:
        """A joint meeting's note; the meeting held today unless an earlier day is named."""
        if actor.role not in REVIEWER_ROLES:
            raise RoleRefused("only a reviewer or a supervisor adds a meeting's note to a problem")

        def work(uow: UnitOfWork) -> CoordinationProblem:
            problem = self._problem(uow, problem_id)
            today = self.today()
            problem.discuss(note[:4000], meeting_on or today, actor.operator_id, self.clock(), today)
            return problem

        return self._in_uow(work)

    def resolve_problem(self, actor: Actor, problem_id: UUID, *, resolution: str) -> CoordinationProblem:
        _supervisor(actor, "resolves")

        def work(uow: UnitOfWork) -> CoordinationProblem:
            problem = self._problem(uow, problem_id)
            problem.resolve(resolution[:4000], actor.operator_id, self.clock(), self.today())
            return problem

        return self._in_uow(work)

    def _problem(self, uow: UnitOfWork, problem_id: UUID) -> CoordinationProblem:
        try:
            problem = uow.find(problem_id, CoordinationProblem)
        except TypeError:
            problem = None
        if problem is None:
            raise NotFound(f"no coordination problem {problem_id}")
        return problem

    # -- reading ------------------------------------------------------------------------------------

    def coordination_problems(
        self, *, state: str = "open", department: str | None = None
    ) -> list[CoordinationProblem]:
        """Problems from the read model, oldest first: `open`, `resolved` or `all`; those involving
        `department` when one is named."""
        if state not in STATES:
            raise Refused(f"state must be one of {', '.join(STATES)}")
        self.population.catch_up()
        found = [
            p
            for p in list(self.population.problems.values())
            if (state == "all" or p.is_open == (state == "open"))
            and (department is None or department in p.departments)
        ]
        return sorted(found, key=lambda p: (p.raised_at, str(p.id)))

    def coordination_figures(self, problems: Iterable[CoordinationProblem], today: date) -> dict[str, Any]:
        """Per month raised (YYYY-MM): raised, solved, still open, and the median days from raised to
        resolved of those solved; the totals; `meetings`, the distinct days of joint meetings that
        discussed any problem; and `oldest_open_days`, how long the longest-open problem has waited."""
        months: dict[str, dict[str, Any]] = {}
        waits: dict[str, list[int]] = {}
        meetings: set[date] = set()
        oldest: int | None = None
        for problem in problems:
            month = problem.raised_on.strftime("%Y-%m")
            row = months.setdefault(month, {"month": month, "raised": 0, "solved": 0, "open": 0})
            row["raised"] += 1
            meetings.update(problem.meetings)
            days = problem.days_to_resolve()
            if days is None:
                row["open"] += 1
                waited = (today - problem.raised_on).days
                oldest = waited if oldest is None else max(oldest, waited)
            else:
                row["solved"] += 1
                waits.setdefault(month, []).append(days)
        for month, row in months.items():
            solved = waits.get(month)
            row["median_days_to_solve"] = statistics.median(solved) if solved else None
        rows = [months[m] for m in sorted(months)]
        every = [d for days in waits.values() for d in days]
        return {
            "by_month": rows,
            "raised": sum(r["raised"] for r in rows),
            "solved": sum(r["solved"] for r in rows),
            "open": sum(r["open"] for r in rows),
            "median_days_to_solve": statistics.median(every) if every else None,
            "meetings": len(meetings),
            "oldest_open_days": oldest,
        }
