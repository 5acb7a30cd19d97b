"""A household's steps in eligibility, in words an operator reads (the gateway merges them with the
other services' into one timeline).

The household's own events and those of its review cases are the record; this module only says how
each reads and who did it. Values of facts (incomes, assets) are left out: the timeline is shown to
roles that may not see them, and the household page shows them to those who may.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts.timeline import TimelineEntry
from services.eligibility.domain import Household, ReviewCase
from services.eligibility.record_request import RecordRequest
from services.kit.store import ServiceApplication
from services.kit.timeline import Step, timeline

_CASE_ACTORS = (
    "approver",
    "supervisor",
    "decided_by",
    "requested_by",
    "assessor_id",
    "lodged_by",
    "reviewer",
)
"""Who did a case step: the first of these the event carries (an approval also names the reviewer)."""


def describe(event: DomainEventProtocol[UUID]) -> Step | None:
    """Words for eligibility's domain events; None for those that say nothing to an operator."""
    if isinstance(event, Household.Registered):
        count = len(event.members)
        if event.monthly_subsidy is not None:
            where = f" in {event.district}" if event.district else ""
            subsidy = f"{event.monthly_subsidy:.2f} yuan a month from {event.subsidy_start}"
            return Step(
                f"Household registered on a rent subsidy{where} ({count} members)",
                event.registered_by,
                subsidy,
            )
        where = f"{event.estate}, building {event.building}, unit {event.unit}"
        return Step(f"Household registered at {where} ({count} members)", event.registered_by)
    if isinstance(event, Household.MembersChanged):
        return Step(f"Members changed ({len(event.members)} now)")
    if isinstance(event, Household.FactRecorded):
        return Step(
            f"{event.kind.replace('_', ' ').capitalize()} fact recorded from {event.department}",
            reason=f"record {event.reference} describing {event.described_on.isoformat()}",
        )
    if isinstance(event, Household.Evaluated):
        outcome = str(event.decision.get("outcome"))
        triggered = [r["rule"] for r in event.decision.get("rules", []) if r.get("status") == "exit"]
        previous = event.previous_outcome or "none"
        reason = f"exit conditions met: {', '.join(triggered)}" if triggered else ""
        return Step(f"Automated review: {outcome} (was {previous})", reason=reason)
    if isinstance(event, Household.CaseOpened):
        return Step("Manual re-review case opened; cross-region check requested", reason=event.reason)
    if isinstance(event, Household.CaseClosed):
        return Step(f"Review case closed: {event.outcome}")
    if isinstance(event, Household.CaseReopened):
        return Step("Review case reopened", reason=event.reason)
    if isinstance(event, Household.OccupancyNoted):
        return Step(f"Occupancy warning {event.step} (monitoring)", event.by, event.detail)
    if isinstance(event, Household.CrossRegionAnswered):
        return Step(f"Cross-region answer from {event.city}: {event.result}")
    if isinstance(event, ReviewCase.Event) and not isinstance(event, ReviewCase.Opened):
        return _case_step(event)
    return _request_step(event)


def _request_step(event: DomainEventProtocol[UUID]) -> Step | None:
    """A record request's steps (asking.py), in words: which department, which record, when due."""
    if isinstance(event, RecordRequest.Asked):
        record, department = event.kind.replace("_", " "), event.department.replace("_", " ")
        return Step(
            f"{record.capitalize()} record requested from {department}, due {event.due_on}",
            event.asked_by,
            event.note or f"the record is {event.why}" + (f" ({event.rule})" if event.rule else ""),
        )
    if isinstance(event, RecordRequest.Answered):
        return Step(f"Record request answered ({len(event.references)} records)", event.answered_by)
    if isinstance(event, RecordRequest.Declined):
        said = "no record" if event.outcome == "no_record" else "cannot verify"
        return Step(f"Record request answered: {said}", event.answered_by, event.reason)
    return None


def _case_step(event: DomainEventProtocol[UUID]) -> Step:
    actor = next((str(getattr(event, a)) for a in _CASE_ACTORS if getattr(event, a, None)), None)
    reason = str(
        getattr(event, "reason", "") or getattr(event, "findings", "") or getattr(event, "report", "")
    )
    if isinstance(event, ReviewCase.FindingRecorded):
        summary = f"Reviewer proposed {event.proposed_outcome} ({event.reason_code})"
    elif isinstance(event, ReviewCase.Approved):
        summary = f"Supervisor approved: {event.outcome}" + (" (on appeal)" if event.appeal else "")
    elif isinstance(event, ReviewCase.SentBack):
        summary = "Supervisor sent the proposal back"
    elif isinstance(event, ReviewCase.AssessmentRequested):
        summary = f"Third-party assessment requested from {event.assessor_id}, due {event.deadline}"
        actor = event.requested_by
    elif isinstance(event, ReviewCase.AssessmentReceived):
        summary = f"Assessment report received, recommending {event.recommendation}"
    elif isinstance(event, ReviewCase.AppealLodged):
        summary = "Appeal lodged"
    elif isinstance(event, ReviewCase.AppealDecided):
        summary = (
            f"Appeal decided: the exit decision is upheld ({event.outcome})"
            if event.decision == "upheld"
            else "Appeal decided: the exit decision is overturned, the household keeps its home"
        )
    else:
        summary = type(event).__name__
    return Step(summary, actor, reason[:2000])


def household_timeline(
    app: ServiceApplication, household_id: UUID, request_ids: Sequence[UUID] = ()
) -> list[TimelineEntry]:
    """The household's events, its cases' events and those of its record requests (`request_ids`,
    from the read model), oldest first (empty for an unknown household)."""
    case_ids: list[UUID] = []
    for stored in app.recorder.select_events(household_id):
        domain_event = app.mapper.to_domain_event(stored)
        if isinstance(domain_event, Household.CaseOpened) and domain_event.case_id not in case_ids:
            case_ids.append(domain_event.case_id)
    return timeline(app, [household_id, *case_ids, *request_ids], describe)
