"""Monitoring's domain events in words, for a household's timeline (`GET /households/{id}/timeline`).

What is said is what an operator of any role may read: where the household lives, how many members,
what was suspected and decided and by whom. No credential (not even its digest), no member id.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from services.kit.timeline import Step

CONDITIONS = {"vacancy": "Vacancy", "sublet_or_lend": "Sublet-or-lend"}


def describe(domain_event: DomainEventProtocol[UUID]) -> Step | None:
    kind = type(domain_event).__qualname__
    e: Any = domain_event
    if kind == "Household.Registered":
        return Step(
            f"Monitoring began: the household holds {e.estate}/{e.building}/{e.unit} "
            f"with {len(e.members)} member(s) since {e.tenancy_start.isoformat()}"
        )
    if kind == "Household.MembersChanged":
        return Step(f"Members changed: {len(e.members)} member(s) now expected at the flat")
    if kind == "Household.AbsenceExcused":
        return Step(
            f"A member's absence from {e.start.isoformat()} to {e.end.isoformat()} was excused",
            reason=e.reason,
        )
    if kind == "Household.DecisionRecorded":
        words = {
            "exit_decided": "Exit decided by eligibility, route",
            "review_confirmed": "Manual re-review concluded:",
            "appeal_resolved": "Appeal resolved:",
        }.get(e.source, e.source)
        return Step(
            f"{words} {e.outcome} ({e.decided_on.isoformat()})" + (", overturned" if e.overturned else ""),
            reason="still monitored until the flat is handed back" if e.source == "exit_decided" else "",
        )
    if kind == "Household.FactNoted":
        values = (
            f": actual residence {e.actual_residence_city}" if e.actual_residence_city is not None else ""
        )
        return Step(
            f"{e.department} {e.kind} record {e.reference} of {e.described_on.isoformat()} noted{values}"
        )
    if kind == "Household.Exited":
        return Step(
            f"Flat handed back ({e.how}) on {e.on.isoformat()}: monitoring of it ended for the household",
            actor=e.recorded_by,
        )
    if kind == "Pending.ExitKept":
        return Step(
            f"Exit ({e.how}) on {e.on.isoformat()} received before the registration", actor=e.recorded_by
        )
    if kind in ("Pending.Started", "Pending.Applied"):
        return None
    if kind == "Pending.FactKept":
        return Step(f"{e.department} {e.kind} record {e.reference} received before the registration")
    if kind == "Credential.Enrolled":
        return Step(f"A door {e.kind} credential was enrolled to a member")
    if kind == "Credential.Reassigned":
        return Step("A door credential was moved to another member")
    if kind.startswith("OccupancyWarning."):
        found = _warning_step(kind, e)
        recorded_on = getattr(e, "recorded_on", None)
        if found is None or recorded_on is None:
            return found
        late = f" on {e.on.isoformat()} (recorded late on {recorded_on.isoformat()}: {e.late_reason or ''})"
        return Step(found.summary + late, actor=found.actor, reason=found.reason)
    return None


def _warning_step(kind: str, e: Any) -> Step | None:
    if kind == "OccupancyWarning.Raised":
        what = CONDITIONS.get(e.condition, e.condition)
        return Step(
            f"{what} warning raised for {e.estate}/{e.building}/{e.unit} (risk {e.risk_score})",
            reason=e.explanation[:2000],
        )
    if kind == "OccupancyWarning.Assigned":
        return Step("Occupancy warning assigned to an inspector", actor=e.inspector_id)
    if kind == "OccupancyWarning.Confirmed":
        return Step(f"Occupancy warning confirmed on site: {e.finding}", actor=e.inspector_id, reason=e.note)
    if kind == "OccupancyWarning.Dismissed":
        return Step("Occupancy warning dismissed", actor=e.inspector_id, reason=e.reason)
    if kind == "OccupancyWarning.Rectified":
        return Step("Confirmed violation rectified", actor=e.operator_id, reason=e.note)
    if kind == "OccupancyWarning.Withdrawn":
        return Step(
            f"Occupancy warning withdrawn (was {e.previous_status})",
            reason="the household handed the flat back" if e.reason == "household_exited" else e.reason,
        )
    return None
