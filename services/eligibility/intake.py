"""Department facts in, and the automated first review they trigger: the intake capability.

Fact intake has one code path for both doors (HTTP batch and the NATS inbox): `intake_fact` writes
through a `UnitOfWork`, so a batch of facts is one transaction whichever way it came, and a repeated
(department, reference) is found by its receipt in the store or earlier in the same batch. A household
with facts in a unit of work is decided once, just before it commits (`evaluate_before_commit`).
Monitoring's occupancy warnings are kept here too: facts for the review, from another service.
Split out of application.py so that the application module stays readable in one sitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal
from uuid import UUID, uuid4

from contracts.department import DepartmentFactReported
from services.eligibility import rules
from services.eligibility.base import EligibilityBase, find_household
from services.eligibility.domain import FactReceipt, Household, ParkedFacts, PersonIndex, ReviewCase
from services.kit.dating import DateRefused
from services.kit.uow import UnitOfWork

IntakeStatus = Literal["recorded", "duplicate", "parked", "unmatched"]
INGEST_CHUNK = 100


def future_fact(report: DepartmentFactReported, today: date) -> str:
    """Why a fact describing a day after `today` is refused (a 422 line, a dead letter on the bus)."""
    return (
        f"described_on {report.described_on.isoformat()} lies in the future (today is "
        f"{today.isoformat()}): a fact describes what has happened"
    )


class IntakeMixin(EligibilityBase):
    """Department facts (HTTP batches and the inbox), monitoring's warnings, the automated decision."""

    def ingest(self, reports: Sequence[DepartmentFactReported]) -> list[IntakeStatus]:
        """HTTP batch intake: the valid facts of a request, one transaction per `INGEST_CHUNK` facts.

        Chunks keep transactions small: on PostgreSQL, the library's pipelined insert of a few
        hundred events (~1-2 KB each) in one transaction was seen to hang (server waiting for the
        client, client waiting for the sync), with psycopg's Python and C implementations alike.
        A chunk's write conflict is also redone without redoing the whole request.
        """
        return [status for status, _ in self.ingest_noting(reports)]

    def ingest_noting(
        self, reports: Sequence[DepartmentFactReported]
    ) -> list[tuple[IntakeStatus, rules.Source | None]]:
        """`ingest`, each status with the record on file that a recorded fact is older than (kept in
        the history, not used: that record still decides), or None."""
        answers: list[tuple[IntakeStatus, rules.Source | None]] = []
        for start in range(0, len(reports), INGEST_CHUNK):
            chunk = reports[start : start + INGEST_CHUNK]

            def work(
                uow: UnitOfWork, chunk: Sequence[DepartmentFactReported] = chunk
            ) -> list[tuple[IntakeStatus, rules.Source | None]]:
                self.prefetch_receipts(uow, chunk)
                return [self._intake(uow, report) for report in chunk]

            answers += self._in_uow(work)
        return answers

    def intake_fact(self, uow: UnitOfWork, report: DepartmentFactReported) -> IntakeStatus:
        """`_intake`'s status (the inbox's door)."""
        return self._intake(uow, report)[0]

    def _intake(
        self, uow: UnitOfWork, report: DepartmentFactReported
    ) -> tuple[IntakeStatus, rules.Source | None]:
        """Record one fact on its household, which is re-evaluated when `uow` commits (once for all its
        facts in the unit of work); ignore a fact already received.

        A fact about a person no household holds yet is `parked` (with its receipt) and recorded on
        the household that later takes them in. A fact naming only a household id we do not know is
        `unmatched` and leaves no receipt: the department's data is wrong, and it can send the fact
        again corrected. A fact describing an earlier day than the record on file for its kind and
        scope is recorded in the history and does not replace that record (returned beside the
        status); one describing a day after today is refused (`DateRefused`).
        """
        today = self.today()
        if report.described_on > today:  # both doors refuse it first (api.validate_lines, handlers)
            raise DateRefused(future_fact(report, today), "described_on")
        department = report.department.value
        if uow.find(FactReceipt.create_id(department, report.reference), FactReceipt) is not None:
            return "duplicate", None
        household, member = self._locate(uow, report)
        if household is None:
            if report.person_hash is None:
                return "unmatched", None
            self._park(uow, report, report.person_hash)
            return "parked", None
        if report.person_hash is not None and member is None:
            # a household and a person who is not its member: which one the figure describes is
            # unknowable (a member's income read as the household's would decide wrongly)
            return "unmatched", None
        uow.add(FactReceipt(department, report.reference, household.id))
        fact = report.fact.model_dump()
        scope = str(member["member_id"]) if member is not None else "household"
        newer = household.newer_record(str(fact["kind"]), scope, fact, report.described_on)
        household.record_fact(department, report.reference, report.described_on, fact, scope)
        self.evaluate_before_commit(uow, household.id)
        return "recorded", newer

    def prefetch_receipts(self, uow: UnitOfWork, reports: Sequence[DepartmentFactReported]) -> None:
        """A few store queries for a whole batch of facts instead of three for each: which receipts
        exist (new facts have none), the person index of each person named, then every household the
        batch is about, loaded together."""
        uow.prefetch(FactReceipt.create_id(r.department.value, r.reference) for r in reports)
        persons = {r.person_hash for r in reports if r.household_id is None and r.person_hash is not None}
        uow.load(PersonIndex.create_id(p) for p in persons)
        households = {r.household_id for r in reports if r.household_id is not None}
        for person in persons:
            index = uow.find(PersonIndex.create_id(person), PersonIndex)
            if index is not None and index.household_id is not None:
                households.add(index.household_id)
        uow.load(households)

    def _park(self, uow: UnitOfWork, report: DepartmentFactReported, person_hash: str) -> None:
        parked = uow.find(ParkedFacts.create_id(person_hash), ParkedFacts)
        if parked is None:
            parked = ParkedFacts(person_hash)
            uow.add(parked)
        department = report.department.value
        parked.park(department, report.reference, report.described_on, report.fact.model_dump())
        uow.add(FactReceipt(department, report.reference, None))

    def note_occupancy(
        self,
        uow: UnitOfWork,
        household_id: UUID | None,
        warning_id: UUID,
        step: str,
        on: date,
        detail: str,
        by: str | None = None,
    ) -> bool:
        """Monitoring's warnings are facts for the review: kept on the household, shown to reviewers;
        False for a household we do not know."""
        if household_id is None:
            return False
        household = find_household(uow, household_id)
        if household is None:
            return False
        household.note_occupancy(warning_id, step, on, detail[:500], by)
        return True

    def _locate(
        self, uow: UnitOfWork, report: DepartmentFactReported
    ) -> tuple[Household | None, dict[str, Any] | None]:
        household: Household | None = None
        if report.household_id is not None:
            household = find_household(uow, report.household_id)
        elif report.person_hash is not None:
            index = uow.find(PersonIndex.create_id(report.person_hash), PersonIndex)
            if index is not None and index.household_id is not None:
                household = find_household(uow, index.household_id)
        if household is None:
            return None, None
        member = household.member_of(report.person_hash) if report.person_hash else None
        return household, member

    def evaluate_before_commit(self, uow: UnitOfWork, household_id: UUID) -> None:
        """Decide on the household once, just before `uow` commits, on everything recorded in it.

        Facts arrive in batches (an inbox batch, an HTTP chunk); a household with several facts in one
        batch gets one decision that reflects all of them, rather than one per fact of which all but
        the last were out of date before they were stored.
        """
        uow.defer(("evaluate", household_id), lambda u: self._evaluate_deferred(u, household_id))

    def _evaluate_deferred(self, uow: UnitOfWork, household_id: UUID) -> None:
        self.evaluate_household(uow, uow.get(household_id, Household))

    def evaluate_household(self, uow: UnitOfWork, household: Household) -> rules.Decision:
        """Automated first review; a household newly failing opens a review case."""
        table = self.parameter_table(self._book(uow))
        decision = rules.evaluate(household.snapshot(), self._in_force(table, household.region, self.today()))
        previous = household.outcome
        review_id = uuid4()
        household.evaluated(review_id, rules.decision_record(decision), previous)
        if (
            decision.outcome == "exit_triggered"
            and previous != "exit_triggered"
            and household.open_case is None
        ):
            triggered = [r.rule for r in decision.results if r.triggered]
            reason = f"automated review: exit condition met ({', '.join(triggered)})"
            case = ReviewCase(
                household.id, review_id, reason, self.clock(), household.region, household.estate
            )
            uow.add(case)
            check_id = uuid4()
            household.case_opened(case.id, review_id, check_id, reason, triggered)
            cities, now = list(self.config.cross_region_cities), self.clock()
            household.cross_region_requested(
                check_id,
                cities,
                self.config.cross_region_purpose,
                now,
                "review case opened",
                self.register_keeper.check_subjects(household, cities, now),
            )
        self.refresh_register(uow, household)
        return decision
