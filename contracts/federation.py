"""Federation's public language: the v1 wire bodies exchanged with peer cities, and the integration
events federation publishes on the bus.

Wire bodies (`StatusQuery`, `StatusAnswer`, `BatchQuery`, `BatchAnswer`) are what partner cities
implement from `federation/PROTOCOL.md`; they are closed (unknown fields are a 400) so that v1 stays
exactly what the document says. The subject of a query is an `IdHash` under the key the two cities
share; no raw ID number, name, income or amount appears anywhere here.

Where subjects come from: eligibility, the only service that sees ID numbers, hashes its members
with the linkage keys of each pair (`services.kit.linkage`) and sends them on the bus: in each
`CrossRegionCheckRequested` v2 (what to ask, under the key current at that moment) and in
`CrossRegionRegisterUpdated` (what to answer from, under every key a peer may use). Federation never
sees an ID number and never computes a subject of ours.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from contracts.base import Contract
from contracts.identifiers import CityCode, IdHash, OperatorId
from contracts.times import Instant

__all__ = [
    "BATCH_MAX",
    "CATEGORIES",
    "CITY_NAMES",
    "BatchAnswer",
    "BatchQuery",
    "BatchSubject",
    "CrossRegionResultRecorded",
    "LinkageKeyId",
    "PeerSubject",
    "Result",
    "StatusAnswer",
    "StatusQuery",
]

CATEGORIES = ("holds_subsidised_housing", "receives_housing_subsidy", "owns_property_over_threshold")
"""What an answer says of a subject, in the order the protocol lists them."""

CITY_NAMES = {
    "CN-FS": "Foshan",
    "CN-GZ": "Guangzhou",
    "CN-DG": "Dongguan",
    "CN-ZS": "Zhongshan",
    "CN-ZQ": "Zhaoqing",
}
"""The cities of the cooperation by code, as explanations name them (a code not here is shown as is)."""

BATCH_MAX = 100
"""Most subjects in one batch request (a server may state a lower limit in its 413 answer)."""

Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
LegalBasis = Annotated[str, StringConstraints(min_length=1, max_length=500)]
CaseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")]
ContactReference = Annotated[str, StringConstraints(min_length=1, max_length=128)]

Result = Literal["match", "no_match", "unverified"]
"""Per peer: a category is true (`match`), all are false (`no_match`), or we could not tell
(`unverified`: peer down, bad or unbound answer, unknown categories, no subject hash)."""


class _Case(Contract):
    requesting_city: CityCode = Field(description="Must equal the signature's keyid.")
    purpose: Purpose = Field(description="Must be allowed for the requesting city by the answering city.")
    legal_basis: LegalBasis
    case_id: CaseId = Field(description="The requesting city's case reference.")
    officer_id: OperatorId = Field(description="Account of the officer responsible for the query.")
    requested_at: Instant


class StatusQuery(_Case):
    """POST /federation/v1/household-status."""

    query_id: UUID
    id_hash: IdHash = Field(description="HMAC-SHA256 of the normalised ID number under the pair's key.")


class BatchSubject(Contract):
    query_id: UUID
    id_hash: IdHash


class BatchQuery(_Case):
    """POST /federation/v1/household-status:batch: one case, up to `BATCH_MAX` subjects."""

    batch_id: UUID
    subjects: list[BatchSubject] = Field(min_length=1, max_length=BATCH_MAX)


class StatusAnswer(Contract):
    """Categories only; `null` means the answering city does not know."""

    query_id: UUID
    responding_city: CityCode
    as_of: Instant
    holds_subsidised_housing: bool | None
    receives_housing_subsidy: bool | None
    owns_property_over_threshold: bool | None
    contact_reference: ContactReference


class BatchAnswer(Contract):
    batch_id: UUID
    responding_city: CityCode
    as_of: Instant
    answers: list[StatusAnswer]


LinkageKeyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class PeerSubject(Contract):
    """One member named to one peer city: the hash under the pair's linkage key `key_id`."""

    member_id: UUID
    city: CityCode
    key_id: LinkageKeyId = Field(description="Which of the pair's linkage keys made the hash (rotation).")
    id_hash: IdHash


class CrossRegionResultRecorded(Contract):
    """`housing.federation.cross-region-result-recorded`: one peer city's verdict on one check."""

    check_id: UUID
    household_id: UUID = Field(description="Also the envelope's `subject`.")
    city: CityCode
    result: Result
    holds_subsidised_housing: bool | None
    receives_housing_subsidy: bool | None
    owns_property_over_threshold: bool | None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        description="Why `unverified` (peer down, bad signature, ...); null otherwise."
    )
    query_ids: list[UUID] = Field(description="The wire queries behind this result (audit trail).")
    concluded_at: Instant
