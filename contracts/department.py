"""What the departments tell the housing authority: facts about a household or a person, as of a date.

Multi-department data sharing is the input of both the automated first review and dynamic monitoring.
Each department reports in its own terms (its own reference, the date its record describes); the
contract only normalises the shape so that every fact kind has one meaning platform-wide. A person is
named by an `IdHash`, never an ID number (see `contracts.identifiers`). Amounts and areas are decimal
strings only (`YuanText`, `SquareMetresText`): a JSON number, an integer included, is refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from contracts.base import Contract
from contracts.identifiers import NOT_AN_ID_NUMBER, CityCode, IdHash, no_id_number
from contracts.money import SquareMetresText, YuanText
from contracts.times import Day

__all__ = [
    "REPORTS",
    "Department",
    "DepartmentFactReported",
    "DepartmentFactsReported",
    "EmploymentFact",
    "Fact",
    "FinancialAssetsFact",
    "IncomeFact",
    "PropertyFact",
    "RegistrationFact",
    "SocialInsuranceFact",
    "TaxFact",
]

Reference = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]
Employer = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_id_number), NOT_AN_ID_NUMBER
]


class Department(StrEnum):
    """The departments that share data with the housing authority."""

    CIVIL_AFFAIRS = "civil_affairs"
    REAL_ESTATE = "real_estate"
    FINANCE = "finance"
    PUBLIC_SECURITY = "public_security"
    TAX = "tax"
    SOCIAL_INSURANCE = "social_insurance"
    HUMAN_RESOURCES = "human_resources"


REPORTS: dict[str, frozenset[str]] = {
    "civil_affairs": frozenset({"income"}),
    "real_estate": frozenset({"property"}),
    "finance": frozenset({"financial_assets"}),
    "public_security": frozenset({"registration"}),
    "tax": frozenset({"tax"}),
    "social_insurance": frozenset({"social_insurance"}),
    "human_resources": frozenset({"employment", "income"}),
}
"""The kinds of fact each department reports, and so may be asked for. Human resources (and social
security) holds members' wages: it reports incomes too, a second source beside civil affairs' (two
departments' figures for the same date that differ are a conflict a person resolves)."""


class IncomeFact(Contract):
    """Monthly income (usually from civil affairs). What it measures depends on whom the fact names:

    - without `person_hash` (a fact about a household): the household's per-capita monthly income,
      already divided by the members counted, not a household total; the exit trigger compares it;
    - with `person_hash`: that member's own monthly income. The household's per-capita income is then
      computed over all its current members (the sum of their latest incomes divided by their number),
      so every member's income is needed: a member without one is not counted as zero.
    """

    kind: Literal["income"] = "income"
    monthly_income: YuanText = Field(
        description=(
            "Without person_hash: the household's income per member per month (per capita). With "
            "person_hash: that member's own monthly income; the household's per-capita income is "
            "computed over all its members."
        )
    )


class PropertyFact(Contract):
    """A dwelling the household owns (real-estate registry), possibly in another city."""

    kind: Literal["property"] = "property"
    area_m2: SquareMetresText = Field(description="Floor area of this property.")
    city: CityCode = Field(description="City where the property is.")
    property_ref: Reference = Field(description="The registry's reference of the property.")


class FinancialAssetsFact(Contract):
    """Total financial assets (deposits, securities, ...) the finance side reports for the household."""

    kind: Literal["financial_assets"] = "financial_assets"
    amount: YuanText = Field(description="Total of financial assets.")


class RegistrationFact(Contract):
    """Household registration (hukou) against actual residence (public security): a mismatch is a lead
    for subletting, lending or vacancy."""

    kind: Literal["registration"] = "registration"
    hukou_city: CityCode = Field(description="City of household registration.")
    actual_residence_city: CityCode = Field(description="City where the person actually lives.")


class TaxFact(Contract):
    """Annual taxable income the tax bureau assessed."""

    kind: Literal["tax"] = "tax"
    annual_taxable_income: YuanText = Field(description="Taxable income of the year.")


class SocialInsuranceFact(Contract):
    """A current social-insurance contribution: evidence of employment and of its wage level."""

    kind: Literal["social_insurance"] = "social_insurance"
    employer: Employer = Field(description="Contributing employer (an organisation, not a person).")
    contribution_base: YuanText = Field(description="Monthly contribution base.")


class EmploymentFact(Contract):
    """A job started, as the human-resources department records it (training and employment follow-up)."""

    kind: Literal["employment"] = "employment"
    employer: Employer = Field(description="Employer (an organisation, not a person).")
    start_date: Day = Field(description="First day of the employment.")


Fact = Annotated[
    IncomeFact
    | PropertyFact
    | FinancialAssetsFact
    | RegistrationFact
    | TaxFact
    | SocialInsuranceFact
    | EmploymentFact,
    Field(discriminator="kind"),
]
"""One fact; `kind` says which."""


class DepartmentFactReported(Contract):
    """A department reported one fact about a household or a person (`housing.department.fact-reported`).

    The fact is about a household (`household_id`, when the department knows the housing authority's id)
    or about a person (`person_hash`, which the authority matches to its members), or both; never neither.
    """

    department: Department = Field(description="Reporting department.")
    reference: Reference = Field(description="The department's own reference of this record.")
    described_on: Day = Field(description="The date the fact describes (not the date it was sent).")
    household_id: UUID | None = Field(default=None, description="Household the fact is about, if known.")
    person_hash: IdHash | None = Field(default=None, description="Person the fact is about, as an IdHash.")
    fact: Fact

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if self.household_id is None and self.person_hash is None:
            raise ValueError("a fact must name a household_id, a person_hash, or both")
        return self


FACTS_PER_BATCH = 1_000
"""At most this many facts in one `facts-reported` message (1,000 facts are ~0.4 MB, under NATS's 1 MB)."""


class DepartmentFactsReported(Contract):
    """Many facts in one message (`housing.department.facts-reported`): how a department sends an export.

    Each fact is exactly a `fact-reported` payload and is handled as one, so a consumer of
    `fact-reported` takes batches too. A fact that is invalid is set aside on its own (a dead letter
    naming its index and field) and the others are handled: one wrong line never holds back a
    thousand. One message is also one broker write: with JetStream syncing every write to disk, a
    fact per message costs the broker more than the housing authority's own work on it.
    """

    facts: list[DepartmentFactReported] = Field(
        min_length=1, max_length=FACTS_PER_BATCH, description="The facts, each as in `fact-reported`."
    )
