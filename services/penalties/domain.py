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
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from services.kit.clock import Aggregate

NAMESPACE = uuid5(NAMESPACE_URL, "https://housing.foshan.example/penalties")
CENT = Decimal("0.01")

VIOLATIONS = ("sublet", "lend", "vacant", "concealed_income", "concealed_assets", "overstaying")
SANCTION_KINDS = ("rent_surcharge", "credit_list", "repossession")
VIOLATION_WORDS = {
    "sublet": "subletting the flat",
    "lend": "lending the flat to others",
    "vacant": "leaving the flat empty",
    "concealed_income": "concealing income",
    "concealed_assets": "concealing property or financial assets",
    "overstaying": "staying in the flat after the exit date",
}


class RuleError(ValueError):
    """A command that does not follow from the current state (HTTP 409)."""


class BasisError(ValueError):
    """A sanction without a basis this service has seen (HTTP 422)."""


class NotPermitted(Exception):
    """A step this operator may not take, whatever the state (HTTP 403); `title` names the rule."""

    title = "Not allowed"


class RoleRefused(NotPermitted):
    title = "Role not allowed"


class FourEyesViolation(NotPermitted):
    title = "Four-eyes principle"


class FourEyesConflict(FourEyesViolation):
    """An irreversible step (a repossession's execution, a credit-list entry) confirmed by the person who
    proposed it: it needs a second person (HTTP 403, as every four-eyes refusal in the platform)."""


APPEAL_LODGERS = frozenset({"household", "reviewer", "supervisor", "inspector", "admin"})
"""Who records a household's appeal: the household at the desk, or an officer on its behalf."""
APPEAL_DECIDERS = frozenset({"supervisor", "admin"})
"""Who decides an appeal: a supervisor (or the bureau's administrator), never a first pair of eyes."""
CONFIRMERS = frozenset({"supervisor"})
"""Who carries out an irreversible step (executes a repossession, enters a household on the credit
list): a supervisor, never the person who proposed it."""


def stamp(on: date, recorded_on: date | None, late_reason: str = "") -> dict[str, Any]:
    """The day a step happened and the day it was recorded (the same unless recorded late); events
    stored before the recording day was kept have none, and read as recorded on their own day."""
    return {"on": on, "recorded_on": recorded_on or on, "late_reason": late_reason}


# -- months and money ------------------------------------------------------------------------------


