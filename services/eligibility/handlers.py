"""Integration events in: department facts from NATS become the same intake command as over HTTP.

The inbox commits a fetched batch and its tracking record in one transaction (households of the
batch are decided once, just before it), so a redelivered message has no second effect; a fact
already received under another message (same department and reference, e.g. sent over HTTP too) is
recognised by its receipt and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from contracts.federation import CATEGORIES, CrossRegionResultRecorded
from contracts.monitoring import (
    OccupancyWarningAssigned,
    OccupancyWarningConfirmed,
    OccupancyWarningDismissed,
    OccupancyWarningRaised,
    OccupancyWarningRectified,
    OccupancyWarningWithdrawn,
    ViolationConfirmed,
)
from contracts.penalties import ExitCompleted
from services.eligibility.application import EligibilityApp
from services.eligibility.intake import future_fact
from services.kit import faults
from services.kit.codec import Incoming
from services.kit.inbox import Handler
from services.kit.runtime import Consumes, on
from services.kit.uow import UnitOfWork

log = logging.getLogger(__name__)

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
CROSS_REGION_RESULT = ("housing.federation.cross-region-result-recorded", 1)


class FactHandler:
    """`housing.department.fact-reported`: the intake command; the inbox shows it a whole batch first
    (`prepare`), so the batch's receipts are looked up in one query."""

    def __init__(self, app: EligibilityApp) -> None:
        self.app = app

    def refuse(self, payload: object) -> str | None:
        """A fact describing a day after today (the city's date) is dead-lettered by the inbox (alone,
        in an export), as over HTTP it is a 422 line: recorded, it would set aside every fact of its
        kind described before it. No receipt is kept, so the department can send it corrected."""
        if isinstance(payload, DepartmentFactReported):
            today = self.app.today()
            if payload.described_on > today:
                return future_fact(payload, today)
        return None

    def prepare(self, batch: Sequence[Incoming], uow: UnitOfWork) -> None:
        reports = [i.payload for i in batch if isinstance(i.payload, DepartmentFactReported)]
        self.app.prefetch_receipts(uow, reports)

    def __call__(self, incoming: Incoming, uow: UnitOfWork) -> None:
        faults.hit("eligibility.fact")  # `eligibility.fact~SECONDS`: a slow consumer (tests/floods)
        report = incoming.payload
        assert isinstance(report, DepartmentFactReported)
        status = self.app.intake_fact(uow, report)
        if status == "unmatched":
            # Never the person hash in a log line: department and reference identify the record.
            log.warning(
                "fact %s/%s names a household we do not know; not recorded",
                report.department,
                report.reference,
            )


def fact_handler(app: EligibilityApp) -> Handler:
    return FactHandler(app)


def cross_region_handler(app: EligibilityApp) -> Handler:
    """Federation's answer per peer city; `unverified` keeps the household in manual review."""

    def handle(incoming: Incoming, uow: UnitOfWork) -> None:
        result = incoming.payload
        assert isinstance(result, CrossRegionResultRecorded)
        matched = [name for name in CATEGORIES if getattr(result, name) is True]
        app.record_cross_region(
            uow, result.household_id, result.check_id, result.city, result.result, matched
        )

    return handle


def occupancy_handlers(app: EligibilityApp) -> dict[str, Handler]:
    """Monitoring's warnings, each step a fact on the household for its reviewers."""

    def note(uow: UnitOfWork, p: Any, step: str, on: date, detail: str, by: str | None = None) -> bool:
        return app.note_occupancy(uow, p.household_id, p.warning_id, step, on, detail, by)

    def raised(uow: UnitOfWork, p: OccupancyWarningRaised) -> bool:
        detail = f"{p.condition} suspected (risk {p.risk_score}): {p.explanation}"
        return note(uow, p, "raised", p.raised_on, detail)

    def assigned(uow: UnitOfWork, p: OccupancyWarningAssigned) -> bool:
        return note(uow, p, "assigned", p.assigned_on, "inspector assigned", p.inspector_id)

    def confirmed(uow: UnitOfWork, p: OccupancyWarningConfirmed) -> bool:
        return note(uow, p, "confirmed", p.confirmed_on, f"confirmed on site: {p.finding}", p.inspector_id)

    def dismissed(uow: UnitOfWork, p: OccupancyWarningDismissed) -> bool:
        return note(uow, p, "dismissed", p.dismissed_on, f"dismissed: {p.reason}", p.inspector_id)

    def rectified(uow: UnitOfWork, p: OccupancyWarningRectified) -> bool:
        return note(uow, p, "rectified", p.rectified_on, f"rectified: {p.note}", p.rectified_by)

    def withdrawn(uow: UnitOfWork, p: OccupancyWarningWithdrawn) -> bool:
        return note(uow, p, "withdrawn", p.withdrawn_on, f"withdrawn: {p.reason}")

    def violation(uow: UnitOfWork, p: ViolationConfirmed) -> bool:
        return note(uow, p, "violation", p.confirmed_on, f"{p.violation} confirmed", p.inspector_id)

    return {
        "housing.monitoring.warning-raised": on(OccupancyWarningRaised, raised, unknown="ignore"),
        "housing.monitoring.warning-assigned": on(OccupancyWarningAssigned, assigned, unknown="ignore"),
        "housing.monitoring.warning-confirmed": on(OccupancyWarningConfirmed, confirmed, unknown="ignore"),
        "housing.monitoring.warning-dismissed": on(OccupancyWarningDismissed, dismissed, unknown="ignore"),
        "housing.monitoring.warning-rectified": on(OccupancyWarningRectified, rectified, unknown="ignore"),
        "housing.monitoring.warning-withdrawn": on(OccupancyWarningWithdrawn, withdrawn, unknown="ignore"),
        "housing.monitoring.violation-confirmed": on(ViolationConfirmed, violation, unknown="ignore"),
    }


def exit_handler(app: EligibilityApp) -> Handler:
    """Penalties' hand-back of a flat: the household is no longer in our registers as housed."""

    def left(uow: UnitOfWork, p: ExitCompleted) -> bool:
        return app.record_exit(uow, p.household_id, p.completed_on, p.how)

    return on(ExitCompleted, left, unknown="ignore")


def consumes(app: EligibilityApp) -> tuple[Consumes, ...]:
    """Department facts, federation's answers to our cross-region checks, monitoring's warnings,
    penalties' hand-backs of flats."""
    return (
        Consumes("DEPARTMENT", {FACT_REPORTED.type: fact_handler(app)}),
        Consumes("FEDERATION", {CROSS_REGION_RESULT[0]: cross_region_handler(app)}),
        Consumes("MONITORING", occupancy_handlers(app)),
        Consumes("PENALTIES", {"housing.penalties.exit-completed": exit_handler(app)}),
    )
