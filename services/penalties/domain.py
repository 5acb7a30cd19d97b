"""Penalties' domain: tenancies and their rent ledger, sanctions, appeals, notices, the subsidy.

Nothing here does I/O. Money is `Decimal` yuan; every amount a tenant sees is rounded once, half up
to the fen (0.01), from the exact value: a transition month is `base x factor` rounded, never the
previous month's rounded rent times 1.1 again, so rounding errors do not accumulate.

The ledger of a tenancy is its base rent plus *adjustments*, each with its cause (the decision it rests
on), its first month and, once ended, its last month:
- `transition`: month k of a plan (k = 1 … months) costs `base x (1 + k x rise)` (rule `simple`) or
  `base x (1 + rise)^k` (rule `compound`); after the last month the rent stays at the last step until
  the flat is handed back (an overdue household never pays less than it did in the plan);
- `surcharge`: `base x rate` a month (the rate in force when imposed), on the *base* rent, not on the
  transition rent, so a surcharge during a transition adds `rate x base` and the two never multiply.
A *hold* (an open appeal against a sanction, or against the eligibility decision a plan rests on)
suspends the adjustments it covers from the month it was placed in until it is released. A hold
defers, it does not waive: once released (appeal dismissed) the suspended months are due again as
arrears; an upheld appeal *cancels* the adjustment from its first month instead.

The modules: `errors.py` (refusals), `schedule.py` (months, money, the ledger arithmetic), `words.py`
(violations, addresses, appeal wording), `tenancy.py` (the `Tenancy` aggregate, which keeps its old
topic `services.penalties.domain:Tenancy`); the other aggregates are here. Everything is importable
from this module as before.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from services.kit.clock import Aggregate
from services.penalties.errors import (
    BasisError,
    FourEyesConflict,
    FourEyesViolation,
    NotPermitted,
    RoleRefused,
    RuleError,
)
from services.penalties.schedule import (
    CENT,
    add_months,
    label,
    last_day,
    line_amount,
    money,
    month_of,
    months_between,
    parse_month,
    stamp,
    transition_factor,
    transition_rent,
    transition_schedule,
)
from services.penalties.tenancy import Tenancy
from services.penalties.words import (
    ELIGIBILITY_APPEAL,
    SANCTION_KINDS,
    VIOLATION_WORDS,
    VIOLATIONS,
    appeal_words,
    percent,
    unit_words,
)

__all__ = [
    "APPEAL_DECIDERS",
    "APPEAL_LODGERS",
    "CENT",
    "CONFIRMERS",
    "ELIGIBILITY_APPEAL",
    "NAMESPACE",
    "SANCTION_KINDS",
    "VIOLATIONS",
    "VIOLATION_WORDS",
    "Appeal",
    "BasisError",
    "FourEyesConflict",
    "FourEyesViolation",
    "NotPermitted",
    "Notice",
    "RoleRefused",
    "RuleError",
    "Sanction",
    "Subsidy",
    "Tenancy",
    "add_months",
    "appeal_words",
    "label",
    "last_day",
    "line_amount",
    "money",
    "month_of",
    "months_between",
    "parse_month",
    "percent",
    "stamp",
    "transition_factor",
    "transition_rent",
    "transition_schedule",
    "unit_words",
]

NAMESPACE = uuid5(NAMESPACE_URL, "https://housing.foshan.example/penalties")

APPEAL_LODGERS = frozenset({"household", "reviewer", "supervisor", "inspector", "admin"})
"""Who records a household's appeal: the household at the desk, or an officer on its behalf."""
APPEAL_DECIDERS = frozenset({"supervisor", "admin"})
"""Who decides an appeal: a supervisor (or the bureau's administrator), never a first pair of eyes."""
CONFIRMERS = frozenset({"supervisor"})
"""Who carries out an irreversible step (executes a repossession, enters a household on the credit
list): a supervisor, never the person who proposed it."""


# -- sanctions, appeals, notices, the subsidy ---------------------------------------------------------