def money(value: Decimal) -> Decimal:
    """Round half up to the fen: the one rounding rule of every amount a household is told."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def month_of(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, month: date) -> int:
    return (month.year - first.year) * 12 + month.month - first.month


def last_day(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


def label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def parse_month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def transition_factor(step: int, rise: Decimal, rule: str) -> Decimal:
    """Rent of plan month `step` as a multiple of the base rent (exact, unrounded)."""
    if rule == "compound":
        return (Decimal(1) + rise) ** step
    return Decimal(1) + rise * step


def transition_rent(base: Decimal, step: int, rise: Decimal, rule: str) -> Decimal:
    return money(base * transition_factor(step, rise, rule))


def transition_schedule(
    base: Decimal, first_month: date, months: int, rise: Decimal, rule: str
) -> list[tuple[date, Decimal]]:
    """(month, rent) for each month of a plan."""
    return [
        (add_months(first_month, k - 1), transition_rent(base, k, rise, rule)) for k in range(1, months + 1)
    ]


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def unit_words(estate: str, building: str, unit: str) -> str:
    """How notices address a household: by its flat, never by a name."""
    return f"the household of unit {unit}, building {building}, {estate}"


# -- the tenancy and its ledger ---------------------------------------------------------------------


class Tenancy(Aggregate):
    """A household's tenancy as penalties keeps it: unit, base rent, exit decision, plan, ledger.

    The id is eligibility's household id, so a redelivered registration finds the existing aggregate.
    """

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return household_id

    class Registered(Aggregate.Created):
        household_id: UUID
        region: str
        estate: str
        building: str
        unit: str
        base_rent: Decimal
        tenancy_start: date

    @event(Registered)
    def __init__(
        self,
        household_id: UUID,
        region: str,
        estate: str,
        building: str,
        unit: str,
        base_rent: Decimal,
        tenancy_start: date,
    ) -> None:
        self.household_id = household_id
        self.region, self.estate, self.building, self.unit = region, estate, building, unit
        self.base_rent = base_rent
        self.tenancy_start = tenancy_start
        self.exit_decision: dict[str, Any] | None = None
        self.reviews: list[UUID] = []
        self.warnings: dict[str, dict[str, Any]] = {}
        self.transition: dict[str, Any] | None = None
        self.past_transitions: list[UUID] = []
        self.adjustments: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, dict[str, Any]] = {}
        self.voluntary: dict[str, Any] | None = None
        self.purchase_flagged = False
        self.sanction_ids: list[UUID] = []
        self.notice_ids: list[UUID] = []
        self.appeal_ids: list[UUID] = []
        self.exited: dict[str, Any] | None = None

    @property
    def address(self) -> str:
        return unit_words(self.estate, self.building, self.unit)

    # -- bases ---------------------------------------------------------------------------------------

    @event("ExitDecisionRecorded")
    def record_exit_decision(
        self, review_id: UUID, route: str, decided_on: date, low_income: bool, wants_to_buy: bool
    ) -> None:
        self.exit_decision = {
            "review_id": review_id,
            "route": route,
            "decided_on": decided_on,
            "low_income": low_income,
            "wants_to_buy": wants_to_buy,
        }
        if review_id not in self.reviews:
            self.reviews.append(review_id)

    @event("ViolationRecorded")
    def record_violation(self, warning_id: UUID, violation: str, confirmed_on: date) -> None:
        self.warnings[str(warning_id)] = {"violation": violation, "confirmed_on": confirmed_on}

    def basis_kind(self, basis_id: UUID, violation: str) -> str:
        """What `basis_id` is for this household, or `BasisError` when it is not a basis for `violation`."""
        warning = self.warnings.get(str(basis_id))
        if warning is not None:
            if violation != warning["violation"]:
                raise BasisError(f"warning {basis_id} confirmed {warning['violation']!r}, not {violation!r}")
            return "warning"
        if basis_id in self.reviews:
            if violation not in ("concealed_income", "concealed_assets"):
                raise BasisError(
                    f"an exit decision's review is a basis for concealed income or assets, not {violation!r}"
                )
            return "review"
        overdue = self.transition is not None and self.transition["state"] == "overdue"
        if overdue and self.transition is not None and self.transition["transition_id"] == basis_id:
            if violation != "overstaying":
                raise BasisError(f"an overdue plan is a basis for overstaying, not {violation!r}")
            return "transition"
        raise BasisError(
            f"{basis_id} is no confirmed violation, exit decision or overdue plan of household "
            f"{self.household_id} known to penalties"
        )

    def basis_date(self, basis_id: UUID) -> date:
        """The day the basis of a sanction came about: a sanction cannot be dated before it."""
        warning = self.warnings.get(str(basis_id))
        if warning is not None:
            return warning["confirmed_on"]  # type: ignore[no-any-return]
        decision = self.exit_decision
        if decision is not None and decision["review_id"] == basis_id:
            return decision["decided_on"]  # type: ignore[no-any-return]
        plan = self.transition
        if plan is not None and plan["transition_id"] == basis_id:
            return plan["exit_due_on"] + timedelta(days=1)  # type: ignore[no-any-return]
        return self.tenancy_start

    # -- transition plan -----------------------------------------------------------------------------

    def start_plan(
        self,
        transition_id: UUID,
        review_id: UUID,
        route: str,
        decided_on: date,
        months: int,
        rise: Decimal,
        rule: str,
        exit_notice_days: int,
        explanation: str,
    ) -> None:
        first = add_months(month_of(decided_on), 1)
        if route == "transition":
            due = last_day(add_months(first, months - 1))
        else:
            months, due = 0, decided_on + timedelta(days=exit_notice_days)
        self._plan_started(
            transition_id, review_id, route, first, months, rise, rule, due, self.estate, self.base_rent
        )
        if months > 0:
            self.adjust(transition_id, "transition", review_id, first, rise, months, rule, explanation)

    @event("TransitionStarted")
    def _plan_started(
        self,
        transition_id: UUID,
        review_id: UUID,
        route: str,
        first_month: date,
        months: int,
        rise: Decimal,
        rule: str,
        exit_due_on: date,
        estate: str,
        base_rent: Decimal,
    ) -> None:
        self.transition = {
            "transition_id": transition_id,
            "review_id": review_id,
            "route": route,
            "first_month": first_month,
            "months": months,
            "rise": rise,
            "rule": rule,
            "exit_due_on": exit_due_on,
            "state": "active",
        }

    @event("TransitionClosed")
    def close_plan(self, transition_id: UUID, how: str, on: date) -> None:
        assert self.transition is not None and self.transition["transition_id"] == transition_id
        self.transition["state"] = how
        if how != "overdue":
            self.past_transitions.append(transition_id)

    def plan_held(self) -> bool:
        """An open appeal against the decision the plan rests on: the plan cannot become overdue."""
        return any(h["released_on"] is None and h["covers_plan"] for h in self.holds.values())

    # -- ledger adjustments --------------------------------------------------------------------------

    def adjust(
        self,
        adjustment_id: UUID,
        kind: str,
        cause_id: UUID,
        first_month: date,
        rate: Decimal,
        months: int,
        rule: str,
        explanation: str,
    ) -> None:
        self._adjusted(
            adjustment_id, kind, cause_id, first_month, rate, months, rule, explanation, self.base_rent
        )

    @event("Adjusted")
    def _adjusted(
        self,
        adjustment_id: UUID,
        kind: str,
        cause_id: UUID,
        first_month: date,
        rate: Decimal,
        months: int,
        rule: str,
        explanation: str,
        base_rent: Decimal,
    ) -> None:
        self.adjustments[str(adjustment_id)] = {
            "adjustment_id": adjustment_id,
            "kind": kind,
            "cause_id": cause_id,
            "first_month": first_month,
            "last_month": None,
            "rate": rate,
            "months": months,
            "rule": rule,
            "explanation": explanation,
            "cancelled": False,
        }

    def end_adjustment(self, adjustment_id: UUID, last_month: date, reason: str) -> None:
        line = self.adjustments[str(adjustment_id)]
        if line["cancelled"] or line["last_month"] is not None:
            return
        last_month = max(last_month, add_months(line["first_month"], -1))
        self._adjustment_ended(
            adjustment_id, line["kind"], line["cause_id"], last_month, reason, self.base_rent
        )

    @event("AdjustmentEnded")
    def _adjustment_ended(
        self,
        adjustment_id: UUID,
        kind: str,
        cause_id: UUID,
        last_month: date,
        reason: str,
        base_rent: Decimal,
    ) -> None:
        self.adjustments[str(adjustment_id)]["last_month"] = last_month

    def cancel_adjustment(self, adjustment_id: UUID, reason: str) -> None:
        line = self.adjustments.get(str(adjustment_id))
        if line is None or line["cancelled"]:
            return
        self._adjustment_cancelled(
            adjustment_id, line["kind"], line["cause_id"], line["first_month"], reason, self.base_rent
        )

    @event("AdjustmentCancelled")
    def _adjustment_cancelled(
        self,
        adjustment_id: UUID,
        kind: str,
        cause_id: UUID,
        first_month: date,
        reason: str,
        base_rent: Decimal,
    ) -> None:
        self.adjustments[str(adjustment_id)]["cancelled"] = True

    def place_hold(
        self, hold_id: UUID, adjustment_ids: Iterable[UUID], since: date, reason: str, covers_plan: bool
    ) -> None:
        if str(hold_id) in self.holds:
            return
        lines = [
            {
                "adjustment_id": line["adjustment_id"],
                "kind": line["kind"],
                "cause_id": line["cause_id"],
                "explanation": line["explanation"],
            }
            for a in adjustment_ids
            if (line := self.adjustments.get(str(a))) is not None and not line["cancelled"]
        ]
        self._hold_placed(hold_id, lines, since, reason, covers_plan, self.base_rent)

    @event("HoldPlaced")
    def _hold_placed(
        self,
        hold_id: UUID,
        lines: list[dict[str, Any]],
        since: date,
        reason: str,
        covers_plan: bool,
        base_rent: Decimal,
    ) -> None:
        self.holds[str(hold_id)] = {
            "adjustments": [str(line["adjustment_id"]) for line in lines],
            "lines": lines,
            "since": since,
            "released_on": None,
            "reason": reason,
            "covers_plan": covers_plan,
        }

    def release_hold(self, hold_id: UUID, on: date, outcome: str) -> None:
        hold = self.holds.get(str(hold_id))
        if hold is None or hold["released_on"] is not None:
            return
        self._hold_released(hold_id, hold["lines"], on, outcome, self.base_rent)

    @event("HoldReleased")
    def _hold_released(
        self, hold_id: UUID, lines: list[dict[str, Any]], on: date, outcome: str, base_rent: Decimal
    ) -> None:
        self.holds[str(hold_id)]["released_on"] = on

    def open_adjustments(self) -> list[UUID]:
        return [
            line["adjustment_id"]
            for line in self.adjustments.values()
            if not line["cancelled"] and line["last_month"] is None
        ]

    # -- voluntary exit, purchase help -----------------------------------------------------------------

    def apply_voluntarily(
        self, applied_on: date, by: str | None, recorded_on: date | None = None, late_reason: str = ""
    ) -> None:
        decision = self.exit_decision or {}
        self._voluntary_applied(
            applied_on,
            by,
            self.estate,
            bool(decision.get("low_income", False)),
            bool(decision.get("wants_to_buy", False)),
            recorded_on or applied_on,
            late_reason,
        )

    @event("VoluntaryExitApplied")
    def _voluntary_applied(
        self,
        applied_on: date,
        by: str | None,
        estate: str,
        low_income: bool,
        wants_to_buy: bool,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        self.voluntary = {"applied_on": applied_on, "by": by, **stamp(applied_on, recorded_on, late_reason)}

    @event("PurchaseHelpFlagged")
    def flag_purchase_help(self, on: date, source: str, estate: str) -> None:
        self.purchase_flagged = True

    # -- links and the end ---------------------------------------------------------------------------

    @event("SanctionLinked")
    def link_sanction(self, sanction_id: UUID) -> None:
        self.sanction_ids.append(sanction_id)

    @event("NoticeLinked")
    def link_notice(self, notice_id: UUID) -> None:
        self.notice_ids.append(notice_id)

    @event("AppealLinked")
    def link_appeal(self, appeal_id: UUID) -> None:
        self.appeal_ids.append(appeal_id)

    def complete_exit(
        self, on: date, how: str, by: str, recorded_on: date | None = None, late_reason: str = ""
    ) -> None:
        if self.exited is not None:
            raise RuleError(f"the household left on {self.exited['on']}")
        self._exit_completed(
            on, how, by, self.estate, self.building, self.unit, recorded_on or on, late_reason
        )

    @event("ExitCompleted")
    def _exit_completed(
        self,
        on: date,
        how: str,
        by: str,
        estate: str,
        building: str,
        unit: str,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        self.exited = {"how": how, "by": by, **stamp(on, recorded_on, late_reason)}

    # -- the ledger ----------------------------------------------------------------------------------

    def held_since(self, adjustment_id: UUID) -> date | None:
        """Start of the open hold on an adjustment, if any."""
        starts = [
            h["since"]
            for h in self.holds.values()
            if h["released_on"] is None and str(adjustment_id) in h["adjustments"]
        ]
        return min(starts) if starts else None

    def statement(self, first: date, last: date) -> list[dict[str, Any]]:
        """The rent due month by month, each line with its cause and explanation."""
        months: list[dict[str, Any]] = []
        month = month_of(first)
        while month <= month_of(last):
            lines: list[dict[str, Any]] = []
            due = self.base_rent
            for line in self.adjustments.values():
                amount = line_amount(line, self.base_rent, month)
                if amount is None:
                    continue
                since = self.held_since(line["adjustment_id"])
                suspended = since is not None and month >= month_of(since)
                if not suspended:
                    due += amount
                lines.append(
                    {
                        "adjustment_id": str(line["adjustment_id"]),
                        "kind": line["kind"],
                        "cause_id": str(line["cause_id"]),
                        "amount": f"{amount:.2f}",
                        "status": "suspended" if suspended else "charged",
                        "explanation": line["explanation"],
                    }
                )
            months.append(
                {
                    "month": label(month),
                    "base_rent": f"{self.base_rent:.2f}",
                    "adjustments": lines,
                    "total_due": f"{money(due):.2f}",
                }
            )
            month = add_months(month, 1)
        return months


def line_amount(line: dict[str, Any], base: Decimal, month: date) -> Decimal | None:
    """What an adjustment adds to the base rent in `month`, or None when it does not apply."""
    if line["cancelled"] or month < line["first_month"]:
        return None
    if line["last_month"] is not None and month > line["last_month"]:
        return None
    if line["kind"] == "transition":
        step = min(months_between(line["first_month"], month) + 1, line["months"])
        return transition_rent(base, step, line["rate"], line["rule"]) - base
    return money(base * line["rate"])


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


# -- notice wording -----------------------------------------------------------------------------------


def appeal_words(until: date, what: str) -> str:
    return (
        f"How to appeal: you may appeal in writing until {until.isoformat()} at your estate's housing "
        f"service desk or through the housing bureau's online service, quoting this notice. While your "
        f"appeal is open, {what}."
    )


ELIGIBILITY_APPEAL = (
    "How to appeal: the exit decision itself is appealed to the housing bureau's review office within "
    "the period stated in the decision; while that appeal is open, the rent increases are suspended."
)
