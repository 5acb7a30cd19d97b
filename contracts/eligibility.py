"""What the eligibility service tells the platform: the households it manages, its review decisions and
the exit decisions that follow.

Eligibility owns the household and its members; every other service learns about them only from these
events. Members are opaque UUIDs with just the attributes other services act on (age for elderly
placement, disability for priority resettlement): no names, no ID numbers. Reviews are two-stage, as
the reform prescribes: an automated first review (`ReviewDecided`) that explains every rule it applied,
then, when needed, a manual re-review approved by a second person (`ReviewConfirmed`). The outcome that
other services act on is `ExitDecided`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from contracts.base import Contract
from contracts.department import Department
from contracts.federation import PeerSubject
from contracts.identifiers import CityCode, Label, OperatorId, Text
from contracts.money import Yuan
from contracts.times import Day

__all__ = [
    "AppealLodged",
    "AppealResolved",
    "AssessmentReceived",
    "AssessmentRequested",
    "CrossRegionCheckRequested",
    "CrossRegionCheckRequestedV2",
    "CrossRegionRegisterUpdated",
    "ExitDecided",
    "ExitRoute",
    "FactRecorded",
    "FindingRecorded",
    "HouseholdMembersChanged",
    "HouseholdRegistered",
    "Member",
    "ProposedOutcome",
    "RentSubsidyRegistered",
    "ResidenceVerified",
    "ReviewConfirmed",
    "ReviewDecided",
    "ReviewDecision",
    "ReviewOpened",
    "ReviewOutcome",
    "ReviewReason",
    "WarningRaised",
]

Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]

ReviewDecision = Literal["qualifies", "exit_triggered", "needs_manual"]
"""Automated first review: still qualifies; an exit condition is met; or a person must look (data missing,
unverified across regions, borderline)."""

ReviewOutcome = Literal["qualifies", "exit", "transition", "third_party_assessment"]
"""Manual re-review: qualifies; exit; exit through the transition period; or refer the complex case to a
third-party assessment."""

ExitRoute = Literal["transition", "exit", "voluntary"]
"""How the household leaves: transition period (rising rent), exit, or voluntary exit (incentives)."""


class Member(Contract):
    """A household member as other services may know them: an id and the attributes that matter for
    placement and priority. Deliberately no name and no ID number."""

    member_id: UUID = Field(description="Opaque member id issued by eligibility.")
    birth_date: Day = Field(description="For age-based rules (elderly placement).")
    disabled: bool = Field(description="For disability priority in resettlement.")


def _members_unique(members: list[Member]) -> None:
    ids = [m.member_id for m in members]
    if len(ids) != len(set(ids)):
        raise ValueError("member_id values must be unique within a household")


class HouseholdRegistered(Contract):
    """A household holds a subsidised unit: where, since when, at what rent, with which members."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    region: CityCode = Field(description="City whose exit thresholds apply.")
    estate: Label = Field(description="Housing estate.")
    building: Label = Field(description="Building in the estate.")
    unit: Label = Field(description="Flat in the building.")
    base_rent: Yuan = Field(description="Monthly rent before any surcharge or transition increase.")
    tenancy_start: Day = Field(description="First day of the tenancy.")
    members: list[Member] = Field(min_length=1, description="Everyone in the household.")

    @model_validator(mode="after")
    def _unique_members(self) -> Self:
        _members_unique(self.members)
        return self


class RentSubsidyRegistered(Contract):
    """A household receives a monthly rent subsidy (租赁补贴) instead of a unit: it rents on the market,
    so there is no estate, building, unit or rent ledger. The same exit rules apply; for such a household
    exit means losing the subsidy. A fact of its own rather than a version of `HouseholdRegistered`, which
    says "holds a subsidised unit" and stays the one event about units."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    region: CityCode = Field(description="City whose exit thresholds apply.")
    district: Label | None = Field(
        default=None, description="District of the city the household lives in, when known."
    )
    monthly_subsidy: Yuan = Field(description="Subsidy paid each month.")
    subsidy_start: Day = Field(description="First day the subsidy is paid.")
    members: list[Member] = Field(min_length=1, description="Everyone in the household.")

    @model_validator(mode="after")
    def _unique_members(self) -> Self:
        _members_unique(self.members)
        return self


class HouseholdMembersChanged(Contract):
    """The household's members changed (birth, death, moving in or out): the complete new list, so a
    consumer replaces rather than patches."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    members: list[Member] = Field(min_length=1, description="Everyone in the household now.")

    @model_validator(mode="after")
    def _unique_members(self) -> Self:
        _members_unique(self.members)
        return self