class Sanction(Aggregate):
    """A rent surcharge, credit-list entry or repossession order, resting on a named basis.

    The id derives from (household, basis, kind): the same violation is never sanctioned twice the same way.
    """

    @staticmethod
    def create_id(household_id: UUID, basis_id: UUID, kind: str) -> UUID:
        return uuid5(NAMESPACE, f"sanction/{household_id}/{basis_id}/{kind}")

    class Imposed(Aggregate.Created):
        household_id: UUID
        kind: str
        violation: str
        basis_kind: str
        basis_id: UUID
        imposed_on: date
        effective_from: date
        ends_on: date | None
        rate: Decimal | None
        appeal_until: date
        imposed_by: str | None
        note: str
        estate: str
        awaiting_entry: bool
        recorded_on: date | None
        late_reason: str

    @event(Imposed)
    def __init__(
        self,
        household_id: UUID,
        kind: str,
        violation: str,
        basis_kind: str,
        basis_id: UUID,
        imposed_on: date,
        effective_from: date,
        ends_on: date | None,
        rate: Decimal | None,
        appeal_until: date,
        imposed_by: str | None,
        note: str,
        estate: str,
        awaiting_entry: bool = False,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        """`awaiting_entry`: a credit-list entry proposed, not yet confirmed by a second person (entries
        stored before the rule have none: they were in force at once)."""
        self.household_id, self.kind, self.violation = household_id, kind, violation
        self.basis_kind, self.basis_id = basis_kind, basis_id
        self.imposed_on, self.effective_from, self.ends_on = imposed_on, effective_from, ends_on
        self.rate, self.appeal_until, self.imposed_by, self.note = rate, appeal_until, imposed_by, note
        self.estate = estate
        self.state = "issued" if kind == "repossession" else "proposed" if awaiting_entry else "active"
        self.recorded: dict[str, dict[str, Any]] = {"imposed": stamp(imposed_on, recorded_on, late_reason)}
        self.entered: dict[str, Any] | None = None
        self.execution_proposed: dict[str, Any] | None = None
        self.suspended_by: UUID | None = None
        self.appeal_ids: list[UUID] = []
        self.deadline: date | None = None
        self.closed_on: date | None = None
        self.closing_reason = ""

    @property
    def open(self) -> bool:
        return self.state in ("proposed", "active", "issued", "notice_served")

    def _change(
        self,
        state: str,
        on: date,
        reason: str,
        by: str | None,
        deadline: date | None = None,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        self._changed(
            state, on, reason, by, deadline, self.household_id, self.kind, recorded_on or on, late_reason
        )

    @event("Changed")
    def _changed(
        self,
        state: str,
        on: date,
        reason: str,
        by: str | None,
        deadline: date | None,
        household_id: UUID,
        kind: str,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        self.recorded[state] = stamp(on, recorded_on, late_reason)
        if state == "suspended":
            return
        if state == "resumed":
            self.suspended_by = None
            return
        self.state = state
        if state == "notice_served":
            self.deadline = deadline
        if state in ("lifted", "withdrawn", "executed"):
            self.closed_on, self.closing_reason = on, reason

    @event("SuspendedByAppeal")
    def _suspended_by(self, appeal_id: UUID) -> None:
        self.suspended_by = appeal_id
        self.appeal_ids.append(appeal_id)

    def suspend(self, appeal_id: UUID, on: date) -> None:
        if not self.open:
            raise RuleError(f"the sanction is {self.state}; there is nothing to appeal")
        if self.state == "proposed":
            raise RuleError("the credit-list entry is only proposed; there is nothing to appeal yet")
        if self.suspended_by is not None:
            raise RuleError(f"appeal {self.suspended_by} is already open against this sanction")
        self._suspended_by(appeal_id)
        self._change("suspended", on, f"appeal {appeal_id} lodged", None)

    def resume(self, on: date, reason: str, by: str) -> None:
        self._change("resumed", on, reason, by)

    def serve_notice(
        self, on: date, deadline: date, by: str, recorded_on: date | None = None, late_reason: str = ""
    ) -> None:
        if self.kind != "repossession" or self.state != "issued":
            raise RuleError(
                f"a notice is served on an issued repossession order, not a {self.state} {self.kind}"
            )
        self._change(
            "notice_served", on, "repossession notice served", by, deadline, recorded_on, late_reason
        )

    def _executable(self, today: date) -> date:
        """The notice's deadline, if the order may be carried out today (else `RuleError`). Counted on
        the service's own day: no date a caller names moves it."""
        if self.kind != "repossession" or self.state != "notice_served":
            raise RuleError("only a served repossession order is executed")
        if self.suspended_by is not None:
            raise RuleError(f"appeal {self.suspended_by} is open: the order is suspended")
        assert self.deadline is not None
        if today <= self.deadline:
            raise RuleError(f"the household has until {self.deadline} to hand the flat back")
        return self.deadline

    def propose_execution(self, today: date, by: str, role: str) -> None:
        """The first pair of eyes: an officer (a supervisor, or a reviewer preparing it) proposes that a
        served order whose deadline has passed be carried out; another supervisor executes it."""
        self._executable(today)
        if self.execution_proposed is not None:
            raise RuleError(
                f"{self.execution_proposed['by']} proposed the execution on "
                f"{self.execution_proposed['on']}; a second supervisor carries it out"
            )
        self._execution_proposed(today, by, role, self.household_id)

    @event("ExecutionProposed")
    def _execution_proposed(self, on: date, by: str, role: str, household_id: UUID) -> None:
        self.execution_proposed = {"on": on, "by": by, "role": role}

    def execute(
        self,
        on: date,
        by: str,
        role: str,
        today: date,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        """The second pair of eyes: a supervisor other than the proposer carries the order out."""
        if role not in CONFIRMERS:
            raise RoleRefused(f"a {role} cannot execute a repossession; a supervisor can")
        deadline = self._executable(today)
        if on <= deadline:
            raise RuleError(f"the household had until {deadline} to hand the flat back")
        if self.execution_proposed is None:
            raise RuleError(
                "four-eyes principle: a repossession is executed on a second person's proposal; "
                "propose the execution first (POST /sanctions/{id}/propose-execution)"
            )
        if self.execution_proposed["by"] == by:
            raise FourEyesConflict(
                f"{by} proposed this execution and cannot also carry it out: a second supervisor does"
            )
        self._change("executed", on, "repossession executed", by, None, recorded_on, late_reason)

    def enter(self, today: date, by: str, role: str, ends_on: date, appeal_until: date) -> None:
        """A proposed credit-list entry is entered by a supervisor other than who proposed it; it counts
        from today, the day it is entered (and the household is told)."""
        if role not in CONFIRMERS:
            raise RoleRefused(f"a {role} cannot enter a household on the credit list; a supervisor can")
        if self.kind != "credit_list" or self.state != "proposed":
            raise RuleError(f"only a proposed credit-list entry is entered, not a {self.state} {self.kind}")
        if by == self.imposed_by:
            raise FourEyesConflict(
                f"{by} proposed this credit-list entry and cannot also enter it: a second supervisor does"
            )
        self._entered(
            today,
            by,
            role,
            ends_on,
            appeal_until,
            self.household_id,
            self.kind,
            self.violation,
            self.basis_kind,
            self.basis_id,
            self.estate,
            self.imposed_on,
            self.imposed_by,
        )

    @event("Entered")
    def _entered(
        self,
        on: date,
        by: str,
        role: str,
        ends_on: date,
        appeal_until: date,
        household_id: UUID,
        kind: str,
        violation: str,
        basis_kind: str,
        basis_id: UUID,
        estate: str,
        imposed_on: date,
        imposed_by: str | None,
    ) -> None:
        self.state = "active"
        self.effective_from, self.ends_on, self.appeal_until = on, ends_on, appeal_until
        self.entered = {"on": on, "by": by, "role": role}

    def lift(
        self,
        on: date,
        reason: str,
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        if not self.open:
            raise RuleError(f"the sanction is already {self.state}")
        self._change("lifted", on, reason, by, None, recorded_on, late_reason)

    def withdraw(
        self,
        on: date,
        reason: str,
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        if not self.open:
            raise RuleError(f"the sanction is already {self.state}")
        self._change("withdrawn", on, reason, by, None, recorded_on, late_reason)


class Appeal(Aggregate):
    """A household's appeal against one sanction.

    Four eyes: whoever recorded the appeal, and whoever imposed the sanction, cannot decide it; the rule
    lives here, not only in the gateway, so a call straight to the service meets it too."""

    class Lodged(Aggregate.Created):
        household_id: UUID
        sanction_id: UUID
        lodged_on: date
        grounds: str
        lodged_by: str
        estate: str
        recorded_on: date | None
        late_reason: str

    @event(Lodged)
    def __init__(
        self,
        household_id: UUID,
        sanction_id: UUID,
        lodged_on: date,
        grounds: str,
        lodged_by: str,
        estate: str,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        self.household_id, self.sanction_id, self.estate = household_id, sanction_id, estate
        self.lodged_on, self.grounds, self.lodged_by = lodged_on, grounds, lodged_by
        self.recorded: dict[str, dict[str, Any]] = {"lodged": stamp(lodged_on, recorded_on, late_reason)}
        self.state = "open"
        self.resolved_on: date | None = None
        self.resolved_by: str | None = None
        self.resolved_role: str | None = None
        self.note = ""

    @classmethod
    def lodge(
        cls,
        household_id: UUID,
        sanction_id: UUID,
        lodged_on: date,
        grounds: str,
        lodged_by: str,
        role: str,
        estate: str,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> Appeal:
        """A new appeal, if `role` may record one (checked before anything is recorded)."""
        if role not in APPEAL_LODGERS:
            raise RoleRefused(f"a {role} cannot lodge an appeal; the household or an officer can")
        return cls(
            household_id,
            sanction_id,
            lodged_on,
            grounds,
            lodged_by,
            estate,
            recorded_on or lodged_on,
            late_reason,
        )

    def check_decider(
        self, by: str, role: str, imposed_by: str | None, entered_by: str | None = None
    ) -> None:
        """403 for a role that does not decide appeals, or a first pair of eyes (who recorded it, who
        imposed the sanction, who entered a credit-list entry)."""
        if role not in APPEAL_DECIDERS:
            raise RoleRefused(f"a {role} cannot decide an appeal; a supervisor can")
        if by == self.lodged_by:
            raise FourEyesViolation(f"{by} recorded this appeal and cannot also decide it")
        if by == imposed_by:
            raise FourEyesViolation(f"{by} imposed the sanction and cannot also decide the appeal")
        if by == entered_by:
            raise FourEyesViolation(f"{by} entered the credit-list entry and cannot also decide the appeal")

    def resolve(
        self,
        outcome: str,
        on: date,
        by: str,
        role: str,
        note: str,
        imposed_by: str | None,
        recorded_on: date | None = None,
        late_reason: str = "",
        entered_by: str | None = None,
    ) -> None:
        """`imposed_by`: who imposed the sanction appealed against (None when the system did)."""
        self.check_decider(by, role, imposed_by, entered_by)
        if self.state != "open":
            raise RuleError(f"the appeal is already {self.state}")
        if on < self.lodged_on:
            raise RuleError("an appeal is resolved after it was lodged")
        self._resolved(
            outcome, on, by, note, self.household_id, self.sanction_id, role, recorded_on or on, late_reason
        )

    @event("Resolved")
    def _resolved(
        self,
        outcome: str,
        on: date,
        by: str,
        note: str,
        household_id: UUID,
        sanction_id: UUID,
        role: str = "",
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        """`role` defaults to "" for appeals decided before the role was recorded."""
        self.state, self.resolved_on, self.resolved_by, self.note = outcome, on, by, note
        self.resolved_role = role
        self.recorded["resolved"] = stamp(on, recorded_on, late_reason)


class Notice(Aggregate):
    """A notice to a household in plain language, and its delivery."""

    @staticmethod
    def create_id(household_id: UUID, kind: str, reference: UUID) -> UUID:
        return uuid5(NAMESPACE, f"notice/{household_id}/{kind}/{reference}")

    class Issued(Aggregate.Created):
        household_id: UUID
        estate: str
        kind: str
        reference: UUID
        issued_on: date
        title: str
        text: str
        amounts: list[list[str]]
        deadline: date | None
        appeal_until: date | None

    @event(Issued)
    def __init__(
        self,
        household_id: UUID,
        estate: str,
        kind: str,
        reference: UUID,
        issued_on: date,
        title: str,
        text: str,
        amounts: list[list[str]],
        deadline: date | None,
        appeal_until: date | None,
    ) -> None:
        self.household_id, self.estate, self.kind, self.reference = household_id, estate, kind, reference
        self.issued_on, self.title, self.text, self.amounts = issued_on, title, text, amounts
        self.deadline, self.appeal_until = deadline, appeal_until
        self.deliveries: list[dict[str, Any]] = []
        self.failures = 0

    @property
    def delivered(self) -> bool:
        return bool(self.deliveries)

    def record_delivery(self, channel: str, on: date, detail: str) -> None:
        self._delivered(channel, on, detail, self.household_id)

    @event("Delivered")
    def _delivered(self, channel: str, on: date, detail: str, household_id: UUID) -> None:
        self.deliveries.append({"channel": channel, "on": on, "detail": detail})

    @event("DeliveryFailed")
    def record_failure(self, channel: str, error: str) -> None:
        self.failures += 1


class Subsidy(Aggregate):
    """The one-time voluntary-exit subsidy. Its id derives from the household id alone, so a second
    award (a redelivered decision, a retried or concurrent request, another replica) is a second
    creation of the same aggregate, which the event store refuses."""

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"voluntary-exit-subsidy/{household_id}")

    class Awarded(Aggregate.Created):
        household_id: UUID
        amount: Decimal
        awarded_on: date
        estate: str
        legal_reference: str

    @event(Awarded)
    def __init__(
        self, household_id: UUID, amount: Decimal, awarded_on: date, estate: str, legal_reference: str
    ) -> None:
        self.household_id, self.amount, self.awarded_on = household_id, amount, awarded_on
        self.estate, self.legal_reference = estate, legal_reference
