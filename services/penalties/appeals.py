"""Appeals: a household's appeal against a sanction (lodged within the window, suspending it) and its
decision (four eyes, by the `Appeal` aggregate itself); eligibility's appeals holding a plan."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from contracts.eligibility import AppealLodged, AppealResolved
from services.kit.uow import UnitOfWork
from services.penalties.core import NotFound, OutsideWindow
from services.penalties.domain import Appeal, Tenancy, label, month_of
from services.penalties.sanctions import Sanctions


class Appeals(Sanctions):
    def lodge_appeal(
        self,
        sanction_id: UUID,
        grounds: str,
        by: str,
        *,
        role: str,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> dict[str, Any]:
        """Today, or the day the household lodged it (recorded late, with a reason): that day must lie
        in the appeal window (422 otherwise), and never before the sanction."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            sanction = self.sanction(uow, sanction_id)
            tenancy = self.tenancy(uow, sanction.household_id)
            step = self.dated(tenancy, on, reason_late, sanction.imposed_on, "the sanction's imposition")
            day = step.on
            if day > sanction.appeal_until:
                raise OutsideWindow(
                    f"appeals against this sanction are accepted from {sanction.imposed_on} until "
                    f"{sanction.appeal_until}"
                )
            appeal = Appeal.lodge(
                sanction.household_id,
                sanction.id,
                day,
                grounds,
                by,
                role,
                tenancy.estate,
                step.recorded_on,
                step.reason or "",
            )
            sanction.suspend(appeal.id, day)
            uow.add(appeal)
            tenancy.link_appeal(appeal.id)
            if sanction.kind == "rent_surcharge":
                tenancy.place_hold(appeal.id, [sanction.id], day, f"appeal {appeal.id}", covers_plan=False)
            self.issue_notice(
                uow,
                tenancy,
                "appeal_received",
                appeal.id,
                step.recorded_on,
                "Your appeal was received",
                "your appeal against the sanction is registered; the sanction is suspended until it is "
                "decided.",
                "you appealed within the appeal period.",
            )
            return self.appeal_dict(appeal)

        return self.run(command)

    def resolve_appeal(
        self,
        appeal_id: UUID,
        outcome: str,
        by: str,
        note: str = "",
        *,
        role: str,
        on: date | None = None,
        reason_late: str | None = None,
    ) -> dict[str, Any]:
        """Decided by `by` acting as `role`: the appeal itself refuses the wrong role or a first pair
        of eyes (who recorded it, who imposed the sanction). Today, or a day within the late-recording
        window, never before the appeal was lodged."""

        def command(uow: UnitOfWork) -> dict[str, Any]:
            appeal = uow.find(appeal_id, Appeal)
            if appeal is None:
                raise NotFound(f"appeal {appeal_id} does not exist")
            sanction = self.sanction(uow, appeal.sanction_id)
            tenancy = self.tenancy(uow, appeal.household_id)
            entered_by = None if sanction.entered is None else sanction.entered["by"]
            appeal.check_decider(by, role, sanction.imposed_by, entered_by)  # 403 before any date
            step = self.dated(tenancy, on, reason_late, appeal.lodged_on, "the appeal's lodging")
            day, recorded_on, late = step.on, step.recorded_on, step.reason or ""
            appeal.resolve(outcome, day, by, role, note, sanction.imposed_by, recorded_on, late, entered_by)
            tenancy.release_hold(appeal.id, day, outcome)
            if outcome == "upheld":
                sanction.resume(day, f"appeal {appeal.id} upheld", by)
                if sanction.open:
                    reason = f"appeal upheld: {note}".strip(": ")
                    self._withdraw(uow, tenancy, sanction, day, reason, by, recorded_on, late)
            else:
                sanction.resume(day, f"appeal {appeal.id} dismissed", by)
            self.issue_notice(
                uow,
                tenancy,
                "appeal_decided",
                appeal.id,
                recorded_on,
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