class ReviewReason(Contract):
    """One rule the automated review applied, with what it saw and the threshold it compared against:
    the decision is explainable to the household and auditable afterwards."""

    rule: Label = Field(description="Rule identifier, e.g. `income_per_capita`.")
    observed: str | None = Field(
        default=None, max_length=200, description="Observed value as text (decimal), or null if unknown."
    )
    threshold: str | None = Field(
        default=None, max_length=200, description="Threshold as text (decimal), or null if not numeric."
    )
    unit: Annotated[str, StringConstraints(max_length=32)] = Field(
        description="Unit of observed and threshold, e.g. `yuan/person/month`, `m2`, `yuan`."
    )
    legal_reference: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Regulation and article the rule applies."
    )
    triggered: bool = Field(description="Whether this rule points to exit.")
    note: Text = Field(default="", description="Free-text explanation.")


class ReviewDecided(Contract):
    """The automated first review of a household concluded."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    review_id: UUID = Field(description="This review.")
    decision: ReviewDecision
    decided_on: Day = Field(description="Date of the decision.")
    reasons: list[ReviewReason] = Field(min_length=1, description="Every rule applied, triggered or not.")


class ReviewConfirmed(Contract):
    """A manual re-review concluded under the four-eyes principle: one operator reviewed, a different
    one approved. Both are named for the accountability trail."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    review_id: UUID = Field(description="The review this re-review concludes.")
    outcome: ReviewOutcome
    reviewer_id: OperatorId = Field(description="Operator who did the re-review.")
    approver_id: OperatorId = Field(description="Second operator who approved it; never the reviewer.")
    decided_on: Day = Field(description="Date of approval.")
    comment: Text = Field(default="", description="Reviewer's explanation.")

    @model_validator(mode="after")
    def _four_eyes(self) -> Self:
        if self.reviewer_id == self.approver_id:
            raise ValueError("four-eyes: approver_id must differ from reviewer_id")
        return self


class ExitDecided(Contract):
    """The household will leave subsidised housing, by `route`; what penalties (transition rent,
    incentives), resettlement (placement, purchase help) and training act on."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    review_id: UUID = Field(description="The review that led to the exit.")
    route: ExitRoute
    decided_on: Day = Field(description="Date of the exit decision.")
    low_income: bool = Field(description="Low-income household: voluntary-exit subsidy, placement priority.")
    wants_to_buy: bool = Field(description="Wishes to buy: priority purchase, loan-rate help.")


class CrossRegionCheckRequested(Contract):
    """Eligibility asks the federation service to verify a household with neighbouring cities. The request
    names the purpose and the legal basis, which every peer checks against what it allows."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    check_id: UUID = Field(description="This check; answers refer to it.")
    cities: list[CityCode] = Field(min_length=1, description="Peer cities to ask.")
    purpose: Purpose = Field(description="Declared purpose, e.g. `exit-review`.")
    legal_basis: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Regulation that allows the query."
    )

    @model_validator(mode="after")
    def _unique_cities(self) -> Self:
        if len(self.cities) != len(set(self.cities)):
            raise ValueError("cities must not repeat")
        return self


class CrossRegionCheckRequestedV2(CrossRegionCheckRequested):
    """v2: the check carries its subjects, each member hashed for each requested city under the
    linkage key current when it was asked (a city without one has none, and is answered
    `unverified`). Eligibility derives them where the ID numbers are; none leaves it."""

    subjects: list[PeerSubject] = Field(description="One per member per requested city with a key.")

    @model_validator(mode="after")
    def _subjects_of_requested_cities(self) -> Self:
        if any(subject.city not in self.cities for subject in self.subjects):
            raise ValueError("a subject names a city the check does not ask")
        return self


