"""Sanctions: the rent surcharge a confirmed violation imposes, an operator's sanction on a named basis,
lifting and withdrawal, the repossession's steps, the credit-list entry, and the overdue check.

Irreversible steps need a supervisor and a second person (four eyes, like the review's): a
repossession is executed by a supervisor on another officer's proposal, and a credit-list entry an
officer proposes is entered by a supervisor other than the proposer (`domain.Sanction`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from contracts.monitoring import OccupancyWarningRectified, ViolationConfirmed
from services.kit.uow import UnitOfWork
from services.penalties.domain import (
    VIOLATION_WORDS,
    RuleError,
    Sanction,
    Tenancy,
    add_months,
    appeal_words,
    label,
    money,
    month_of,
    percent,
)
from services.penalties.transitions import Transitions


class Sanctions(Transitions):
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
        self,
        household_id: UUID,
        kind: str,
        violation: str,
        basis_id: UUID,
        by: str,
        note: str = "",
        *,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """An operator's sanction on a named basis, `(sanction, created)`: today, or a day within the
        late-recording window, never before its basis. A credit-list entry is only proposed: a
        supervisor other than the proposer enters it (`enter_credit_list`)."""

        def command(uow: UnitOfWork) -> tuple[dict[str, Any], bool]:
            tenancy = self.tenancy(uow, household_id)
            tenancy.basis_kind(basis_id, violation)  # BasisError (422) before any date is looked at
            existing = uow.find(Sanction.create_id(household_id, basis_id, kind), Sanction)
            if existing is not None:
                return self.sanction_dict(existing), False
            step = self.dated(tenancy, on, reason_late, tenancy.basis_date(basis_id), "its basis")
            sanction, created = self._impose(
                uow,
                tenancy,
                kind,
                violation,
                basis_id,
                step.on,
                by,
                note,
                step.recorded_on,
                step.reason or "",
            )
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
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> tuple[Sanction, bool]:
        """Every period the sanction gives the household counts from the day it is recorded."""
        basis_kind = tenancy.basis_kind(basis_id, violation)  # raises BasisError
        sanction_id = Sanction.create_id(tenancy.household_id, basis_id, kind)
        existing = uow.find(sanction_id, Sanction)
        if existing is not None:
            return existing, False
        if tenancy.exited is not None and kind != "credit_list":
            raise RuleError("the household has left the flat: only a credit-list entry can still apply")
        counted = recorded_on or on
        policy = self.policy(tenancy, counted)
        effective = counted
        ends_on = None
        rate = None
        if kind == "rent_surcharge":
            effective = add_months(month_of(counted), 1)
            rate = policy.surcharge_rate
        appeal_until = counted + timedelta(days=policy.appeal_window_days)
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
            kind == "credit_list",
            counted,
            late_reason,
        )
        uow.add(sanction)
        tenancy.link_sanction(sanction.id)
        why = self._why(sanction)
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
                counted,
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
        elif kind == "repossession":
            self.issue_notice(
                uow,
                tenancy,
                "sanction_imposed",
                sanction.id,
                counted,
                "Repossession order",
                "the housing bureau has ordered the repossession of the flat. A notice with the date by "
                "which you must hand the flat back will be served on you.",
                why,
                [],
                None,
                appeal_until,
                appeal_words(appeal_until, "the repossession cannot be carried out"),
            )
        # A credit-list entry is only proposed: the household is told when a second person enters it.
        return sanction, True

    @staticmethod
    def _why(sanction: Sanction) -> str:
        words, basis_id = VIOLATION_WORDS[sanction.violation], sanction.basis_id
        return {
            "warning": f"an inspection confirmed {words} (reference: warning {basis_id}).",
            "review": f"the exit review found {words} (reference: review {basis_id}).",
            "transition": f"your household is {words} (reference: plan {basis_id}).",
        }[sanction.basis_kind]

    def enter_credit_list(self, sanction_id: UUID, by: str, *, role: str) -> dict[str, Any]:
        """The second pair of eyes on a credit-list entry: a supervisor other than who proposed it
        enters it today; it lasts `credit_list_days` and may be appealed for `appeal_window_days` from
        today."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            today = self.today()
            policy = self.policy(tenancy, today)
            ends_on = today + timedelta(days=policy.credit_list_days)
            appeal_until = today + timedelta(days=policy.appeal_window_days)
            sanction.enter(today, by, role, ends_on, appeal_until)
            self.issue_notice(
                uow,
                tenancy,
                "sanction_imposed",
                sanction.id,
                today,
                "Entry in the credit list",
                f"your household is entered in the housing credit (dishonesty) list from "
                f"{today.isoformat()} until {ends_on.isoformat()}; the entry is removed earlier once the "
                "violation is put right.",
                self._why(sanction),
                [],
                None,
                appeal_until,
                appeal_words(appeal_until, "the entry is suspended"),
            )
            return self.sanction_dict(sanction)

        return self.run(command)

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
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        sanction: Sanction,
        on: date,
        reason: str,
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        sanction.lift(on, reason, by, recorded_on, late_reason)
        if sanction.kind == "rent_surcharge":
            tenancy.end_adjustment(sanction.id, month_of(on), reason)
        what = {
            "rent_surcharge": f"the rent surcharge ends; {label(month_of(on))} is its last month.",
            "credit_list": "your household's entry in the credit list is removed.",
            "repossession": "the repossession order is lifted.",
        }[sanction.kind]
        self.issue_notice(
            uow,
            tenancy,
            "sanction_lifted",
            sanction.id,
            recorded_on or on,
            "Sanction lifted",
            what,
            reason + ".",
        )

    def _step_day(
        self, uow: UnitOfWork, sanction: Sanction, on: date | None, reason_late: str | None
    ) -> tuple[Tenancy, date, date, str]:
        """(tenancy, the day, the day recorded, the late reason) of a step on `sanction`: never before
        it was imposed."""
        tenancy = self.tenancy(uow, sanction.household_id)
        step = self.dated(tenancy, on, reason_late, sanction.imposed_on, "the sanction's imposition")
        return tenancy, step.on, step.recorded_on, step.reason or ""

    def lift(
        self,
        sanction_id: UUID,
        by: str,
        reason: str,
        *,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> dict[str, Any]:
        return self._ending(
            sanction_id,
            on,
            reason_late,
            lambda uow, tenancy, sanction, day, recorded_on, late: self._lift(
                uow, tenancy, sanction, day, reason, by, recorded_on, late
            ),
        )

    def withdraw(
        self,
        sanction_id: UUID,
        by: str | None,
        reason: str,
        *,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> dict[str, Any]:
        return self._ending(
            sanction_id,
            on,
            reason_late,
            lambda uow, tenancy, sanction, day, recorded_on, late: self._withdraw(
                uow, tenancy, sanction, day, reason, by, recorded_on, late
            ),
        )

    def _ending(
        self,
        sanction_id: UUID,
        on: date | None,
        reason_late: str | None,
        end: Callable[[UnitOfWork, Tenancy, Sanction, date, date, str], None],
    ) -> dict[str, Any]:
        """Lift or withdraw: on the day the step may take (`_step_day`), in one unit of work."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy, day, recorded_on, late = self._step_day(uow, sanction, on, reason_late)
            end(uow, tenancy, sanction, day, recorded_on, late)
            return self.sanction_dict(sanction)

        return self.run(command)

    def _withdraw(
        self,
        uow: UnitOfWork,
        tenancy: Tenancy,
        sanction: Sanction,
        on: date,
        reason: str,
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str = "",
    ) -> None:
        """Withdrawn from the start: a surcharge is cancelled (never due, any payment credited)."""
        sanction.withdraw(on, reason, by, recorded_on, late_reason)
        if sanction.kind == "rent_surcharge":
            tenancy.cancel_adjustment(sanction.id, reason)
        self.issue_notice(
            uow,
            tenancy,
            "sanction_withdrawn",
            sanction.id,
            recorded_on or on,
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
