"""Federation's aggregates and pure rules.

- `InboundExchange`: one accepted request from a peer and our signed answer, stored together. Its id is
  derived from (city, nonce), so the event store's uniqueness constraint *is* the nonce register: a
  replay fails to insert version 1, on every replica and after any restart, at no extra cost.
- `InboundRejection`: a request refused by earlier versions (kept so their stored events still read);
  refusals are no longer stored, see `federation.refusals`.
- `CrossRegionCheck`: an outbound check asked by eligibility; one `PeerConcluded` per city, each with
  the raw signed requests and answers and the verification outcome (non-repudiation).
- `BatchExchange`: one outbound batch of ours (the sweep's checks of several households, coalesced by
  the outbound worker): its raw signed requests and answers and the verification outcome, stored
  once; the `PeerConcluded` of each check in it names the batch instead of repeating them.
- `RegisterEntry`: what our registers say about a household's members to peers (their per-peer hashes
  and the three categories), as eligibility sends it (`cross-region-register-updated`): the answering
  read model (`federation.index`) is built from these.
- `Tenancy`, `HouseholdSubjects`: what earlier versions kept for the same purpose (a registration, and
  hashes an intake `PUT`); kept so that stored events still read, no longer written or read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from contracts.federation import CATEGORIES, Result
from services.kit.clock import Aggregate

NAMESPACE = uuid5(NAMESPACE_URL, "urn:housing:federation")


class InboundExchange(Aggregate):
    @staticmethod
    def create_id(city: str, nonce: str) -> UUID:
        return uuid5(NAMESPACE, f"nonce/{city}/{nonce}")

    class Answered(Aggregate.Created):
        city: str
        key_id: str
        nonce: str
        query_ids: list[str]
        purpose: str
        request: dict[str, Any]
        status: int
        response: dict[str, Any]
        matches: int
        received_at: datetime

    @event(Answered)
    def __init__(
        self,
        city: str,
        key_id: str,
        nonce: str,
        query_ids: list[str],
        purpose: str,
        request: dict[str, Any],
        status: int,
        response: dict[str, Any],
        matches: int,
        received_at: datetime,
    ) -> None:
        self.city, self.key_id, self.nonce, self.query_ids = city, key_id, nonce, query_ids
        self.purpose, self.request, self.status, self.response = purpose, request, status, response
        self.matches, self.received_at = matches, received_at


class InboundRejection(Aggregate):
    class Rejected(Aggregate.Created):
        claimed_city: str | None
        status: int
        reason: str
        request: dict[str, Any]
        received_at: datetime

    @event(Rejected)
    def __init__(
        self,
        claimed_city: str | None,
        status: int,
        reason: str,
        request: dict[str, Any],
        received_at: datetime,
    ) -> None:
        self.claimed_city, self.status, self.reason = claimed_city, status, reason
        self.request, self.received_at = request, received_at


class Tenancy(Aggregate):
    """A household holds a subsidised unit here (from eligibility's `HouseholdRegistered`): with the
    members' per-peer hashes, what the answering side's read model says "holds subsidised housing"."""

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"tenancy/{household_id}")

    class Registered(Aggregate.Created):
        household_id: UUID
        region: str

    @event(Registered)
    def __init__(self, household_id: UUID, region: str) -> None:
        self.household_id, self.region = household_id, region


class RegisterEntry(Aggregate):
    """A household in our registers, as peers are answered about its members."""

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"register/{household_id}")

    class Opened(Aggregate.Created):
        household_id: UUID

    class Updated(Aggregate.Event):
        subjects: list[dict[str, str]]
        categories: dict[str, bool]
        as_of: date

    @event(Opened)
    def __init__(self, household_id: UUID) -> None:
        self.household_id = household_id
        self.subjects: list[dict[str, str]] = []
        self.categories: dict[str, bool] = {}

    def update(self, subjects: list[dict[str, str]], categories: dict[str, bool], as_of: date) -> None:
        """Replace the entry; the same entry sent again (a redelivery) records nothing."""
        if subjects != self.subjects or categories != self.categories:
            self._updated(subjects, categories, as_of)

    @event(Updated)
    def _updated(self, subjects: list[dict[str, str]], categories: dict[str, bool], as_of: date) -> None:
        self.subjects, self.categories = list(subjects), dict(categories)


class HouseholdSubjects(Aggregate):
    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"subjects/{household_id}")

    class Recorded(Aggregate.Event):
        subjects: list[dict[str, str]]

    @event("Registered")
    def __init__(self, household_id: UUID) -> None:
        self.household_id = household_id
        self.subjects: list[dict[str, str]] = []

    @event(Recorded)
    def record(self, subjects: list[dict[str, str]]) -> None:
        """The complete list (member_id, city, id_hash) replaces the previous one."""
        self.subjects = list(subjects)


class CrossRegionCheck(Aggregate):
    @staticmethod
    def create_id(check_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"check/{check_id}")

    class Opened(Aggregate.Created):
        check_id: UUID
        household_id: UUID
        cities: list[str]
        purpose: str
        legal_basis: str
        subjects: list[dict[str, str]]

    class PeerConcluded(Aggregate.Event):
        check_id: UUID
        household_id: UUID
        city: str
        result: str
        categories: dict[str, bool | None]
        reason: str | None
        query_ids: list[str]
        exchanges: list[dict[str, Any]]
        concluded_at: datetime

    @event(Opened)
    def __init__(
        self,
        check_id: UUID,
        household_id: UUID,
        cities: list[str],
        purpose: str,
        legal_basis: str,
        subjects: list[dict[str, str]],
    ) -> None:
        self.check_id, self.household_id, self.cities = check_id, household_id, cities
        self.purpose, self.legal_basis, self.subjects = purpose, legal_basis, subjects
        self.results: dict[str, str] = {}

    @event(PeerConcluded)
    def conclude(
        self,
        check_id: UUID,
        household_id: UUID,
        city: str,
        result: str,
        categories: dict[str, bool | None],
        reason: str | None,
        query_ids: list[str],
        exchanges: list[dict[str, Any]],
        concluded_at: datetime,
    ) -> None:
        self.results[city] = result

    @property
    def pending_cities(self) -> list[str]:
        return [city for city in self.cities if city not in self.results]

    def subjects_for(self, city: str) -> list[dict[str, str]]:
        return [s for s in self.subjects if s["city"] == city]


class BatchExchange(Aggregate):
    """One signed batch request of ours to a peer about the members of several households (sweep
    checks of one purpose and legal basis, under the batch's own case id), with every attempt's raw
    request and answer and the verification outcome: the non-repudiation record of all their
    verdicts, stored once, in the same transaction as those verdicts. Each check's `PeerConcluded`
    names it (`exchanges: [{"batch": <batch_id>, "query_ids": [...]}]`); `checks` says which of its
    queries are whose."""

    @staticmethod
    def create_id(batch_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"outbound-batch/{batch_id}")

    class Asked(Aggregate.Created):
        batch_id: UUID
        city: str
        purpose: str
        legal_basis: str
        case_id: str
        checks: list[dict[str, Any]]
        exchanges: list[dict[str, Any]]

    @event(Asked)
    def __init__(
        self,
        batch_id: UUID,
        city: str,
        purpose: str,
        legal_basis: str,
        case_id: str,
        checks: list[dict[str, Any]],
        exchanges: list[dict[str, Any]],
    ) -> None:
        self.batch_id, self.city, self.purpose, self.legal_basis = batch_id, city, purpose, legal_basis
        self.case_id, self.checks, self.exchanges = case_id, checks, exchanges

    def reference(self, query_ids: list[str]) -> dict[str, Any]:
        """What a check's `PeerConcluded` keeps of this batch: its id and the check's own queries."""
        return {"batch": str(self.batch_id), "query_ids": list(query_ids)}


def combine(answers: Sequence[dict[str, bool | None]]) -> tuple[Result, dict[str, bool | None]]:
    """A household's verdict from its members' answers: any true category is a match; all false is
    `no_match`; anything unknown (null) without a true is `unverified` — silence is never "clear"."""
    merged: dict[str, bool | None] = {}
    for name in CATEGORIES:
        values = [a.get(name) for a in answers]
        merged[name] = True if True in values else (None if None in values or not values else False)
    if not answers:
        return "unverified", merged
    if any(v is True for v in merged.values()):
        return "match", merged
    if all(v is False for v in merged.values()):
        return "no_match", merged
    return "unverified", merged
