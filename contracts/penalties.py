"""Integration events of the penalties context: payloads and their catalogue entries.

The catalogue (`contracts.catalogue`) gathers `EVENTS` from here; nothing else in this module is
code, only data.
"""

from __future__ import annotations

from datetime import date
from typing import Final
from uuid import UUID

from pydantic import Field

from contracts.base import Contract
from contracts.identifiers import Label, OperatorId
from contracts.spec import EventSpec

__all__ = ["EVENTS", "ExitCompleted"]


class ExitCompleted(Contract):
    """The household has left its subsidised flat: keys returned, or the repossession executed.

    The end of the household's tenancy for every follower: monitoring stops watching the flat for it,
    penalties closes its rent ledger, the flat may be let again.
    """

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="Housing estate of the flat it left.")
    building: Label = Field(description="Building in the estate.")
    unit: Label = Field(description="Flat in the building.")
    completed_on: date = Field(description="Day the flat was handed back.")
    how: Label = Field(description="`keys_returned` or `repossessed`.")
    recorded_by: OperatorId = Field(description="Operator who recorded the hand-back.")


EVENTS: Final[tuple[EventSpec, ...]] = (
    EventSpec(
        context="penalties",
        name="exit-completed",
        version=1,
        payload=ExitCompleted,
        summary="A household handed its flat back (keys returned or repossession executed).",
        producer="penalties",
        consumers=("monitoring", "resettlement"),
    ),
)
"""Every event the penalties service publishes, every version."""
