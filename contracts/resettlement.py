"""Integration events of the resettlement context: payloads and their catalogue entries.

The catalogue (`contracts.catalogue`) gathers `EVENTS` from here; nothing else in this module is
code, only data.

Resettlement follows every household whose exit is decided: it classifies it (special hardship,
able to buy, or others), records the guidance and loan-rate help it is given, and places it in a unit
of a pool (transitional rental or affordable-for-sale) through offers the household accepts or
declines. Every event is about one household (`household_id`, also the envelope's `subject`) and one
placement case, and carries the household's estate so that followers can filter by estate. No names,
no ID numbers: households are opaque UUIDs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from contracts.base import Contract
from contracts.identifiers import Label, OperatorId, Text
from contracts.spec import EventSpec
from contracts.times import Day

__all__ = [
    "EVENTS",
    "CaseClosed",
    "CaseWithdrawn",
    "GuidanceGiven",
    "HouseholdClassified",
    "LoanDiscountGranted",
    "MovedIn",
    "OfferAccepted",
    "OfferDeclined",
    "OfferExpired",
    "PercentagePoints",
    "PlacementClass",
    "Pool",
    "UnitOffered",
    "Waitlisted",
]

PlacementClass = Literal["special_hardship", "purchase", "market_rental"]
"""Special hardship (low income, a member aged 60+ or disabled): transitional housing first; able to
buy: purchase guidance, priority on affordable-for-sale units, loan-rate discount; others: guidance
towards the market rental."""

Pool = Literal["transitional", "affordable"]
"""Transitional rental units, or affordable-for-sale units."""

_POINTS = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2})?")


def _points_input(value: object) -> object:
    if isinstance(value, bool | float):
        raise ValueError('must be a decimal string such as "0.50", not a float or a bool')
    if isinstance(value, str) and _POINTS.fullmatch(value) is None:
        raise ValueError("must be a decimal string with at most 2 integer digits and 2 decimals")
    if not isinstance(value, str | int | Decimal):
        raise ValueError("must be a decimal string, an integer or a Decimal")
    return Decimal(value).quantize(Decimal("0.01"))


PercentagePoints = Annotated[
    Decimal,
    BeforeValidator(_points_input),
    Field(ge=0, le=100),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,2}\.[0-9]{2}$",
            "description": "Percentage points as a decimal string with 2 decimals (0.50 = half a point).",
            "examples": ["0.50"],
        }
    ),
]
"""A rate difference in percentage points, exact (a JSON string with 2 decimals)."""


class _AboutACase(Contract):
    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    case_id: UUID = Field(description="The household's placement case.")
    estate: Label = Field(description="Estate of the subsidised flat the household leaves.")


class HouseholdClassified(_AboutACase):
    """A household whose exit is decided was classified for placement; the reasons say why."""

    placement_class: PlacementClass
    reasons: list[Text] = Field(min_length=1, description="Every criterion applied, met or not.")
    decided_on: Day = Field(description="Date of the exit decision classified.")
    classified_on: Day = Field(description="Date of the classification.")


class GuidanceGiven(_AboutACase):
    """Purchase guidance (able to buy) or market-rental guidance (others) was given and recorded."""

    kind: Literal["purchase", "market_rental"]
    given_on: Day


class LoanDiscountGranted(_AboutACase):
    """A housing provident fund loan-rate discount was granted to a household able to buy."""

    percentage_points: PercentagePoints = Field(description="Cut of the loan rate, in percentage points.")
    granted_on: Day


class Waitlisted(_AboutACase):
    """No unit of the pool was free: the case waits, in the stated priority order."""

    pool: Pool
    waitlisted_on: Day
    priority: Text = Field(description="The case's place in the priority rule, in words.")


class _AboutAnOffer(_AboutACase):
    pool: Pool
    unit_id: UUID = Field(description="The pool unit.")


class UnitOffered(_AboutAnOffer):
    """A unit was offered to the household, to accept by a deadline."""

    unit_estate: Label = Field(description="Estate of the offered unit.")
    building: Label
    unit: Label
    offered_on: Day
    respond_by: Day = Field(description="Last day to accept; the offer expires after it.")


class OfferAccepted(_AboutAnOffer):
    """The household accepted the offer: the unit is held for it."""

    accepted_on: Day
    recorded_by: OperatorId


class OfferDeclined(_AboutAnOffer):
    """The household declined the offer: the unit is free again."""

    declined_on: Day
    reason: Text = ""
    recorded_by: OperatorId


class OfferExpired(_AboutAnOffer):
    """The offer's deadline passed without an answer: the unit is free again."""

    expired_on: Day


class MovedIn(_AboutAnOffer):
    """The household moved into the transitional unit, or completed the purchase of the unit."""

    moved_in_on: Day
    recorded_by: OperatorId


class CaseClosed(_AboutACase):
    """The placement case ended: `placed`, `guided` (market rental) or `offers_exhausted`."""

    outcome: Label
    closed_on: Day


class CaseWithdrawn(_AboutACase):
    """The case was withdrawn (e.g. an appeal overturned the exit); any offered or held unit is free."""

    reason: Text
    withdrawn_on: Day
    released_unit_id: UUID | None = Field(default=None, description="The unit freed, if any.")


def _event(name: str, payload: type[Contract], summary: str, consumers: tuple[str, ...] = ()) -> EventSpec:
    return EventSpec("resettlement", name, 1, payload, summary, "resettlement", consumers)


EVENTS: Final[tuple[EventSpec, ...]] = (
    _event(
        "household-classified",
        HouseholdClassified,
        "A household whose exit is decided was classified for placement, with the reasons.",
        ("training",),
    ),
    _event("guidance-given", GuidanceGiven, "Purchase or market-rental guidance was given to a household."),
    _event(
        "loan-discount-granted",
        LoanDiscountGranted,
        "A housing provident fund loan-rate discount was granted (percentage points).",
    ),
    _event("waitlisted", Waitlisted, "No unit of the pool was free: the case waits in priority order."),
    _event("unit-offered", UnitOffered, "A pool unit was offered to a household, with a deadline."),
    _event("offer-accepted", OfferAccepted, "The household accepted the offered unit."),
    _event("offer-declined", OfferDeclined, "The household declined the offered unit."),
    _event("offer-expired", OfferExpired, "An offer's deadline passed without an answer."),
    _event("moved-in", MovedIn, "The household moved into its unit (or completed its purchase)."),
    _event("case-closed", CaseClosed, "A placement case ended (placed, guided or offers exhausted)."),
    _event(
        "case-withdrawn", CaseWithdrawn, "A placement case was withdrawn; any offered or held unit is free."
    ),
)
"""Every event the resettlement service publishes, every version."""
