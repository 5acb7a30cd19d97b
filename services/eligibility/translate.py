"""Domain events out as contract events: the only shape other services ever see.

What never crosses this boundary: ID numbers and person hashes of members (other services know members
by `member_id`), free-text findings (they stay in the case's trail), assessors' reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.utils import get_topic
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE, EventSpec
from contracts.eligibility import (
    AppealLodged,
    AppealResolved,
    AssessmentReceived,
    AssessmentRequested,
    CrossRegionCheckRequestedV2,
    CrossRegionRegisterUpdated,
    ExitDecided,
    FactRecorded,
    FindingRecorded,
    HouseholdMembersChanged,
    HouseholdRegistered,
    Member,
    RentSubsidyRegistered,
    ResidenceVerified,
    ReviewConfirmed,
    ReviewDecided,
    ReviewOpened,
    WarningRaised,
)
from services.eligibility.domain import (
    FactReceipt,
    Household,
    ParameterBook,
    ParkedFacts,
    PersonIndex,
    ReviewCase,
)
from services.eligibility.record_request import RecordRequest
from services.eligibility.register import unpacked
from services.eligibility.settings import EligibilitySettings
from services.kit.codec import Outgoing

Emit = Callable[[str, UUID, BaseModel], list[Outgoing]]
"""Makes the contract event `housing.eligibility.<name>` about a household, if the catalogue lists it."""

CONFIRMED_OUTCOME = {"exit_required": "exit", "transition": "transition", "retain": "qualifies"}
EXIT_ROUTE = {"exit_required": "exit", "transition": "transition"}

Translator = Callable[[DomainEventProtocol[UUID]], list[Outgoing]]
Catalogue = Mapping[tuple[str, int], EventSpec]


def members(records: list[dict[str, Any]]) -> list[Member]:
    return [
        Member(member_id=m["member_id"], birth_date=m["birth_date"], disabled=m["disabled"]) for m in records
    ]


def reasons(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rule applied, with its source facts and parameter in the note: `ReviewReason`s as the
    fields `ReviewDecided` validates them from (one validation for the whole payload, rather than one
    per reason and then the payload: the relay translates a decision for every fact)."""
    out = []
    for rule in decision["rules"]:
        sources = "; ".join(
            f"{s['department']} {s['reference']} of {s['described_on']}" for s in rule["sources"]
        )
        note = f"{rule['status']}: {rule['comparison']}"
        if rule["effective_from"] is not None:
            note += f" (value in force since {rule['effective_from']})"
        if sources:
            note += f"; source: {sources}"
        out.append(
            {
                "rule": rule["rule"],
                "observed": rule["observed"],
                "threshold": rule["threshold"],
                "unit": rule["unit"][:32],
                "legal_reference": rule["legal_reference"][:200],
                "triggered": rule["status"] == "exit",
                "note": note[:2000],
            }
        )
    return out


