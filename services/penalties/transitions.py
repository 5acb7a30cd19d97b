"""Eligibility's households and exit decisions (inbox), transition plans, the voluntary exit and its
one-time subsidy, and the end of a tenancy (keys returned, or a repossession carried out)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from contracts.eligibility import ExitDecided, HouseholdRegistered
from services.kit.uow import UnitOfWork
from services.penalties.core import recorded_view
from services.penalties.domain import (
    ELIGIBILITY_APPEAL,
    RuleError,
    Subsidy,
    Tenancy,
    label,
    month_of,
    percent,
    stamp,
    transition_schedule,
)
from services.penalties.ledger import Ledger


class Transitions(Ledger):
    # -- eligibility's households and decisions (inbox) --------------------------------------------------

    def on_household_registered(self, uow: UnitOfWork, payload: HouseholdRegistered) -> None:
        if uow.find(Tenancy.create_id(payload.household_id), Tenancy) is not None:
            return
        uow.add(
            Tenancy(
                payload.household_id,
                payload.region,
                payload.estate,
                payload.building,
                payload.unit,
                payload.base_rent,
                payload.tenancy_start,
            )
        )

    def on_exit_decided(self, uow: UnitOfWork, payload: ExitDecided) -> bool:
        tenancy = uow.find(Tenancy.create_id(payload.household_id), Tenancy)
        if tenancy is None:
            return False
        previous = tenancy.exit_decision
        if (
            previous is not None
            and previous["review_id"] == payload.review_id
            and previous["route"] == payload.route
            and previous["low_income"] == payload.low_income
            and previous["wants_to_buy"] == payload.wants_to_buy
        ):
            return True  # the same decision again (an appeal confirmed it): nothing changes
        tenancy.record_exit_decision(
            payload.review_id, payload.route, payload.decided_on, payload.low_income, payload.wants_to_buy
        )
        if payload.wants_to_buy and not tenancy.purchase_flagged:
            tenancy.flag_purchase_help(payload.decided_on, "exit_decision", tenancy.estate)
        if payload.route in ("transition", "exit"):
            self._start_plan(uow, tenancy, payload)
        elif payload.route == "voluntary" and tenancy.exited is None:
            self._apply_voluntarily(uow, tenancy, payload.decided_on, None)
        if tenancy.voluntary is not None and payload.low_income:
            self._award_subsidy(uow, tenancy, payload.decided_on)
        return True

    def _start_plan(self, uow: UnitOfWork, tenancy: Tenancy, payload: ExitDecided) -> None:
        current = tenancy.transition
        if current is not None and current["state"] in ("active", "overdue"):
            if current["review_id"] == payload.review_id and current["route"] == payload.route:
                return
            self._withdraw_plan(uow, tenancy, payload.decided_on, "replaced by a new exit decision")
        if tenancy.exited is not None:
            return
        policy = self.policy(tenancy, payload.decided_on)
        transition_id = uuid4()
        rise, rule, months = policy.transition_monthly_rise, policy.transition_rule, policy.transition_months
        explanation = (
            f"Transition rent: +{percent(rise)} a month ({rule} rule) for {months} months on the base rent "
            f"of {tenancy.base_rent:.2f} yuan, under exit decision {payload.review_id}."
        )
        tenancy.start_plan(
            transition_id,
            payload.review_id,
            payload.route,
            payload.decided_on,
            months,
            rise,
            rule,
            policy.exit_notice_days,
            explanation,
        )
        plan = tenancy.transition
        assert plan is not None
        if payload.route == "transition":
            schedule = transition_schedule(tenancy.base_rent, plan["first_month"], months, rise, rule)
            rule_words = (
                f"each month the rent rises by {percent(rise)} of the base rent"
                if rule == "simple"
                else f"each month the rent rises by {percent(rise)} of the previous month's rent"
            )
            self.issue_notice(
                uow,
                tenancy,
                "transition_started",
                transition_id,
                payload.decided_on,
                "Your transition period",
                f"you have a transition period of {months} months from {label(plan['first_month'])}; "
                f"{rule_words}. You must hand the flat back by {plan['exit_due_on'].isoformat()}.",
                "the housing bureau decided that your household no longer qualifies for subsidised "
                "housing and may leave in stages (exit decision of "
                f"{payload.decided_on.isoformat()}).",
                [("base rent", tenancy.base_rent), *((f"rent in {label(m)}", r) for m, r in schedule)],
                plan["exit_due_on"],
                None,
                ELIGIBILITY_APPEAL,
            )
        else:
            self.issue_notice(
                uow,
                tenancy,
                "exit_ordered",
                transition_id,
                payload.decided_on,
                "Your household must leave the flat",
                f"you must hand the flat back by {plan['exit_due_on'].isoformat()}; the rent stays at "
                f"{tenancy.base_rent:.2f} yuan until then.",
                "the housing bureau decided that your household no longer qualifies for subsidised "
                f"housing (exit decision of {payload.decided_on.isoformat()}).",
                [("monthly rent", tenancy.base_rent)],
                plan["exit_due_on"],
                None,
                ELIGIBILITY_APPEAL,
            )

    def _withdraw_plan(self, uow: UnitOfWork, tenancy: Tenancy, on: date, reason: str) -> None:
        plan = tenancy.transition
        if plan is None or plan["state"] not in ("active", "overdue"):
            return
        if str(plan["transition_id"]) in tenancy.adjustments:
            tenancy.cancel_adjustment(plan["transition_id"], reason)
        tenancy.close_plan(plan["transition_id"], "withdrawn", on)
        self.issue_notice(
            uow,
            tenancy,
            "transition_withdrawn",
            plan["transition_id"],
            on,
            "Your transition period is withdrawn",
            "the transition period and its rent increases no longer apply; any increase already paid "
            "is credited to your rent account.",
            reason + ".",
        )

    # -- voluntary exit and the subsidy ----------------------------------------------------------------

    def apply_voluntarily(
        self,
        household_id: UUID,
        by: str | None,
        *,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> dict[str, Any]:
        """Today, or a day within the late-recording window since the tenancy began, with a reason."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            tenancy = self.tenancy(uow, household_id)
            step = self.dated(tenancy, on, reason_late, tenancy.tenancy_start, "the tenancy's start")
            self._apply_voluntarily(uow, tenancy, step.on, by, step.recorded_on, step.reason or "")
            subsidy = None
            if tenancy.exit_decision is not None and tenancy.exit_decision["low_income"]:
                subsidy = self._award_subsidy(uow, tenancy, step.recorded_on)
            voluntary = tenancy.voluntary
            return {
                "household_id": str(household_id),
                "applied_on": voluntary["applied_on"].isoformat() if voluntary else None,
                "recorded": None
                if voluntary is None or "recorded_on" not in voluntary
                else recorded_view(voluntary),
                "subsidy": None if subsidy is None else self._subsidy_dict(subsidy),
            }

        return self.run(command)

    def _apply_voluntarily(
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        on: date,
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        if tenancy.voluntary is not None:
            return
        if tenancy.exited is not None:
            raise RuleError("the household has already left")
        tenancy.apply_voluntarily(on, by, recorded_on, late_reason)
        decision = tenancy.exit_decision or {}
        if decision.get("wants_to_buy") and not tenancy.purchase_flagged:
            tenancy.flag_purchase_help(on, "voluntary_application", tenancy.estate)
        self.issue_notice(
            uow,
            tenancy,
            "voluntary_exit_received",
            tenancy.id,
            recorded_on or on,
            "Your application to leave voluntarily",
            "we received your household's application to leave the flat voluntarily."
            + (
                " You asked for help to buy a home: the resettlement office will contact you about "
                "priority purchase and the reduced provident-fund loan rate."
                if decision.get("wants_to_buy")
                else ""
            ),
            "a household that leaves subsidised housing voluntarily receives the support of the exit "
            "incentives (a one-time subsidy for low-income households).",
        )

    def _award_subsidy(self, uow: UnitOfWork, tenancy: Tenancy, on: date) -> Subsidy:
        """Award the one-time subsidy, or return the one awarded before.

        `find` sees an award already stored; two writers that both miss it both create the aggregate
        with the same id, and the store refuses the second (the caller's commit fails and, retried,
        finds the first award)."""
        existing = uow.find(Subsidy.create_id(tenancy.household_id), Subsidy)
        if existing is not None:
            return existing
        policy = self.policy(tenancy, on)
        subsidy = Subsidy(
            tenancy.household_id,
            policy.subsidy_amount,
            on,
            tenancy.estate,
            policy.references["subsidy_amount"],
        )
        uow.add(subsidy)
        self.issue_notice(
            uow,
            tenancy,
            "subsidy_awarded",
            subsidy.id,
            on,
            "Your voluntary-exit subsidy",
            f"your household receives a one-time subsidy of {policy.subsidy_amount:.2f} yuan for "
            "leaving the flat voluntarily. It is paid once.",
            "your household is a low-income household and applied to leave voluntarily.",
            [("one-time subsidy", policy.subsidy_amount)],
        )
        return subsidy

    # -- the end of the tenancy ------------------------------------------------------------------------

    def record_keys_returned(
        self, household_id: UUID, by: str, *, on: date | None = None, reason_late: str | None = None
    ) -> dict[str, Any]:
        """The hand-back of a household with an exit decision (409 without one): today, or a day
        within the late-recording window, never before the decision or the tenancy's start (422)."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            tenancy = self.tenancy(uow, household_id)
            decision = tenancy.exit_decision
            if decision is None:
                raise RuleError("the household has no exit decision: the keys are handed back after one")
            if tenancy.exited is not None:
                raise RuleError(f"the household left on {tenancy.exited['on']}")
            decided_on: date = decision["decided_on"]
            start = tenancy.tenancy_start
            not_before, what = (
                (decided_on, "the exit decision") if decided_on >= start else (start, "the tenancy's start")
            )
            step = self.dated(tenancy, on, reason_late, not_before, what)
            late = step.reason or ""
            self._complete_exit(uow, tenancy, step.on, "keys_returned", by, step.recorded_on, late)
            for sanction_id in tenancy.sanction_ids:
                sanction = self.sanction(uow, sanction_id)
                if sanction.kind == "repossession" and sanction.open:
                    sanction.withdraw(step.on, "the flat was handed back", by, step.recorded_on, late)
            return {
                "household_id": str(household_id),
                "completed_on": step.on.isoformat(),
                "how": "keys_returned",
                "recorded": recorded_view(stamp(step.on, step.recorded_on, late)),
            }

        return self.run(command)

    def _complete_exit(
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        on: date,
        how: str,
        by: str,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        tenancy.complete_exit(on, how, by, recorded_on, late_reason)
        for adjustment_id in tenancy.open_adjustments():
            tenancy.end_adjustment(adjustment_id, month_of(on), "the flat was handed back")
        for sanction_id in tenancy.sanction_ids:
            sanction = self.sanction(uow, sanction_id)
            if sanction.kind == "rent_surcharge" and sanction.open:
                sanction.lift(on, "the tenancy ended: the flat was handed back", by, recorded_on, late_reason)
        plan = tenancy.transition
        if plan is not None and plan["state"] in ("active", "overdue"):
            tenancy.close_plan(plan["transition_id"], "exited", on)
        self.issue_notice(
            uow,
            tenancy,
            "exit_completed",
            tenancy.id,
            recorded_on or on,
            "Your tenancy has ended",
            f"the flat was handed back on {on.isoformat()}; rent is due up to and including "
            f"{label(month_of(on))}.",
            "the keys were returned." if how == "keys_returned" else "the repossession was carried out.",
        )
