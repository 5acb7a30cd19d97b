"""Reads of one household or object: the rent ledger, a plan, a sanction, an appeal, the subsidy, the
timeline's ids. Each step shows the day it happened and the day it was recorded (`recorded`)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.penalties.core import MAX_STATEMENT_MONTHS, NotFound, recorded_view
from services.penalties.domain import (
    VIOLATION_WORDS,
    Appeal,
    Sanction,
    Subsidy,
    Tenancy,
    add_months,
    label,
    month_of,
    transition_schedule,
)
from services.penalties.notices import Notices


class Ledger(Notices):
    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{aggregate_id} does not exist") from None

    def load_tenancy(self, household_id: UUID) -> Tenancy:
        tenancy = self._get(Tenancy.create_id(household_id))
        assert isinstance(tenancy, Tenancy)
        return tenancy

    def ledger(self, household_id: UUID, first: date | None, last: date | None) -> dict[str, Any]:
        tenancy = self.load_tenancy(household_id)
        starts = [line["first_month"] for line in tenancy.adjustments.values()]
        today = month_of(self.today())
        first = month_of(first) if first else min([*starts, today])
        if last is None:
            ends = [line["first_month"] for line in tenancy.adjustments.values()]
            if tenancy.transition is not None and tenancy.transition["months"]:
                ends.append(add_months(tenancy.transition["first_month"], tenancy.transition["months"] - 1))
            last = max([*ends, today])
            if tenancy.exited is not None:
                last = month_of(tenancy.exited["on"])
        if (last.year - first.year) * 12 + last.month - first.month >= MAX_STATEMENT_MONTHS:
            first = add_months(last, 1 - MAX_STATEMENT_MONTHS)  # the latest ten years
        adjustments = [
            {
                "adjustment_id": str(line["adjustment_id"]),
                "kind": line["kind"],
                "cause_id": str(line["cause_id"]),
                "first_month": label(line["first_month"]),
                "last_month": None if line["last_month"] is None else label(line["last_month"]),
                "rate": str(line["rate"]),
                "rule": line["rule"] or None,
                "cancelled": line["cancelled"],
                "held_since": None
                if (since := tenancy.held_since(line["adjustment_id"])) is None
                else since.isoformat(),
                "explanation": line["explanation"],
            }
            for line in tenancy.adjustments.values()
        ]
        return {
            "household_id": str(household_id),
            "estate": tenancy.estate,
            "building": tenancy.building,
            "unit": tenancy.unit,
            "base_rent": f"{tenancy.base_rent:.2f}",
            "rounding": "each month's amount rounded half up to 0.01 yuan from the exact value",
            "adjustments": adjustments,
            "months": tenancy.statement(first, last),
            "transition": self.transition_dict(tenancy),
            "exited": self.exit_dict(tenancy),
        }

    @staticmethod
    def exit_dict(tenancy: Tenancy) -> dict[str, Any] | None:
        """The hand-back: the day it happened (`on`), how, and the day it was recorded."""
        exited = tenancy.exited
        if exited is None:
            return None
        stamped = {"recorded_on": exited["on"], "late_reason": "", **exited}
        return {"how": exited["how"], "by": exited["by"], **recorded_view(stamped)}

    def transition_dict(self, tenancy: Tenancy) -> dict[str, Any] | None:
        plan = tenancy.transition
        if plan is None:
            return None
        schedule = transition_schedule(
            tenancy.base_rent, plan["first_month"], plan["months"], plan["rise"], plan["rule"]
        )
        return {
            "household_id": str(tenancy.household_id),
            "estate": tenancy.estate,
            "transition_id": str(plan["transition_id"]),
            "review_id": str(plan["review_id"]),
            "route": plan["route"],
            "state": plan["state"],
            "held": tenancy.plan_held(),
            "first_month": label(plan["first_month"]),
            "months": plan["months"],
            "monthly_rise": str(plan["rise"]),
            "rule": plan["rule"],
            "exit_due_on": plan["exit_due_on"].isoformat(),
            "schedule": [{"month": label(m), "rent": f"{r:.2f}"} for m, r in schedule],
        }

    def sanction_dict(self, sanction: Sanction) -> dict[str, Any]:
        return {
            "sanction_id": str(sanction.id),
            "household_id": str(sanction.household_id),
            "estate": sanction.estate,
            "kind": sanction.kind,
            "violation": sanction.violation,
            "basis_kind": sanction.basis_kind,
            "basis_id": str(sanction.basis_id),
            "state": sanction.state,
            "reason": f"{VIOLATION_WORDS[sanction.violation]} ({sanction.basis_kind} {sanction.basis_id})",
            "in_force": sanction.open
            and sanction.state != "proposed"
            and sanction.suspended_by is None
            and (sanction.ends_on is None or self.today() <= sanction.ends_on),
            "suspended_by_appeal": None if sanction.suspended_by is None else str(sanction.suspended_by),
            "appeals": [str(a) for a in sanction.appeal_ids],
            "imposed_on": sanction.imposed_on.isoformat(),
            "imposed_by": sanction.imposed_by,
            "effective_from": sanction.effective_from.isoformat(),
            "ends_on": None if sanction.ends_on is None else sanction.ends_on.isoformat(),
            "surcharge_rate": None if sanction.rate is None else str(sanction.rate),
            "appeal_until": sanction.appeal_until.isoformat(),
            "deadline": None if sanction.deadline is None else sanction.deadline.isoformat(),
            "closed_on": None if sanction.closed_on is None else sanction.closed_on.isoformat(),
            "closing_reason": sanction.closing_reason,
            "note": sanction.note,
            "awaiting_entry": sanction.state == "proposed",
            "entered": None
            if sanction.entered is None
            else {**sanction.entered, "on": sanction.entered["on"].isoformat()},
            "execution_proposed": None
            if sanction.execution_proposed is None
            else {**sanction.execution_proposed, "on": sanction.execution_proposed["on"].isoformat()},
            "recorded": {step: recorded_view(s) for step, s in sanction.recorded.items()},
        }

    def appeal_dict(self, appeal: Appeal) -> dict[str, Any]:
        return {
            "appeal_id": str(appeal.id),
            "household_id": str(appeal.household_id),
            "estate": appeal.estate,
            "sanction_id": str(appeal.sanction_id),
            "state": appeal.state,
            "lodged_on": appeal.lodged_on.isoformat(),
            "lodged_by": appeal.lodged_by,
            "grounds": appeal.grounds,
            "resolved_on": None if appeal.resolved_on is None else appeal.resolved_on.isoformat(),
            "resolved_by": appeal.resolved_by,
            "note": appeal.note,
            "recorded": {step: recorded_view(s) for step, s in appeal.recorded.items()},
        }

    def get_sanction(self, sanction_id: UUID) -> dict[str, Any]:
        sanction = self._get(sanction_id)
        if not isinstance(sanction, Sanction):
            raise NotFound(f"sanction {sanction_id} does not exist")
        return self.sanction_dict(sanction)

    def get_appeal(self, appeal_id: UUID) -> dict[str, Any]:
        appeal = self._get(appeal_id)
        if not isinstance(appeal, Appeal):
            raise NotFound(f"appeal {appeal_id} does not exist")
        return self.appeal_dict(appeal)

    def household_sanctions(self, household_id: UUID) -> list[dict[str, Any]]:
        tenancy = self.load_tenancy(household_id)
        return [self.sanction_dict(self._get(s)) for s in tenancy.sanction_ids]

    def household_notices(self, household_id: UUID) -> list[dict[str, Any]]:
        tenancy = self.load_tenancy(household_id)
        return [self.notice_dict(self._get(n)) for n in tenancy.notice_ids]

    def household_subsidy(self, household_id: UUID) -> dict[str, Any] | None:
        try:
            subsidy: Subsidy = self.repository.get(Subsidy.create_id(household_id))
        except AggregateNotFoundError:
            return None
        return self._subsidy_dict(subsidy)

    def _subsidy_dict(self, subsidy: Subsidy) -> dict[str, Any]:
        return {
            "subsidy_id": str(subsidy.id),
            "amount": f"{subsidy.amount:.2f}",
            "awarded_on": subsidy.awarded_on.isoformat(),
        }

    def timeline_ids(self, household_id: UUID) -> list[UUID]:
        tenancy = self.load_tenancy(household_id)
        ids = [tenancy.id, *tenancy.sanction_ids, *tenancy.appeal_ids, *tenancy.notice_ids]
        if self.household_subsidy(household_id) is not None:
            ids.append(Subsidy.create_id(household_id))
        return ids
