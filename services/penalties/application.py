"""Penalties' Application: commands (from the inbox and from HTTP) and queries.

Every command works on a `UnitOfWork`: the inbox hands one in (committed with its tracking record),
HTTP commands get one from `run`, which commits it and retries on a version conflict. No command takes
a lock: concurrency is the store's business (optimistic versions, and for the one-time subsidy a
deterministic aggregate id whose second creation the store refuses).

The views the list endpoints read (`catch_up`) are folds of this application's notification log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from contracts.eligibility import (
    AppealLodged,
    AppealResolved,
    ExitDecided,
    HouseholdRegistered,
)
from contracts.monitoring import OccupancyWarningRectified, ViolationConfirmed
from services.kit.clock import Clock
from services.kit.paging import Page, instant, paginate
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork, run_in_unit_of_work
from services.kit.views import follow
from services.penalties.domain import (
    ELIGIBILITY_APPEAL,
    VIOLATION_WORDS,
    Appeal,
    BasisError,
    Notice,
    RuleError,
    Sanction,
    Subsidy,
    Tenancy,
    add_months,
    appeal_words,
    label,
    last_day,
    money,
    month_of,
    percent,
    transition_schedule,
)
from services.penalties.parameters import ParameterTable, Policy, load
from services.penalties.settings import PenaltiesSettings

T = TypeVar("T")
Sees = Callable[[object], bool]
"""Whether the caller may see an object of an estate (`Caller.sees_estate`)."""

MAX_STATEMENT_MONTHS = 120
MAX_RECORDED_FAILURES = 5
"""Failed deliveries recorded on a notice; later ones (a webhook down for days) are only logged."""


class NotFound(LookupError):
    """The named household, sanction, appeal or notice is unknown here (HTTP 404)."""


class OutsideWindow(RuleError):
    """An appeal lodged outside its window (HTTP 422)."""


@dataclass
class SanctionView:
    sanction_id: UUID
    household_id: UUID
    estate: str
    kind: str
    violation: str
    state: str
    imposed_at: str = ""
    """When it was imposed (`paging.instant`): its place in the list, which never changes."""
    suspended: bool = False


class PenaltiesApp(ServiceApplication):
    def __init__(
        self,
        settings: PenaltiesSettings,
        env: dict[str, str] | None = None,
        table: ParameterTable | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, env, clock)
        self.config = settings
        self.table = table or load()
        self.lock = threading.RLock()
        self._seen = 0
        self.conflicts = 0
        """Commands run again after a version conflict (for tests and curiosity)."""
        self.estates: dict[UUID, str] = {}
        self.transitions: dict[UUID, dict[str, Any]] = {}
        self.sanctions: dict[UUID, SanctionView] = {}
        self.appeals: dict[UUID, dict[str, Any]] = {}
        self.pending_notices: dict[UUID, int] = {}
        self.notices_issued = 0
        self.notices_delivered = 0
        self.subsidies: dict[UUID, Decimal] = {}
        self.exits: dict[str, int] = {}

    # -- time and policy -------------------------------------------------------------------------------

    def policy(self, tenancy: Tenancy | None, on: date) -> Policy:
        region = tenancy.region if tenancy is not None else self.config.default_region
        return self.table.policy(region, on)

    # -- running a command -----------------------------------------------------------------------------

    def run(self, command: Callable[[UnitOfWork], T], attempts: int = 5) -> T:
        """Run `command` as one unit of work, again on fresh state after a version conflict (the kit's
        `run_in_unit_of_work`), then bring the views up to date."""
        result = run_in_unit_of_work(self, command, attempts=attempts, on_conflict=self._conflicted)
        self.catch_up()
        return result

    def _conflicted(self) -> None:
        self.conflicts += 1

    def tenancy(self, uow: UnitOfWork, household_id: UUID) -> Tenancy:
        tenancy = uow.find(Tenancy.create_id(household_id), Tenancy)
        if tenancy is None:
            raise NotFound(f"household {household_id} is not registered with penalties")
        return tenancy

    def sanction(self, uow: UnitOfWork, sanction_id: UUID) -> Sanction:
        sanction = uow.find(sanction_id, Sanction)
        if sanction is None:
            raise NotFound(f"sanction {sanction_id} does not exist")
        return sanction

    # -- notices ---------------------------------------------------------------------------------------

    def issue_notice(
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        kind: str,
        reference: UUID,
        on: date,
        title: str,
        what: str,
        why: str,
        amounts: list[tuple[str, Decimal]] = (),  # type: ignore[assignment]
        deadline: date | None = None,
        appeal_until: date | None = None,
        appeal: str = "",
    ) -> Notice | None:
        """A notice: what, why, amounts, deadline, how to appeal; addressed to the flat, never a name."""
        notice_id = Notice.create_id(tenancy.household_id, kind, reference)
        if uow.find(notice_id, Notice) is not None:
            return None  # the same decision notified before (a retried command)
        parts = [f"To {tenancy.address}.", f"What: {what}", f"Why: {why}"]
        if amounts:
            parts.append(
                "Amounts: " + "; ".join(f"{name}: {value:.2f} yuan" for name, value in amounts) + "."
            )
        if deadline is not None:
            parts.append(f"Deadline: {deadline.isoformat()}.")
        if appeal:
            parts.append(appeal)
        notice = Notice(
            tenancy.household_id,
            tenancy.estate,
            kind,
            reference,
            on,
            title,
            "\n".join(parts),
            [[name, f"{value:.2f}"] for name, value in amounts],
            deadline,
            appeal_until,
        )
        uow.add(notice)
        tenancy.link_notice(notice.id)
        return notice

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

    def apply_voluntarily(self, household_id: UUID, on: date, by: str | None) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            tenancy = self.tenancy(uow, household_id)
            self._apply_voluntarily(uow, tenancy, on, by)
            subsidy = None
            if tenancy.exit_decision is not None and tenancy.exit_decision["low_income"]:
                subsidy = self._award_subsidy(uow, tenancy, on)
            return {
                "household_id": str(household_id),
                "applied_on": tenancy.voluntary["applied_on"].isoformat() if tenancy.voluntary else None,
                "subsidy": None if subsidy is None else self._subsidy_dict(subsidy),
            }

        return self.run(command)

    def _apply_voluntarily(self, uow: UnitOfWork, tenancy: Tenancy, on: date, by: str | None) -> None:
        if tenancy.voluntary is not None:
            return
        if tenancy.exited is not None:
            raise RuleError("the household has already left")
        tenancy.apply_voluntarily(on, by)
        decision = tenancy.exit_decision or {}
        if decision.get("wants_to_buy") and not tenancy.purchase_flagged:
            tenancy.flag_purchase_help(on, "voluntary_application", tenancy.estate)
        self.issue_notice(
            uow,
            tenancy,
            "voluntary_exit_received",
            tenancy.id,
            on,
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

    def _subsidy_dict(self, subsidy: Subsidy) -> dict[str, Any]:
        return {
            "subsidy_id": str(subsidy.id),
            "amount": f"{subsidy.amount:.2f}",
            "awarded_on": subsidy.awarded_on.isoformat(),
        }

    # -- violations and sanctions ----------------------------------------------------------------------

    def on_violation_confirmed(self, uow: UnitOfWork, payload: ViolationConfirmed) -> bool:
        """Record the basis and impose the default sanction, the rent surcharge; the credit list and
        repossession are an operator's decision on the same basis."""
        tenancy = uow.find(Tenancy.create_id(payload.household_id), Tenancy)
        if tenancy is None:
            return False
        if str(payload.warning_id) not in tenancy.warnings:
            tenancy.record_violation(payload.warning_id, payload.violation, payload.confirmed_on)
        self._impose(
            uow,
            tenancy,
            "rent_surcharge",
            payload.violation,
            payload.warning_id,
            payload.confirmed_on,
            None,
            "",
        )
        return True

    def impose(
        self, household_id: UUID, kind: str, violation: str, basis_id: UUID, on: date, by: str, note: str
    ) -> tuple[dict[str, Any], bool]:
        """An operator's sanction on a named basis; `(sanction, created)`."""

        def command(uow: UnitOfWork) -> tuple[dict[str, Any], bool]:
            tenancy = self.tenancy(uow, household_id)
            sanction, created = self._impose(uow, tenancy, kind, violation, basis_id, on, by, note)
            return self.sanction_dict(sanction), created

        return self.run(command)

    def _impose(
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        kind: str,
        violation: str,
        basis_id: UUID,
        on: date,
        by: str | None,
        note: str,
    ) -> tuple[Sanction, bool]:
        basis_kind = tenancy.basis_kind(basis_id, violation)  # raises BasisError
        sanction_id = Sanction.create_id(tenancy.household_id, basis_id, kind)
        existing = uow.find(sanction_id, Sanction)
        if existing is not None:
            return existing, False
        if tenancy.exited is not None and kind != "credit_list":
            raise RuleError("the household has left the flat: only a credit-list entry can still apply")
        policy = self.policy(tenancy, on)
        effective = on
        ends_on = None
        rate = None
        if kind == "rent_surcharge":
            effective = add_months(month_of(on), 1)
            rate = policy.surcharge_rate
        elif kind == "credit_list":
            ends_on = on + timedelta(days=policy.credit_list_days)
        appeal_until = on + timedelta(days=policy.appeal_window_days)
        sanction = Sanction(
            tenancy.household_id,
            kind,
            violation,
            basis_kind,
            basis_id,
            on,
            effective,
            ends_on,
            rate,
            appeal_until,
            by,
            note,
            tenancy.estate,
        )
        uow.add(sanction)
        tenancy.link_sanction(sanction.id)
        words = VIOLATION_WORDS[violation]
        why = {
            "warning": f"an inspection confirmed {words} (reference: warning {basis_id}).",
            "review": f"the exit review found {words} (reference: review {basis_id}).",
            "transition": f"your household is {words} (reference: plan {basis_id}).",
        }[basis_kind]
        if kind == "rent_surcharge":
            assert rate is not None
            surcharge = money(tenancy.base_rent * rate)
            tenancy.adjust(
                sanction.id,
                "surcharge",
                sanction.id,
                effective,
                rate,
                0,
                "",
                f"Rent surcharge of {percent(rate)} of the base rent ({surcharge:.2f} yuan a month) from "
                f"{label(effective)} for {VIOLATION_WORDS[violation]}.",
            )
            self.issue_notice(
                uow,
                tenancy,
                "sanction_imposed",
                sanction.id,
                on,
                "Rent surcharge",
                f"from {effective.isoformat()} your rent rises by {percent(rate)} of the base rent, "
                f"{surcharge:.2f} yuan a month, until the violation is put right.",
                why,
                [
                    ("base rent", tenancy.base_rent),
                    ("surcharge a month", surcharge),
                    ("rent a month with the surcharge", tenancy.base_rent + surcharge),
                ],
                None,
                appeal_until,
                appeal_words(appeal_until, "the surcharge is suspended"),
            )
        elif kind == "credit_list":
            assert ends_on is not None
            self.issue_notice(
                uow,
                tenancy,
                "sanction_imposed",
                sanction.id,
                on,
                "Entry in the credit list",
                f"your household is entered in the housing credit (dishonesty) list from {on.isoformat()} "
                f"until {ends_on.isoformat()}; the entry is removed earlier once the violation is put right.",
                why,
                [],
                None,
                appeal_until,
                appeal_words(appeal_until, "the entry is suspended"),
            )
        else:
            self.issue_notice(
                uow,
                tenancy,
                "sanction_imposed",
                sanction.id,
                on,
                "Repossession order",
                "the housing bureau has ordered the repossession of the flat. A notice with the date by "
                "which you must hand the flat back will be served on you.",
                why,
                [],
                None,
                appeal_until,
                appeal_words(appeal_until, "the repossession cannot be carried out"),
            )
        return sanction, True

    def on_warning_rectified(self, uow: UnitOfWork, payload: OccupancyWarningRectified) -> None:
        """Removal on rectification: the credit-list entry and the surcharge resting on the warning end."""
        tenancy = uow.find(Tenancy.create_id(payload.household_id), Tenancy)
        if tenancy is None:
            return
        for kind in ("rent_surcharge", "credit_list"):
            sanction = uow.find(Sanction.create_id(payload.household_id, payload.warning_id, kind), Sanction)
            if sanction is not None and sanction.open:
                self._lift(uow, tenancy, sanction, payload.rectified_on, "the violation was put right", None)

    def _lift(
        self, uow: UnitOfWork, tenancy: Tenancy, sanction: Sanction, on: date, reason: str, by: str | None
    ) -> None:
        sanction.lift(on, reason, by)
        if sanction.kind == "rent_surcharge":
            tenancy.end_adjustment(sanction.id, month_of(on), reason)
        what = {
            "rent_surcharge": f"the rent surcharge ends; {label(month_of(on))} is its last month.",
            "credit_list": "your household's entry in the credit list is removed.",
            "repossession": "the repossession order is lifted.",
        }[sanction.kind]
        self.issue_notice(
            uow, tenancy, "sanction_lifted", sanction.id, on, "Sanction lifted", what, reason + "."
        )

    def lift(self, sanction_id: UUID, on: date, by: str, reason: str) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            self._lift(uow, tenancy, sanction, on, reason, by)
            return self.sanction_dict(sanction)

        return self.run(command)

    def withdraw(self, sanction_id: UUID, on: date, by: str | None, reason: str) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            self._withdraw(uow, tenancy, sanction, on, reason, by)
            return self.sanction_dict(sanction)

        return self.run(command)

    def _withdraw(
        self, uow: UnitOfWork, tenancy: Tenancy, sanction: Sanction, on: date, reason: str, by: str | None
    ) -> None:
        """Withdrawn from the start: a surcharge is cancelled (never due, any payment credited)."""
        sanction.withdraw(on, reason, by)
        if sanction.kind == "rent_surcharge":
            tenancy.cancel_adjustment(sanction.id, reason)
        self.issue_notice(
            uow,
            tenancy,
            "sanction_withdrawn",
            sanction.id,
            on,
            "Sanction withdrawn",
            {
                "rent_surcharge": (
                    "the rent surcharge is withdrawn from its start; anything paid is credited."
                ),
                "credit_list": "your household's entry in the credit list is withdrawn.",
                "repossession": "the repossession order is withdrawn.",
            }[sanction.kind],
            reason + ".",
        )

    def serve_repossession(self, sanction_id: UUID, on: date, by: str) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            deadline = on + timedelta(days=self.policy(tenancy, on).repossession_notice_days)
            sanction.serve_notice(on, deadline, by)
            self.issue_notice(
                uow,
                tenancy,
                "repossession_notice",
                sanction.id,
                on,
                "Notice of repossession",
                f"you must hand the flat and its keys back by {deadline.isoformat()}. After that date the "
                "housing bureau takes the flat back.",
                f"the repossession order of {sanction.imposed_on.isoformat()} for "
                f"{VIOLATION_WORDS[sanction.violation]}.",
                [],
                deadline,
                sanction.appeal_until,
                appeal_words(sanction.appeal_until, "the repossession cannot be carried out"),
            )
            return self.sanction_dict(sanction)

        return self.run(command)

    def execute_repossession(self, sanction_id: UUID, on: date, by: str) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            sanction.execute(on, by)
            self._complete_exit(uow, tenancy, on, "repossessed", by)
            return self.sanction_dict(sanction)

        return self.run(command)

    # -- the end of the tenancy ------------------------------------------------------------------------

    def record_keys_returned(self, household_id: UUID, on: date, by: str) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            tenancy = self.tenancy(uow, household_id)
            self._complete_exit(uow, tenancy, on, "keys_returned", by)
            for sanction_id in tenancy.sanction_ids:
                sanction = self.sanction(uow, sanction_id)
                if sanction.kind == "repossession" and sanction.open:
                    sanction.withdraw(on, "the flat was handed back", by)
            return {"household_id": str(household_id), "completed_on": on.isoformat(), "how": "keys_returned"}

        return self.run(command)

    def _complete_exit(self, uow: UnitOfWork, tenancy: Tenancy, on: date, how: str, by: str) -> None:
        tenancy.complete_exit(on, how, by)
        for adjustment_id in tenancy.open_adjustments():
            tenancy.end_adjustment(adjustment_id, month_of(on), "the flat was handed back")
        for sanction_id in tenancy.sanction_ids:
            sanction = self.sanction(uow, sanction_id)
            if sanction.kind == "rent_surcharge" and sanction.open:
                sanction.lift(on, "the tenancy ended: the flat was handed back", by)
        plan = tenancy.transition
        if plan is not None and plan["state"] in ("active", "overdue"):
            tenancy.close_plan(plan["transition_id"], "exited", on)
        self.issue_notice(
            uow,
            tenancy,
            "exit_completed",
            tenancy.id,
            on,
            "Your tenancy has ended",
            f"the flat was handed back on {on.isoformat()}; rent is due up to and including "
            f"{label(month_of(on))}.",
            "the keys were returned." if how == "keys_returned" else "the repossession was carried out.",
        )

    # -- overstaying -----------------------------------------------------------------------------------

    def overdue_check(self, on: date) -> list[UUID]:
        """Plans whose exit date passed before `on` become an `overstaying` violation with a surcharge."""
        self.catch_up()
        with self.lock:
            due = [
                h for h, plan in self.transitions.items() if plan["state"] == "active" and plan["due"] < on
            ]
        sanctioned: list[UUID] = []
        for household_id in due:

            def command(uow: UnitOfWork, household_id: UUID = household_id) -> UUID | None:
                tenancy = self.tenancy(uow, household_id)
                plan = tenancy.transition
                if plan is None or plan["state"] != "active" or plan["exit_due_on"] >= on:
                    return None
                if tenancy.exited is not None or tenancy.plan_held():
                    return None  # an open appeal against the decision holds the plan
                tenancy.close_plan(plan["transition_id"], "overdue", on)
                sanction, _ = self._impose(
                    uow, tenancy, "rent_surcharge", "overstaying", plan["transition_id"], on, None, ""
                )
                return sanction.id

            sanction_id = self.run(command)
            if sanction_id is not None:
                sanctioned.append(sanction_id)
        return sanctioned

    # -- appeals ---------------------------------------------------------------------------------------

    def lodge_appeal(
        self, sanction_id: UUID, on: date, grounds: str, by: str, *, role: str
    ) -> dict[str, Any]:
        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            if on < sanction.imposed_on or on > sanction.appeal_until:
                raise OutsideWindow(
                    f"appeals against this sanction are accepted from {sanction.imposed_on} until "
                    f"{sanction.appeal_until}"
                )
            appeal = Appeal.lodge(sanction.household_id, sanction.id, on, grounds, by, role, tenancy.estate)
            sanction.suspend(appeal.id, on)
            uow.add(appeal)
            tenancy.link_appeal(appeal.id)
            if sanction.kind == "rent_surcharge":
                tenancy.place_hold(appeal.id, [sanction.id], on, f"appeal {appeal.id}", covers_plan=False)
            self.issue_notice(
                uow,
                tenancy,
                "appeal_received",
                appeal.id,
                on,
                "Your appeal was received",
                "your appeal against the sanction is registered; the sanction is suspended until it is "
                "decided.",
                "you appealed within the appeal period.",
            )
            return self.appeal_dict(appeal)

        return self.run(command)

    def resolve_appeal(
        self, appeal_id: UUID, outcome: str, on: date, by: str, note: str, *, role: str
    ) -> dict[str, Any]:
        """Decided by `by` acting as `role`: the appeal itself refuses the wrong role or a first pair
        of eyes (who recorded it, who imposed the sanction)."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            appeal = uow.find(appeal_id, Appeal)
            if appeal is None:
                raise NotFound(f"appeal {appeal_id} does not exist")
            sanction = self.sanction(uow, appeal.sanction_id)
            tenancy = self.tenancy(uow, appeal.household_id)
            appeal.resolve(outcome, on, by, role, note, sanction.imposed_by)
            tenancy.release_hold(appeal.id, on, outcome)
            if outcome == "upheld":
                sanction.resume(on, f"appeal {appeal.id} upheld", by)
                if sanction.open:
                    self._withdraw(uow, tenancy, sanction, on, f"appeal upheld: {note}".strip(": "), by)
            else:
                sanction.resume(on, f"appeal {appeal.id} dismissed", by)
            self.issue_notice(
                uow,
                tenancy,
                "appeal_decided",
                appeal.id,
                on,
                "Decision on your appeal",
                "your appeal is upheld: the sanction is withdrawn."
                if outcome == "upheld"
                else "your appeal is dismissed: the sanction applies again, including the months it was "
                "suspended.",
                note or "the housing bureau reviewed your appeal.",
            )
            return self.appeal_dict(appeal)

        return self.run(command)

    def on_eligibility_appeal_lodged(self, uow: UnitOfWork, payload: AppealLodged) -> None:
        """An appeal against the exit decision holds the plan's increases and review-based surcharges."""
        tenancy = uow.find(Tenancy.create_id(payload.household_id), Tenancy)
        if tenancy is None:
            return
        covered: list[UUID] = []
        plan = tenancy.transition
        if (
            plan is not None
            and plan["state"] == "active"
            and str(plan["transition_id"]) in tenancy.adjustments
        ):
            covered.append(plan["transition_id"])
        for sanction_id in tenancy.sanction_ids:
            sanction = self.sanction(uow, sanction_id)
            if sanction.kind == "rent_surcharge" and sanction.basis_kind == "review" and sanction.open:
                covered.append(sanction.id)
        tenancy.place_hold(
            payload.case_id, covered, payload.lodged_on, f"appeal of case {payload.case_id}", covers_plan=True
        )
        if covered:
            self.issue_notice(
                uow,
                tenancy,
                "increases_suspended",
                payload.case_id,
                payload.lodged_on,
                "Rent increases suspended during your appeal",
                f"from {label(month_of(payload.lodged_on))} the rent increases resting on the exit decision "
                "are not charged while your appeal is open; if the decision is confirmed they become due "
                "again, including the suspended months, and if it is overturned they are cancelled.",
                "your household appealed the exit decision.",
            )

    def on_eligibility_appeal_resolved(self, uow: UnitOfWork, payload: AppealResolved) -> None:
        tenancy = uow.find(Tenancy.create_id(payload.household_id), Tenancy)
        if tenancy is None:
            return
        held = tenancy.holds.get(str(payload.case_id))
        tenancy.release_hold(payload.case_id, payload.resolved_on, payload.outcome)
        if held is not None and held["lines"] and not (payload.overturned and payload.outcome == "retain"):
            self.issue_notice(
                uow,
                tenancy,
                "increases_resumed",
                payload.case_id,
                payload.resolved_on,
                "Your appeal was decided: rent increases apply again",
                "the rent increases suspended during your appeal are due again, including the suspended "
                "months; your rent ledger shows each month.",
                "the exit decision was confirmed on appeal.",
            )
        if payload.overturned and payload.outcome == "retain":
            reason = "the exit decision was overturned on appeal"
            self._withdraw_plan(uow, tenancy, payload.resolved_on, reason)
            for sanction_id in tenancy.sanction_ids:
                sanction = self.sanction(uow, sanction_id)
                if sanction.basis_kind == "review" and sanction.open:
                    self._withdraw(uow, tenancy, sanction, payload.resolved_on, reason, None)

    # -- notices' delivery -----------------------------------------------------------------------------

    def notice_payload(self, notice_id: UUID) -> dict[str, Any]:
        try:
            notice: Notice = self.repository.get(notice_id)
        except AggregateNotFoundError:
            raise NotFound(f"notice {notice_id} does not exist") from None
        return self.notice_dict(notice)

    def record_delivery(self, notice_id: UUID, channel: str, error: str | None) -> None:
        def command(uow: UnitOfWork) -> None:
            notice = uow.find(notice_id, Notice)
            if notice is None:
                raise NotFound(f"notice {notice_id} does not exist")
            if error is None:
                if not notice.delivered:
                    notice.record_delivery(channel, self.today(), "")
            elif notice.failures < MAX_RECORDED_FAILURES:
                notice.record_failure(channel, error[:500])

        self.run(command)

    # -- views -----------------------------------------------------------------------------------------

    def catch_up(self) -> None:
        with self.lock:
            self._seen = follow(self, self._seen, self._apply)

    def _apply(self, e: Any) -> None:
        kind = type(e).__qualname__
        if kind == "Tenancy.Registered":
            self.estates[e.originator_id] = e.estate
        elif kind == "Tenancy.TransitionStarted":
            self.transitions[e.originator_id] = {
                "transition_id": e.transition_id,
                "state": "active",
                "route": e.route,
                "due": e.exit_due_on,
                "started_at": instant(e.timestamp),
            }
        elif kind == "Tenancy.TransitionClosed":
            self.transitions[e.originator_id]["state"] = e.how
        elif kind == "Tenancy.ExitCompleted":
            self.exits[e.how] = self.exits.get(e.how, 0) + 1
        elif kind == "Sanction.Imposed":
            self.sanctions[e.originator_id] = SanctionView(
                e.originator_id,
                e.household_id,
                e.estate,
                e.kind,
                e.violation,
                "issued" if e.kind == "repossession" else "active",
                instant(e.timestamp),
            )
        elif kind == "Sanction.Changed":
            view = self.sanctions[e.originator_id]
            if e.state == "suspended":
                view.suspended = True
            elif e.state == "resumed":
                view.suspended = False
            else:
                view.state = e.state
        elif kind == "Appeal.Lodged":
            self.appeals[e.originator_id] = {
                "household_id": e.household_id,
                "sanction_id": e.sanction_id,
                "state": "open",
                "estate": e.estate,
                "lodged_at": instant(e.timestamp),
            }
        elif kind == "Appeal.Resolved":
            self.appeals[e.originator_id]["state"] = e.outcome
        elif kind == "Notice.Issued":
            self.pending_notices[e.originator_id] = 0
            self.notices_issued += 1
        elif kind == "Notice.Delivered":
            self.pending_notices.pop(e.originator_id, None)
            self.notices_delivered += 1
        elif kind == "Subsidy.Awarded":
            self.subsidies[e.household_id] = e.amount

    # -- queries ---------------------------------------------------------------------------------------

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
            "exited": None
            if tenancy.exited is None
            else {"on": tenancy.exited["on"].isoformat(), "how": tenancy.exited["how"]},
        }

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
        }

    def notice_dict(self, notice: Notice) -> dict[str, Any]:
        return {
            "notice_id": str(notice.id),
            "household_id": str(notice.household_id),
            "estate": notice.estate,
            "kind": notice.kind,
            "reference": str(notice.reference),
            "issued_on": notice.issued_on.isoformat(),
            "title": notice.title,
            "text": notice.text,
            "amounts": [{"label": name, "yuan": value} for name, value in notice.amounts],
            "deadline": None if notice.deadline is None else notice.deadline.isoformat(),
            "appeal_until": None if notice.appeal_until is None else notice.appeal_until.isoformat(),
            "delivered": [{"channel": d["channel"], "on": d["on"].isoformat()} for d in notice.deliveries],
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

    def list_sanctions(self, state: str | None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            ids = [v.sanction_id for v in self.sanctions.values() if state is None or v.state == state]
        return [self.sanction_dict(self._get(s)) for s in ids]

    def list_transitions(self, state: str | None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            ids = [h for h, plan in self.transitions.items() if state is None or plan["state"] == state]
        out = []
        for household_id in ids:
            plan = self.transition_dict(self.load_tenancy(household_id))
            if plan is not None:
                out.append(plan)
        return out

    def list_appeals(self, state: str | None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            ids = [a for a, view in self.appeals.items() if state is None or view["state"] == state]
        return [self.appeal_dict(self._get(a)) for a in ids]

    # Pages of the lists (`services.kit.paging`): chosen and ordered on the views, so that only the
    # page's sanctions, plans and appeals are loaded from the store. `sees` is the caller's estates.

    def sanctions_page(
        self, state: str | None, estate: str | None, sees: Sees, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """In the order they were imposed."""
        self.catch_up()
        with self.lock:
            chosen = [
                v
                for v in self.sanctions.values()
                if (state is None or v.state == state)
                and (estate is None or v.estate == estate)
                and sees(v.estate)
            ]
        page = paginate(chosen, lambda v: (v.imposed_at, str(v.sanction_id)), limit=limit, cursor=cursor)
        return page.map(lambda v: self.sanction_dict(self._get(v.sanction_id)))

    def transitions_page(
        self, state: str | None, estate: str | None, sees: Sees, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """In the order they started."""
        self.catch_up()
        with self.lock:
            chosen = [
                (household_id, plan["started_at"])
                for household_id, plan in self.transitions.items()
                if (state is None or plan["state"] == state)
                and (estate is None or self.estates.get(household_id) == estate)
                and sees(self.estates.get(household_id))
            ]
        page = paginate(chosen, lambda c: (c[1], str(c[0])), limit=limit, cursor=cursor)
        plans = page.map(lambda c: self.transition_dict(self.load_tenancy(c[0])))
        return Page([p for p in plans.items if p is not None], plans.next)

    def appeals_page(
        self, state: str | None, estate: str | None, sees: Sees, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """In the order they were lodged."""
        self.catch_up()
        with self.lock:
            chosen = [
                (appeal_id, view["lodged_at"])
                for appeal_id, view in self.appeals.items()
                if (state is None or view["state"] == state)
                and (estate is None or view["estate"] == estate)
                and sees(view["estate"])
            ]
        page = paginate(chosen, lambda c: (c[1], str(c[0])), limit=limit, cursor=cursor)
        return page.map(lambda c: self.appeal_dict(self._get(c[0])))

    def figures(self) -> dict[str, Any]:
        self.catch_up()
        with self.lock:
            by_kind: dict[str, int] = {}
            active_by_kind: dict[str, int] = {}
            for view in self.sanctions.values():
                by_kind[view.kind] = by_kind.get(view.kind, 0) + 1
                if view.state in ("active", "issued", "notice_served"):
                    active_by_kind[view.kind] = active_by_kind.get(view.kind, 0) + 1
            transitions: dict[str, int] = {}
            for plan in self.transitions.values():
                transitions[plan["state"]] = transitions.get(plan["state"], 0) + 1
            return {
                "households": len(self.estates),
                "transitions_active": transitions.get("active", 0),
                "transitions_by_state": transitions,
                "sanctions_by_kind": by_kind,
                "sanctions_open_by_kind": active_by_kind,
                "households_penalised": len(
                    {v.household_id for v in self.sanctions.values() if v.state != "withdrawn"}
                ),
                "credit_list_entries_open": active_by_kind.get("credit_list", 0),
                "repossessions_executed": sum(
                    1 for v in self.sanctions.values() if v.kind == "repossession" and v.state == "executed"
                ),
                "appeals_open": sum(1 for a in self.appeals.values() if a["state"] == "open"),
                "subsidies_awarded": len(self.subsidies),
                "subsidies_total_fen": int(sum(self.subsidies.values(), Decimal(0)) * 100),
                "notices_issued": self.notices_issued,
                "notices_undelivered": len(self.pending_notices),
                "exits_completed": self.exits,
            }

    def timeline_ids(self, household_id: UUID) -> list[UUID]:
        tenancy = self.load_tenancy(household_id)
        ids = [tenancy.id, *tenancy.sanction_ids, *tenancy.appeal_ids, *tenancy.notice_ids]
        if self.household_subsidy(household_id) is not None:
            ids.append(Subsidy.create_id(household_id))
        return ids


__all__ = ["BasisError", "NotFound", "OutsideWindow", "PenaltiesApp", "RuleError", "last_day"]
