"""The catalogue: every stream and every integration event of the platform, as data.

This is the single source the bus (streams are created from `STREAMS`), the codec (payload models are
found through `EVENTS`) and the AsyncAPI document (`python -m contracts.asyncapi`) are built from, so
they cannot drift apart. Adding an event or a version means adding an `EventSpec` here.

Naming: subjects and CloudEvents types are `housing.<context>.<event>`, one stream per producing
context on `housing.<context>.>`; the payload version is in the envelope's `dataschema`, never in the
subject, so consumers' subject filters survive a version change.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from contracts import monitoring, penalties, resettlement, training
from contracts.deadletter import DeadLetter
from contracts.department import DepartmentFactReported, DepartmentFactsReported
from contracts.eligibility import (
    AppealLodged,
    AppealResolved,
    AssessmentReceived,
    AssessmentRequested,
    CrossRegionCheckRequested,
    CrossRegionCheckRequestedV2,
    CrossRegionRegisterUpdated,
    ExitDecided,
    FactRecorded,
    FindingRecorded,
    HouseholdMembersChanged,
    HouseholdRegistered,
    RentSubsidyRegistered,
    ResidenceVerified,
    ReviewConfirmed,
    ReviewDecided,
    ReviewOpened,
    WarningRaised,
)
from contracts.federation import CrossRegionResultRecorded
from contracts.monitoring import (
    DoorAccess,
    OccupancyWarningAssigned,
    OccupancyWarningConfirmed,
    OccupancyWarningDismissed,
    OccupancyWarningRaised,
    OccupancyWarningRectified,
    UtilityReading,
    ViolationConfirmed,
)
from contracts.spec import EventSpec, StreamSpec

__all__ = ["EVENTS", "EVENTS_BY_TYPE", "STREAMS", "EventSpec", "StreamSpec"]

STREAMS: Final[tuple[StreamSpec, ...]] = (
    StreamSpec("DEPARTMENT", ("housing.department.>",), "Facts reported by departments."),
    StreamSpec("ELIGIBILITY", ("housing.eligibility.>",), "Households, reviews and exit decisions."),
    StreamSpec("PENALTIES", ("housing.penalties.>",), "Incentives, sanctions and transition rent."),
    StreamSpec("RESETTLEMENT", ("housing.resettlement.>",), "Placement and purchase help after exit."),
    StreamSpec("TRAINING", ("housing.training.>",), "Skills courses and employment of exiting households."),
    StreamSpec("MONITORING", ("housing.monitoring.>",), "Occupancy monitoring and warnings."),
    StreamSpec(
        "SIGNALS",
        ("housing.signals.>",),
        "Raw door-access and utility signals (high volume), read by monitoring's intake only.",
        max_age_days=130,  # longer than monitoring's retention (120 days) and any detector window
    ),
    StreamSpec("FEDERATION", ("housing.federation.>",), "Cross-region checks with peer cities."),
    StreamSpec("DEADLETTER", ("housing.deadletter.>",), "Messages consumers gave up on, per service."),
)
"""One stream per producing context, plus the dead-letter stream."""

_HOUSEHOLD_FOLLOWERS: Final = ("monitoring", "penalties", "resettlement", "training")

_FACT_REPORTED: Final = EventSpec(
    context="department",
    name="fact-reported",
    version=1,
    payload=DepartmentFactReported,
    summary="A department reported one fact (income, property, assets, registration, ...).",
    producer="departments",
    consumers=("eligibility", "monitoring", "training"),
    # The department is in the subject so that the bus lets each department's credential publish only
    # its own facts (services.kit.busauth); consumers refuse a fact whose payload names another.
    subject_pattern="housing.department.fact-reported.{department}",
)

_CORE_EVENTS: Final[tuple[EventSpec, ...]] = (
    _FACT_REPORTED,
    EventSpec(
        context="department",
        name="facts-reported",
        version=1,
        payload=DepartmentFactsReported,
        summary="A department reported many facts in one message (an export); each is a fact-reported.",
        producer="departments",
        consumers=_FACT_REPORTED.consumers,
        batch_of=_FACT_REPORTED,
        batch_field="facts",
        subject_pattern="housing.department.facts-reported.{department}",
    ),
    EventSpec(
        context="eligibility",
        name="household-registered",
        version=1,
        payload=HouseholdRegistered,
        summary="A household holds a subsidised unit: unit, rent, tenancy start and members.",
        producer="eligibility",
        consumers=_HOUSEHOLD_FOLLOWERS,
    ),
    EventSpec(
        context="eligibility",
        name="rent-subsidy-registered",
        version=1,
        payload=RentSubsidyRegistered,
        summary="A household receives a monthly rent subsidy instead of a unit: amount, start and members.",
        producer="eligibility",
        consumers=("penalties", "resettlement", "training"),
    ),
    EventSpec(
        context="eligibility",
        name="household-members-changed",
        version=1,
        payload=HouseholdMembersChanged,
        summary="The members of a household changed; carries the complete new list.",
        producer="eligibility",
        consumers=_HOUSEHOLD_FOLLOWERS,
    ),
    EventSpec(
        context="eligibility",
        name="review-decided",
        version=1,
        payload=ReviewDecided,
        summary="The automated first review decided, with the reason for every rule applied.",
        producer="eligibility",
        consumers=("monitoring",),
    ),
    EventSpec(
        context="eligibility",
        name="review-confirmed",
        version=1,
        payload=ReviewConfirmed,
        summary="A manual re-review concluded, reviewed and approved by two different operators.",
        producer="eligibility",
        consumers=("monitoring",),
    ),
    EventSpec(
        context="eligibility",
        name="exit-decided",
        version=1,
        payload=ExitDecided,
        summary="A household will leave subsidised housing by transition, exit or voluntary exit.",
        producer="eligibility",
        consumers=("monitoring", "penalties", "resettlement", "training"),
    ),
    EventSpec(
        context="eligibility",
        name="cross-region-check-requested",
        version=1,
        payload=CrossRegionCheckRequested,
        summary="Eligibility asks federation to verify a household with peer cities.",
        producer="eligibility",
        consumers=("federation",),
    ),
    EventSpec(
        context="eligibility",
        name="cross-region-check-requested",
        version=2,
        payload=CrossRegionCheckRequestedV2,
        summary="v2: the check carries its members' per-peer linkage hashes (what federation asks).",
        producer="eligibility",
        consumers=("federation",),
    ),
    EventSpec(
        context="eligibility",
        name="cross-region-register-updated",
        version=1,
        payload=CrossRegionRegisterUpdated,
        summary="What our registers say about a household's members to peers (hashes, categories).",
        producer="eligibility",
        consumers=("federation",),
    ),
    EventSpec(
        context="deadletter",
        name="dead-lettered",
        version=1,
        payload=DeadLetter,
        summary="A consumer gave up on a message; the record keeps it for diagnosis and replay.",
        producer="every-service",
        consumers=(),
        subject_pattern="housing.deadletter.{service}",
        enveloped=False,
    ),
)
"""The department facts, the household and review outcomes every follower needs, the dead letters."""


def _eligibility(name: str, payload: type[BaseModel], summary: str, consumers: tuple[str, ...]) -> EventSpec:
    return EventSpec("eligibility", name, 1, payload, summary, "eligibility", consumers)


_ELIGIBILITY_REVIEW_EVENTS: Final[tuple[EventSpec, ...]] = (
    _eligibility(
        "fact-recorded",
        FactRecorded,
        "A department fact was recorded on a household (which record, not its values).",
        ("monitoring",),
    ),
    _eligibility(
        "warning-raised",
        WarningRaised,
        "A household newly meets an exit condition: the automatic warning.",
        ("monitoring",),
    ),
    _eligibility(
        "review-opened",
        ReviewOpened,
        "A manual re-review case was opened for a household.",
        ("monitoring",),
    ),
    _eligibility(
        "finding-recorded",
        FindingRecorded,
        "A reviewer recorded findings and proposed an outcome (awaiting a second operator).",
        ("monitoring",),
    ),
    _eligibility(
        "assessment-requested",
        AssessmentRequested,
        "A complex case was referred to a third-party assessor.",
        ("monitoring",),
    ),
    _eligibility(
        "assessment-received",
        AssessmentReceived,
        "The third-party assessor's report arrived.",
        ("monitoring",),
    ),
    _eligibility(
        "appeal-lodged",
        AppealLodged,
        "The household appealed a final decision; the case is open again.",
        ("monitoring", "penalties"),
    ),
    _eligibility(
        "appeal-resolved",
        AppealResolved,
        "An appeal was decided under four-eyes; says whether the outcome changed.",
        ("monitoring", "penalties", "resettlement", "training"),
    ),
    _eligibility(
        "residence-verified",
        ResidenceVerified,
        "Public security verified a household's actual residence for an occupancy warning: its finding.",
        ("monitoring",),
    ),
)
"""The steps of a review case: the accountability trail other services (and auditors) follow."""


_FEDERATION_EVENTS: Final[tuple[EventSpec, ...]] = (
    EventSpec(
        context="federation",
        name="cross-region-result-recorded",
        version=1,
        payload=CrossRegionResultRecorded,
        summary="One peer city's verdict on a cross-region check: match, no_match or unverified.",
        producer="federation",
        consumers=("eligibility",),
    ),
)
"""Federation's verdicts, one per peer city and check."""


