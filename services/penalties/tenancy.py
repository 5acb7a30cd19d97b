"""The `Tenancy` aggregate: a household's unit, base rent, exit decision, transition plan, and its rent
ledger (adjustments and holds). No I/O. The ledger's rules are described in `domain.py`.

Stored events name this class by its old topic, `services.penalties.domain:Tenancy` (and
`services.penalties.domain:Tenancy.<Event>` for each of its events), from before it moved here: every
one is registered below, so they still resolve (`eventsourcing.utils.resolve_topic`). Keep them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from services.kit.clock import Aggregate
from services.penalties.errors import BasisError, RuleError
from services.penalties.schedule import add_months, held_since, last_day, month_of, stamp, statement
from services.penalties.words import unit_words


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
        return held_since(self.holds, adjustment_id)

    def statement(self, first: date, last: date) -> list[dict[str, Any]]:
        """The rent due month by month, each line with its cause and explanation."""
        return statement(self.base_rent, self.adjustments, self.holds, first, last)


OLD_MODULE = "services.penalties.domain"
"""Where `Tenancy` and its events were defined when their first events were stored."""


def _register_old_topics() -> None:
    register_topic(f"{OLD_MODULE}:{Tenancy.__qualname__}", Tenancy)
    for attribute in vars(Tenancy).values():
        if isinstance(attribute, type) and issubclass(attribute, Aggregate.Event):
            register_topic(f"{OLD_MODULE}:{attribute.__qualname__}", attribute)


_register_old_topics()
