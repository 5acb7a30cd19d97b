"""Eligibility's HTTP API: the request bodies (households, members, parameter values, review steps,
what-if) and their types and checks."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    TypeAdapter,
    WithJsonSchema,
)

from contracts.identifiers import CityCode, OperatorId
from services.eligibility import identity
from services.eligibility.application import MemberInput, Registration, TenancyInput
from services.eligibility.domain import RentSubsidy
from services.kit.dating import InvalidField, not_in_future
from services.kit.http import IsoDate

Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Role = Literal["reviewer", "supervisor", "assessor", "household"]
CaseStatus = Literal["open", "proposed", "assessment", "decided", "appealed"]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]

_AMOUNT_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")


def _amount_text(value: object) -> object:
    """Only what the documented pattern says: a decimal string (a JSON number would be a float)."""
    if not isinstance(value, str) or _AMOUNT_TEXT.fullmatch(value) is None:
        raise ValueError('must be a decimal string such as "3960.00" (at most 12 digits and 2 decimals)')
    return value


DecimalText = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
            "description": "A non-negative decimal string, at most 12 digits and 2 decimals.",
            "examples": ["3960.00"],
        }
    ),
]
"""A parameter value (yuan or m², the rule's unit): documented as the string pattern it must match, so
a client (or a fuzzer) knows from the OpenAPI document alone what is accepted (`contracts.money.Yuan`
also takes a JSON integer its schema does not mention)."""

Money = Annotated[DecimalText, AfterValidator(lambda amount: amount.quantize(Decimal("0.01")))]
"""Yuan in a request: a decimal string, kept to the fen."""


class NotAnIdNumber(InvalidField):
    title = "Not a resident ID number"


class MemberIn(BaseModel):
    id_number: Annotated[str, StringConstraints(min_length=15, max_length=24)] = Field(
        description="Resident ID number (18 characters, the last a check digit or X; 422 otherwise); "
        "hashed and kept only in eligibility's store, never returned."
    )
    birth_date: IsoDate = Field(description="Date of birth; not after today (the city's date).")
    disabled: StrictBool = False


def born_by(members: list[MemberIn], today: date, prefix: str = "members") -> None:
    """Every member's ID number well formed (`identity.is_valid`) and birth on or before `today`; else
    422 naming the member's field. A malformed number is invalid input, not a state the household is
    in; the message never quotes it. (A domain check, not the schema's: the check digit is no pattern.)"""
    for index, member in enumerate(members):
        if not identity.is_valid(member.id_number):
            message = "not a resident ID number: 17 digits and a final digit or X, with a valid check digit"
            raise NotAnIdNumber(message, f"{prefix}.{index}.id_number")
        not_in_future(member.birth_date, today, f"{prefix}.{index}.birth_date", "a birth")


class TenancyHouseholdIn(BaseModel):
    """A household in a unit of a subsidised estate."""

    model_config = ConfigDict(extra="forbid", title="HouseholdInUnit")

    reference: Reference | None = Field(
        default=None,
        description="The registering office's own number: a registration sent again is a duplicate.",
    )
    region: CityCode
    estate: Label
    building: Label
    unit: Label
    base_rent: Money
    tenancy_start: IsoDate
    members: list[MemberIn] = Field(min_length=1)


class RentSubsidyHouseholdIn(BaseModel):
    """A household renting on the market with a monthly rent subsidy: no estate, building or unit."""

    model_config = ConfigDict(extra="forbid", title="HouseholdOnRentSubsidy")

    reference: Reference | None = Field(
        default=None,
        description="The registering office's own number: a registration sent again is a duplicate.",
    )
    region: CityCode
    district: Label | None = Field(default=None, description="District the household lives in, when known.")
    monthly_subsidy: Money
    subsidy_start: IsoDate
    members: list[MemberIn] = Field(min_length=1)


def _housing_of(body: Any) -> str:
    """Which kind of household a body describes: one naming a subsidy is on a rent subsidy (and is
    then refused if it also names a unit), any other is in a unit. Errors name one kind's fields."""
    if isinstance(body, dict):
        return "rent_subsidy" if {"monthly_subsidy", "subsidy_start"} & body.keys() else "tenancy"
    return "rent_subsidy" if isinstance(body, RentSubsidyHouseholdIn) else "tenancy"


HouseholdIn = Annotated[
    Annotated[TenancyHouseholdIn, Tag("tenancy")] | Annotated[RentSubsidyHouseholdIn, Tag("rent_subsidy")],
    Discriminator(_housing_of),
]
# cast: mypy reads the Annotated union as a UnionType, not a type; the declared type says what it gives
HOUSEHOLD_IN: TypeAdapter[TenancyHouseholdIn | RentSubsidyHouseholdIn] = TypeAdapter(cast(Any, HouseholdIn))


def registration(body: TenancyHouseholdIn | RentSubsidyHouseholdIn) -> Registration:
    members = [MemberInput(m.id_number, m.birth_date, m.disabled) for m in body.members]
    if isinstance(body, RentSubsidyHouseholdIn):
        subsidy = RentSubsidy(body.monthly_subsidy, body.subsidy_start, body.district)
        return Registration(body.region, subsidy, members, body.reference)
    tenancy = TenancyInput(body.estate, body.building, body.unit, body.base_rent, body.tenancy_start)
    return Registration(body.region, tenancy, members, body.reference)


class MembersIn(BaseModel):
    members: list[MemberIn] = Field(min_length=1)


class SearchIn(BaseModel):
    """A member's ID number, in a body: a URL's query would carry it into access logs and traces."""

    model_config = ConfigDict(extra="forbid")

    id_number: Annotated[str, StringConstraints(min_length=15, max_length=24)] = Field(
        description="Resident ID number of a member; hashed to look the member up, never kept or logged."
    )


class ParameterValueIn(BaseModel):
    region: CityCode
    effective_from: IsoDate
    value: DecimalText
    legal_reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Text = ""


class FindingIn(BaseModel):
    findings: Text
    proposed_outcome: Literal["exit_required", "transition", "retain"]
    reason_code: Label
    low_income: bool = False
    wants_to_buy: bool = False


class DecisionIn(BaseModel):
    reason: Text = ""


class AssessmentRequestIn(BaseModel):
    assessor_id: OperatorId
    deadline: IsoDate
    reason: Text = ""


class AssessmentReportIn(BaseModel):
    report: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    recommendation: Literal["exit_required", "transition", "retain"]


class AppealIn(BaseModel):
    """An appeal against a final decision: its grounds, as the household gives them."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="The household's grounds."
    )


class AppealDecisionIn(BaseModel):
    decision: Literal["upheld", "overturned"] = Field(
        description="The exit decision appealed against is upheld (it stands) or overturned (the "
        "household keeps its home: the case's outcome becomes `retain`)."
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class CandidateValue(BaseModel):
    rule: Label
    region: CityCode
    value: DecimalText


class SweepOrderIn(BaseModel):
    region: CityCode | None = None
    estate: Label | None = None
    reason: Text = ""


class WhatIfIn(BaseModel):
    on: IsoDate = Field(description="Date the candidate parameters would be in force.")
    values: list[CandidateValue] = Field(min_length=1)
    list_households: bool = Field(default=True, description="List the ids of the households that flip.")