def make_translator(settings: EligibilitySettings, catalogue: Catalogue = EVENTS_BY_TYPE) -> Translator:
    """The relay's translator; an event type `catalogue` does not list is not published."""

    def catalogued(name: str, household_id: UUID, payload: BaseModel, version: int = 1) -> list[Outgoing]:
        spec = catalogue.get((f"housing.eligibility.{name}", version))
        return [] if spec is None else [Outgoing(spec, str(household_id), payload)]

    def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
        out = core(domain_event)
        if isinstance(domain_event, Household.FactRecorded):
            out += catalogued(
                "fact-recorded",
                domain_event.originator_id,
                FactRecorded(
                    household_id=domain_event.originator_id,
                    department=domain_event.department,  # type: ignore[arg-type]
                    reference=domain_event.reference,
                    kind=domain_event.kind,
                    described_on=domain_event.described_on,
                ),
            )
        elif isinstance(domain_event, Household.CaseOpened):
            on = settings.local_date(domain_event.timestamp)
            household = domain_event.originator_id
            out = [
                *catalogued(
                    "warning-raised",
                    household,
                    WarningRaised(
                        household_id=household,
                        review_id=domain_event.review_id,
                        rules=domain_event.rules,
                        raised_on=on,
                    ),
                ),
                *catalogued(
                    "review-opened",
                    household,
                    ReviewOpened(
                        household_id=household,
                        case_id=domain_event.case_id,
                        review_id=domain_event.review_id,
                        reason=domain_event.reason[:2000],
                        opened_on=on,
                    ),
                ),
                *out,
            ]
        elif isinstance(domain_event, RecordRequest.Inspected):
            out += catalogued(
                "residence-verified",
                domain_event.household_id,
                ResidenceVerified(
                    household_id=domain_event.household_id,
                    request_id=domain_event.originator_id,
                    warning_id=domain_event.warning_id,
                    department=domain_event.department,  # type: ignore[arg-type]
                    finding=domain_event.finding,  # type: ignore[arg-type]
                    note=domain_event.note,
                    verified_by=domain_event.answered_by,
                    verified_on=domain_event.answered_on,
                ),
            )
        elif isinstance(domain_event, ReviewCase.FindingRecorded):
            out += catalogued(
                "finding-recorded",
                domain_event.household_id,
                FindingRecorded(
                    household_id=domain_event.household_id,
                    case_id=domain_event.originator_id,
                    reviewer_id=domain_event.reviewer,
                    proposed_outcome=domain_event.proposed_outcome,  # type: ignore[arg-type]
                    reason_code=domain_event.reason_code,
                    recorded_on=settings.local_date(domain_event.at),
                ),
            )
        elif isinstance(domain_event, ReviewCase.AssessmentRequested):
            out += catalogued(
                "assessment-requested",
                domain_event.household_id,
                AssessmentRequested(
                    household_id=domain_event.household_id,
                    case_id=domain_event.originator_id,
                    requested_by=domain_event.requested_by,
                    assessor_id=domain_event.assessor_id,
                    deadline=domain_event.deadline,
                ),
            )
        elif isinstance(domain_event, ReviewCase.AssessmentReceived):
            out += catalogued(
                "assessment-received",
                domain_event.household_id,
                AssessmentReceived(
                    household_id=domain_event.household_id,
                    case_id=domain_event.originator_id,
                    assessor_id=domain_event.assessor_id,
                    recommendation=domain_event.recommendation,  # type: ignore[arg-type]
                    received_on=settings.local_date(domain_event.at),
                ),
            )
        elif isinstance(domain_event, ReviewCase.AppealLodged):
            out += catalogued(
                "appeal-lodged",
                domain_event.household_id,
                AppealLodged(
                    household_id=domain_event.household_id,
                    case_id=domain_event.originator_id,
                    lodged_on=settings.local_date(domain_event.at),
                ),
            )
        elif isinstance(domain_event, ReviewCase.AppealDecided) or (
            isinstance(domain_event, ReviewCase.Approved) and domain_event.appeal
        ):
            # an appeal decided: by a supervisor's decision on it, or by findings approved on appeal
            out += catalogued(
                "appeal-resolved",
                domain_event.household_id,
                AppealResolved(
                    household_id=domain_event.household_id,
                    case_id=domain_event.originator_id,
                    outcome=domain_event.outcome,  # type: ignore[arg-type]
                    overturned=domain_event.outcome != domain_event.previous_outcome,
                    resolved_on=settings.local_date(domain_event.at),
                ),
            )
        return out

    def core(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
        """Household, decision and case-opening events."""
        household = domain_event.originator_id
        if isinstance(domain_event, Household.Registered):
            return registered(domain_event, catalogued)
        if isinstance(domain_event, Household.MembersChanged):
            changed = HouseholdMembersChanged(
                household_id=domain_event.originator_id, members=members(domain_event.members)
            )
            return catalogued("household-members-changed", household, changed)
        if isinstance(domain_event, Household.Evaluated):
            decision = domain_event.decision
            decided = ReviewDecided.model_validate(
                {
                    "household_id": domain_event.originator_id,
                    "review_id": domain_event.review_id,
                    "decision": decision["outcome"],
                    "decided_on": decision["decided_on"],
                    "reasons": reasons(decision),
                }
            )
            return catalogued("review-decided", household, decided)
        if isinstance(domain_event, Household.CrossRegionRequested):
            # by the periodic sweep or a case opening (`CaseOpened` names the same check); v2 carries
            # the members' hashes for each requested city (services/eligibility/register.py)
            check = CrossRegionCheckRequestedV2.model_validate(
                {
                    "household_id": domain_event.originator_id,
                    "check_id": domain_event.check_id,
                    "cities": domain_event.cities,
                    "purpose": domain_event.purpose,
                    "legal_basis": settings.cross_region_legal_basis,
                    "subjects": unpacked(domain_event.subjects),
                }
            )
            return catalogued("cross-region-check-requested", household, check, version=2)
        if isinstance(domain_event, Household.RegisterUpdated):
            entry = CrossRegionRegisterUpdated.model_validate(
                {
                    "household_id": household,
                    "subjects": unpacked(domain_event.subjects),
                    "as_of": domain_event.as_of,
                    **domain_event.categories,
                }
            )
            return catalogued("cross-region-register-updated", household, entry)
        if isinstance(domain_event, ReviewCase.Approved):
            return approved(domain_event, catalogued, settings.local_date)
        return []

    return _Translator(translate)


class _Translator:
    """The translate function, with the topics it never publishes anything for (the relay passes
    over those undecoded: a receipt per fact would otherwise be decoded to be dropped)."""

    silent_topics = frozenset(
        get_topic(cls)
        for aggregate in (FactReceipt, PersonIndex, ParkedFacts, ParameterBook)
        for cls in vars(aggregate).values()
        if isinstance(cls, type) and issubclass(cls, Aggregate.Event)
    ) | {get_topic(Household.OccupancyNoted)}  # monitoring's own warnings, noted: nothing to tell

    def __init__(self, translate: Translator) -> None:
        self._translate = translate

    def __call__(self, domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
        return self._translate(domain_event)


def registered(domain_event: Household.Registered, emit: Emit) -> list[Outgoing]:
    """A household in a unit is `household-registered` (unchanged since version 1, which every
    follower reads); one on a rent subsidy is `rent-subsidy-registered`: no estate, unit or rent."""
    household = domain_event.originator_id
    if domain_event.monthly_subsidy is not None and domain_event.subsidy_start is not None:
        subsidised = RentSubsidyRegistered(
            household_id=household,
            region=domain_event.region,
            district=domain_event.district,
            monthly_subsidy=domain_event.monthly_subsidy,
            subsidy_start=domain_event.subsidy_start,
            members=members(domain_event.members),
        )
        return emit("rent-subsidy-registered", household, subsidised)
    assert domain_event.estate and domain_event.building and domain_event.unit
    assert domain_event.base_rent is not None and domain_event.tenancy_start is not None
    tenancy = HouseholdRegistered(
        household_id=household,
        region=domain_event.region,
        estate=domain_event.estate,
        building=domain_event.building,
        unit=domain_event.unit,
        base_rent=domain_event.base_rent,
        tenancy_start=domain_event.tenancy_start,
        members=members(domain_event.members),
    )
    return emit("household-registered", household, tenancy)


def approved(
    domain_event: ReviewCase.Approved, emit: Emit, local_date: Callable[[datetime], date]
) -> list[Outgoing]:
    """The confirmed review and, for an exit, the exit decision, dated by the city's calendar
    (`local_date`): penalties counts the notice's deadline from `decided_on`, so at 00:30 in Foshan
    (16:30 UTC the day before) it is the city's day, as every other step of that minute is."""
    confirmed = ReviewConfirmed(
        household_id=domain_event.household_id,
        review_id=domain_event.review_id,
        outcome=CONFIRMED_OUTCOME[domain_event.outcome],  # type: ignore[arg-type]
        reviewer_id=domain_event.reviewer,
        approver_id=domain_event.approver,
        decided_on=local_date(domain_event.at),
        comment=domain_event.reason[:2000],
    )
    out = emit("review-confirmed", domain_event.household_id, confirmed)
    route = EXIT_ROUTE.get(domain_event.outcome)
    if route is not None:
        exit_decided = ExitDecided(
            household_id=domain_event.household_id,
            review_id=domain_event.review_id,
            route=route,  # type: ignore[arg-type]
            decided_on=local_date(domain_event.at),
            low_income=domain_event.low_income,
            wants_to_buy=domain_event.wants_to_buy,
        )
        out += emit("exit-decided", domain_event.household_id, exit_decided)
    return out
