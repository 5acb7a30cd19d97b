"""What the operator API's routes take in their bodies and paths, checked here before anything is
forwarded: the constraints the services apply (tests/gateway/test_declarations.py holds the two
documents side by side), and no ID number in any free text (`no_id_number`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag

from contracts.identifiers import NOT_AN_ID_NUMBER, no_id_number
from services.kit.http import IsoDate

Amount = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$")]
# Free text is held to what the services' contracts take: no ID number inside (`no_id_number`), so the
# gateway refuses it itself instead of relaying the service's refusal (and never forwards one).
Short = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]
Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(no_id_number), NOT_AN_ID_NUMBER]
REGION = r"^CN-[A-Z]{2}$"
Region = Annotated[str, StringConstraints(pattern=REGION)]
RegionQuery = Annotated[str, Query(pattern=REGION)]
# What the services behind take in their query and path parameters (tests/gateway/test_declarations.py
# holds the two documents side by side): a value the gateway allows must not be refused behind it.
SanctionState = Literal["proposed", "active", "issued", "notice_served", "executed", "lifted", "withdrawn"]
TransitionState = Literal["active", "overdue", "exited", "withdrawn"]
AppealState = Literal["open", "upheld", "dismissed"]
ReferralState = Literal["open", "enrolled", "wait_listed", "completed", "not_completed", "withdrawn"]
Pool = Literal["transitional", "affordable"]
# Names that become part of a service's path: letters, digits, `.`, `_`, `-`, never `..` alone.
PathName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")]


class FindingIn(BaseModel):
    findings: Text
    proposed_outcome: Literal["exit_required", "transition", "retain"]
    reason_code: Short
    low_income: bool = False
    wants_to_buy: bool = False


class DecisionIn(BaseModel):
    reason: Text = ""


class AssessmentRequestIn(BaseModel):
    assessor_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")]
    deadline: IsoDate
    reason: Text = ""


Grounds = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]


class AssessmentReportIn(BaseModel):
    """The assigned assessor's report; the case goes back to the reviewer."""

    report: Grounds
    recommendation: Literal["exit_required", "transition", "retain"]


class CaseAppealIn(BaseModel):
    """An appeal against a final (exit) decision, lodged on the household's behalf within the window."""

    reason: Grounds = Field(description="The household's grounds.")


class AppealDecisionIn(BaseModel):
    decision: Literal["upheld", "overturned"] = Field(
        description="The exit decision appealed against is upheld (it stands) or overturned (the "
        "household keeps its home: the case's outcome becomes `retain`)."
    )
    reason: Grounds


class ParameterValueIn(BaseModel):
    region: Region
    effective_from: IsoDate
    value: Amount
    legal_reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Text = ""


class CandidateValue(BaseModel):
    rule: Short
    region: Region
    value: Amount


class WhatIfIn(BaseModel):
    on: IsoDate
    values: list[CandidateValue] = Field(min_length=1, max_length=50)
    list_households: bool = True


class MemberIn(BaseModel):
    id_number: Annotated[str, StringConstraints(min_length=15, max_length=24)]
    birth_date: IsoDate
    disabled: bool = False


Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]
REFERENCE = "The registering office's own number: sent again, the same registration answers its household."


class HouseholdIn(BaseModel):
    """A household in a unit of a subsidised estate."""

    model_config = ConfigDict(extra="forbid", title="HouseholdInUnit")

    reference: Reference | None = Field(default=None, description=REFERENCE)
    region: Region
    estate: Short
    building: Short
    unit: Short
    base_rent: Amount
    tenancy_start: IsoDate
    members: list[MemberIn] = Field(min_length=1, max_length=30)


class RentSubsidyHouseholdIn(BaseModel):
    """A household renting on the market with a monthly rent subsidy: no estate, building or unit."""

    model_config = ConfigDict(extra="forbid", title="HouseholdOnRentSubsidy")

    reference: Reference | None = Field(default=None, description=REFERENCE)
    region: Region
    district: Short | None = None
    monthly_subsidy: Amount
    subsidy_start: IsoDate
    members: list[MemberIn] = Field(min_length=1, max_length=30)


