"""Integration events in: department facts from NATS become the same intake command as over HTTP.

The inbox commits a fetched batch and its tracking record in one transaction (households of the
batch are decided once, just before it), so a redelivered message has no second effect; a fact
already received under another message (same department and reference, e.g. sent over HTTP too) is
recognised by its receipt and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from contracts.federation import CrossRegionResultRecorded
from services.eligibility.application import EligibilityApp
from services.kit.codec import Incoming
from services.kit.inbox import Handler
from services.kit.runtime import Consumes
from services.kit.uow import UnitOfWork

log = logging.getLogger(__name__)

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
CROSS_REGION_RESULT = ("housing.federation.cross-region-result-recorded", 1)


class FactHandler:
    """`housing.department.fact-reported`: the intake command; the inbox shows it a whole batch first
    (`prepare`), so the batch's receipts are looked up in one query."""

    def __init__(self, app: EligibilityApp) -> None:
        self.app = app

    def prepare(self, batch: Sequence[Incoming], uow: UnitOfWork) -> None:
        reports = [i.payload for i in batch if isinstance(i.payload, DepartmentFactReported)]
        self.app.prefetch_receipts(uow, reports)

    def __call__(self, incoming: Incoming, uow: UnitOfWork) -> None:
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
        app.record_cross_region(uow, result.household_id, result.check_id, result.city, result.result)

    return handle


def consumes(app: EligibilityApp) -> tuple[Consumes, ...]:
    """Department facts, and federation's answers to our cross-region checks."""
    return (
        Consumes("DEPARTMENT", {FACT_REPORTED.type: fact_handler(app)}),
        Consumes("FEDERATION", {CROSS_REGION_RESULT[0]: cross_region_handler(app)}),
    )