class CrossRegionRegisterUpdated(Contract):
    """What our registers say about a household's members, as federation answers peer cities about
    them: their hashes under every linkage key a peer may ask with, and the three categories, which
    hold for every member. Sent at registration and whenever any of it changes (members, keys,
    property on record); each replaces the previous one of the household."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    subjects: list[PeerSubject] = Field(description="Every member under every usable key of every peer.")
    holds_subsidised_housing: bool = Field(description="A unit or a rent subsidy of ours (registered).")
    receives_housing_subsidy: bool = Field(description="On a rent subsidy of ours.")
    owns_property_over_threshold: bool = Field(
        description="Property in our city on record above the dated threshold (all members' together)."
    )
    as_of: Day = Field(description="The date the categories were judged on.")


# -- Events of the review process: the accountability trail of a case, step by step.

ProposedOutcome = Literal["exit_required", "transition", "retain"]
"""What a reviewer proposes in the manual re-review: exit, exit through the transition period (staged
changes), or keep the household."""

Reference = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class FactRecorded(Contract):
    """A department fact was recorded on a household (and re-evaluated it). It says which record and
    what kind, not the values: those stay with the departments and eligibility."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    department: Department = Field(description="Reporting department.")
    reference: Reference = Field(description="The department's own reference of the record.")
    kind: Label = Field(description="Kind of fact, e.g. `income`, `property`, `financial_assets`.")
    described_on: Day = Field(description="The date the fact describes.")


class WarningRaised(Contract):
    """A household newly meets an exit condition: the automatic warning of dynamic monitoring."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    review_id: UUID = Field(description="The automated review that raised it.")
    rules: list[Label] = Field(min_length=1, description="Rules whose exit condition is met.")
    raised_on: Day = Field(description="Date of the warning.")


class ReviewOpened(Contract):
    """A manual re-review case was opened for a household."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The review case.")
    review_id: UUID = Field(description="The automated review that led to it.")
    reason: Text = Field(description="Why the case was opened.")
    opened_on: Day = Field(description="Date the case was opened.")


class FindingRecorded(Contract):
    """A reviewer recorded findings and proposed an outcome; a different supervisor must approve."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The review case.")
    reviewer_id: OperatorId = Field(description="Operator who recorded the findings.")
    proposed_outcome: ProposedOutcome
    reason_code: Label = Field(description="Reason code of the proposal.")
    recorded_on: Day = Field(description="Date of the findings.")


class AssessmentRequested(Contract):
    """A complex case was referred to a third-party assessor."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The review case.")
    requested_by: OperatorId = Field(description="Operator who asked for the assessment.")
    assessor_id: OperatorId = Field(description="The assessor's account.")
    deadline: Day = Field(description="Date the report is due.")


class AssessmentReceived(Contract):
    """The third-party assessor's report arrived (its text stays in the case)."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The review case.")
    assessor_id: OperatorId = Field(description="The assessor's account.")
    recommendation: ProposedOutcome
    received_on: Day = Field(description="Date the report arrived.")


class AppealLodged(Contract):
    """The household appealed a final decision within the appeal window; the case is open again."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The review case.")
    lodged_on: Day = Field(description="Date of the appeal.")


class ResidenceVerified(Contract):
    """Public security verified, at the bureau's request, whether a household actually lives in its flat
    (a verification task raised from an occupancy warning): what it found there. Monitoring closes the
    warning with it (confirmed with the finding, or dismissed when the household lives there), and a
    confirmation is the violation penalties sanctions, as an inspector's is."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    request_id: UUID = Field(description="The verification task (a record request to public security).")
    warning_id: UUID = Field(description="The occupancy warning the task was raised from.")
    department: Department = Field(description="Who verified (public security).")
    finding: Literal["sublet", "lend", "vacant", "lives_there"] = Field(
        description="Let for money, lent, standing empty, or the household lives there."
    )
    note: Text = Field(default="", description="What the officer saw, in words (no personal numbers).")
    verified_by: OperatorId = Field(description="The department's system or officer that answered.")
    verified_on: Day = Field(description="The day it was recorded (the city's date).")


class AppealResolved(Contract):
    """An appeal was decided (four-eyes again): the outcome now in force and whether it changed."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The review case.")
    outcome: ProposedOutcome
    overturned: bool = Field(description="Whether the appeal changed the earlier final outcome.")
    resolved_on: Day = Field(description="Date of the approval that resolved the appeal.")