def _housing_of(body: Any) -> str:
    """The kind a body describes (as eligibility decides it): one naming a subsidy is on a subsidy."""
    if isinstance(body, dict):
        return "rent_subsidy" if {"monthly_subsidy", "subsidy_start"} & body.keys() else "tenancy"
    return "rent_subsidy" if isinstance(body, RentSubsidyHouseholdIn) else "tenancy"


AnyHouseholdIn = Annotated[
    Annotated[HouseholdIn, Tag("tenancy")] | Annotated[RentSubsidyHouseholdIn, Tag("rent_subsidy")],
    Discriminator(_housing_of),
]


class SweepOrderIn(BaseModel):
    """Neither: the whole city (an account scoped to estates must name one of its estates)."""

    region: Region | None = None
    estate: Short | None = None
    reason: Text = ""


class WarningStepIn(BaseModel):
    finding: Literal["vacant", "sublet", "lend"] | None = None
    reason: Text | None = None
    note: Text | None = None
    on: IsoDate | None = None
    reason_late: Text | None = Field(
        default=None, description="why a step dated before today (`on`) is recorded late; required with one"
    )


# -- penalties, resettlement, training: what the services accept, checked here first ------------------

Note = Text
Reason = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]


ReasonLate = Annotated[
    Text | None, Field(description="why a step dated before today (`on`) is recorded late; required with one")
]


class SanctionIn(BaseModel):
    kind: Literal["rent_surcharge", "credit_list", "repossession"]
    violation: Literal["sublet", "lend", "vacant", "concealed_income", "concealed_assets", "overstaying"]
    basis_id: UUID = Field(
        description="a confirmed violation's warning id, an exit decision's review id or an overdue plan's id"
    )
    note: Note = ""
    on: IsoDate | None = None
    reason_late: ReasonLate = None


class DatedIn(BaseModel):
    """A penalties step: today, or an earlier day (`on`) within the late-recording window, with a reason."""

    on: IsoDate | None = None
    reason_late: ReasonLate = None


class SanctionStepIn(BaseModel):
    on: IsoDate | None = None
    reason: Note = Field(default="", description="required to withdraw; optional to lift")
    reason_late: ReasonLate = None


class AppealIn(BaseModel):
    grounds: Reason
    on: IsoDate | None = None
    reason_late: ReasonLate = None


class ResolveIn(BaseModel):
    outcome: Literal["upheld", "dismissed"]
    note: Note = ""
    on: IsoDate | None = None
    reason_late: ReasonLate = None


class DeclineIn(BaseModel):
    reason: Note = ""


class ReasonIn(BaseModel):
    reason: Reason


class UnitStepIn(BaseModel):
    reason: Note = ""


class ExpireIn(BaseModel):
    as_of: IsoDate | None = Field(
        default=None, description="only today (the sweep runs on the service's date; any other day: 422)"
    )


class MoveInIn(BaseModel):
    on: IsoDate | None = None
    reason_late: ReasonLate = None


class SessionIn(BaseModel):
    on: IsoDate
    topic: Note = ""


class CourseIn(BaseModel):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    title: Short
    provider: Short
    estate: Short = Field(description="Estate (or district venue) where the course is held")
    capacity: int = Field(ge=1, le=10_000)
    sessions: list[SessionIn] = Field(min_length=1, max_length=500)


class ReferIn(BaseModel):
    household_id: UUID
    member_id: UUID
    note: Note = ""
    on: IsoDate | None = None
    reason_late: ReasonLate = None


class EnrolIn(BaseModel):
    referral_id: UUID
    on: IsoDate | None = None
    reason_late: ReasonLate = None


class AttendanceIn(BaseModel):
    held_on: IsoDate | None = Field(
        default=None, description="defaults to today; never before the scheduled day (nor a session to come)"
    )
    attendees: list[UUID] = Field(max_length=10_000, description="member ids of the trainees present")
    reason_late: ReasonLate = None


class EmploymentIn(BaseModel):
    employer: Label
    start_date: IsoDate


class StableIn(BaseModel):
    on: IsoDate | None = None
    basis: Reason = Field(description="how it was checked (call to the employer, contract, ...)")
    reason_late: ReasonLate = None


class AttributeIn(BaseModel):
    referral_id: UUID
