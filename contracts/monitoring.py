"""What occupancy monitoring hears (raw signals) and what it tells the platform (warnings, violations).

Two kinds of message live here, on two streams:
- *signals* (`housing.signals.*`, stream `SIGNALS`): door-access events from the estates' readers and
  monthly utility readings. They are high volume, device-made and published as bare JSON (one object or
  a JSON array of objects per message), not CloudEvents: they are observations, not business facts, and
  only monitoring consumes them. A credential is a card number or a face-template id issued by the
  estate's access system: an opaque token, never a person's ID number;
- *warnings* (`housing.monitoring.*`, stream `MONITORING`): a warning's lifecycle (raised with its
  evidence → assigned to an inspector → confirmed or dismissed with a reason → rectified) and, when an
  inspector confirms one, the violation penalties acts on. Eligibility takes all of them as facts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field, PlainSerializer, StringConstraints, WithJsonSchema

from contracts.base import Contract
from contracts.identifiers import Label, OperatorId, Text
from contracts.spec import EventSpec
from contracts.times import Day, Instant

__all__ = [
    "EVENTS",
    "Condition",
    "CredentialKind",
    "DoorAccess",
    "EvidenceItem",
    "Measure",
    "OccupancyWarningAssigned",
    "OccupancyWarningConfirmed",
    "OccupancyWarningDismissed",
    "OccupancyWarningRaised",
    "OccupancyWarningRectified",
    "OccupancyWarningWithdrawn",
    "UtilityReading",
    "ViolationConfirmed",
    "ViolationKind",
    "WithdrawalReason",
]

CredentialToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]

CredentialKind = Literal["card", "face"]
"""How a person opened the door: an access card or the face-recognition reader."""

Condition = Literal["vacancy", "sublet_or_lend"]
"""What a warning suspects: the flat stands empty, or someone other than the household lives there."""

ViolationKind = Literal["vacant", "sublet", "lend"]
"""What the inspector found on site (the brief's three violating occupancies)."""

WithdrawalReason = Literal["household_exited"]
"""Why monitoring closed a warning without an inspector's finding: the household left the flat."""

_MEASURE_TEXT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,3})?")


def _exact_measure(value: object) -> object:
    """Meter readings are exact decimals, like money: on the wire a decimal string (as documented), in
    Python a Decimal. A float has already lost digits; a JSON number is not what the schema promises
    (pydantic would take `12` as well as `"12"`, so the document and the code disagreed)."""
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "12.5" (not a number, a float or a bool)')
    if _MEASURE_TEXT.fullmatch(value) is None:
        raise ValueError("must be a non-negative decimal string with at most 3 decimals")
    return value


Measure = Annotated[
    Decimal,
    BeforeValidator(_exact_measure),
    Field(ge=0, max_digits=13, decimal_places=3),
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,3})?$", "examples": ["12.5"]},
    ),
]
"""A non-negative meter quantity (m³ of water, kWh of electricity) as a decimal string."""


class DoorAccess(Contract):
    """One door opening at a unit's door reader: who (credential), when, which way."""

    estate: Label = Field(description="Housing estate, as in the household's registration.")
    building: Label = Field(description="Building in the estate.")
    unit: Label = Field(description="Flat in the building.")
    credential_kind: CredentialKind
    credential_id: CredentialToken = Field(description="Card number or face-template id (opaque token).")
    at: Instant = Field(description="When the door opened, with a UTC offset.")
    direction: Literal["in", "out"]


class UtilityReading(Contract):
    """A unit's consumption over one calendar month, from the water and power companies."""

    estate: Label
    building: Label
    unit: Label
    month: Month = Field(description="The month consumed, `YYYY-MM`.")
    water_m3: Measure | None = Field(default=None, description="Water used, m³; null when not read.")
    electricity_kwh: Measure | None = Field(
        default=None, description="Electricity used, kWh; null when not read."
    )


class EvidenceItem(Contract):
    """One observation behind a warning, as an inspector reads it."""

    label: Label = Field(description="What was measured, e.g. `days_without_member_access`.")
    value: Annotated[str, StringConstraints(max_length=500)] = Field(description="The value as text.")


class OccupancyWarningRaised(Contract):
    """A detector found a unit's occupancy suspicious: the warning, its score, explanation and evidence."""

    household_id: UUID = Field(description="The household holding the unit; also the envelope's `subject`.")
    warning_id: UUID = Field(description="The warning.")
    estate: Label
    building: Label
    unit: Label
    condition: Condition
    raised_on: Day
    risk_score: int = Field(
        ge=0, le=100, strict=True, description="The unit's risk score when raised (0 = none)."
    )
    explanation: Text = Field(description="Why, in words, with the detector's parameters.")
    evidence: list[EvidenceItem] = Field(description="The observations the explanation rests on.")


class OccupancyWarningAssigned(Contract):
    """An inspector was put in charge of checking a warning on site."""

    household_id: UUID
    warning_id: UUID
    inspector_id: OperatorId
    assigned_on: Day


class OccupancyWarningConfirmed(Contract):
    """The inspector confirmed the suspicion on site."""

    household_id: UUID
    warning_id: UUID
    inspector_id: OperatorId
    finding: ViolationKind
    confirmed_on: Day
    note: Text


class OccupancyWarningDismissed(Contract):
    """The inspector found nothing wrong (hospital stay, data gap, ...): the reason is kept."""

    household_id: UUID
    warning_id: UUID
    inspector_id: OperatorId
    dismissed_on: Day
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class OccupancyWarningRectified(Contract):
    """A confirmed violation was put right (the household moved back, the sub-tenant left, ...)."""

    household_id: UUID
    warning_id: UUID
    rectified_by: OperatorId
    rectified_on: Day
    note: Text


class ViolationConfirmed(Contract):
    """A violating occupancy confirmed on site: what penalties sanctions (rent surcharge, credit list,
    repossession)."""

    household_id: UUID
    warning_id: UUID
    violation: ViolationKind
    estate: Label
    building: Label
    unit: Label
    inspector_id: OperatorId
    confirmed_on: Day


class OccupancyWarningWithdrawn(Contract):
    """Monitoring closed an open warning because the household it concerns left the flat (penalties'
    `exit-completed`): nobody is left to inspect. A violation confirmed before stays confirmed."""

    household_id: UUID
    warning_id: UUID
    withdrawn_on: Day = Field(description="Day the household handed the flat back.")
    reason: WithdrawalReason
    previous_status: Literal["raised", "assigned", "confirmed"] = Field(
        description="Where the warning's lifecycle stood when it was withdrawn."
    )


EVENTS: Final[tuple[EventSpec, ...]] = (
    EventSpec(
        context="monitoring",
        name="warning-withdrawn",
        version=1,
        payload=OccupancyWarningWithdrawn,
        summary="An open occupancy warning was closed because the household left the flat.",
        producer="monitoring",
        consumers=("eligibility",),
    ),
)
"""Monitoring's events declared in this module (those since the first slice; the earlier ones are
still listed in `contracts.catalogue` itself)."""