def _monitoring(name: str, payload: type[BaseModel], summary: str, consumers: tuple[str, ...]) -> EventSpec:
    return EventSpec("monitoring", name, 1, payload, summary, "monitoring", consumers)


_MONITORING_EVENTS: Final[tuple[EventSpec, ...]] = (
    EventSpec(
        context="signals",
        name="door-access",
        version=1,
        payload=DoorAccess,
        summary="Door openings at units' readers (one JSON object or an array per message).",
        producer="door-access-systems",
        consumers=("monitoring",),
        enveloped=False,
    ),
    EventSpec(
        context="signals",
        name="utility-reading",
        version=1,
        payload=UtilityReading,
        summary="Monthly water and electricity use per unit (one JSON object or an array per message).",
        producer="utility-companies",
        consumers=("monitoring",),
        enveloped=False,
    ),
    _monitoring(
        "warning-raised",
        OccupancyWarningRaised,
        "A detector suspects a unit is vacant or sublet/lent: score, explanation and evidence.",
        ("eligibility",),
    ),
    _monitoring(
        "warning-assigned",
        OccupancyWarningAssigned,
        "An inspector was put in charge of an occupancy warning.",
        ("eligibility",),
    ),
    _monitoring(
        "warning-confirmed",
        OccupancyWarningConfirmed,
        "The inspector confirmed the warning on site.",
        ("eligibility",),
    ),
    _monitoring(
        "warning-dismissed",
        OccupancyWarningDismissed,
        "The inspector dismissed the warning, with the reason.",
        ("eligibility",),
    ),
    _monitoring(
        "warning-rectified",
        OccupancyWarningRectified,
        "A confirmed violation was put right.",
        ("eligibility",),
    ),
    _monitoring(
        "violation-confirmed",
        ViolationConfirmed,
        "A vacant, sublet or lent unit confirmed on site: the fact penalties sanctions.",
        ("penalties", "eligibility"),
    ),
)
"""Monitoring's raw signals (stream SIGNALS, not enveloped) and its warnings' lifecycle."""


EVENTS: Final[tuple[EventSpec, ...]] = (
    *_CORE_EVENTS,
    *_ELIGIBILITY_REVIEW_EVENTS,
    *_FEDERATION_EVENTS,
    *_MONITORING_EVENTS,
    *monitoring.EVENTS,
    *penalties.EVENTS,
    *resettlement.EVENTS,
    *training.EVENTS,
)
"""Every integration event, every version."""

EVENTS_BY_TYPE: Final[dict[tuple[str, int], EventSpec]] = {(e.type, e.version): e for e in EVENTS}
"""Lookup by (CloudEvents `type`, version)."""
