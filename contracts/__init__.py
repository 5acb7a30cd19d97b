"""The public language of the housing-exit platform: integration-event payloads (pydantic v2), the
CloudEvents envelope they travel in, and the catalogue of streams and events. Data only, no logic:
every service depends on this package and this package depends on none of them."""

from contracts.catalogue import EVENTS, EVENTS_BY_TYPE, STREAMS, EventSpec, StreamSpec
from contracts.deadletter import DeadLetter
from contracts.department import Department, DepartmentFactReported, DepartmentFactsReported
from contracts.eligibility import (
    CrossRegionCheckRequested,
    ExitDecided,
    HouseholdMembersChanged,
    HouseholdRegistered,
    Member,
    ReviewConfirmed,
    ReviewDecided,
    ReviewReason,
)
from contracts.envelope import (
    DEADLETTER_REASON_HEADER,
    MSG_ID_HEADER,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    Envelope,
    dataschema_for,
)
from contracts.identifiers import CityCode, IdHash
from contracts.money import SquareMetres, Yuan

__all__ = [
    "DEADLETTER_REASON_HEADER",
    "EVENTS",
    "EVENTS_BY_TYPE",
    "MSG_ID_HEADER",
    "STREAMS",
    "TRACEPARENT_HEADER",
    "TRACESTATE_HEADER",
    "CityCode",
    "CrossRegionCheckRequested",
    "DeadLetter",
    "Department",
    "DepartmentFactReported",
    "DepartmentFactsReported",
    "Envelope",
    "EventSpec",
    "ExitDecided",
    "HouseholdMembersChanged",
    "HouseholdRegistered",
    "IdHash",
    "Member",
    "ReviewConfirmed",
    "ReviewDecided",
    "ReviewReason",
    "SquareMetres",
    "StreamSpec",
    "Yuan",
    "dataschema_for",
]
