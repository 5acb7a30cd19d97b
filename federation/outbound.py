"""Asking peers: signed queries out, verified and bound answers back, a verdict per peer.

A peer that is down, slow, refusing or answering with anything we cannot verify yields `unverified`
with the reason, never a silent "clear" (DESIGN.md: a peer never blocks a review). Each attempt is a
freshly signed request (new nonce); attempts are bounded and spaced with jittered exponential backoff;
a per-peer circuit breaker stops calling a peer that keeps failing until `breaker_reset_s` passed.

A request asks about one household (`ask`: a review case's check) or several of one case
(`ask_households`: the sweep's checks, coalesced by the outbound worker into batches); both go through
the same attempts, breaker and answer verification, and each household gets its own verdict.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from contracts.federation import (
    CATEGORIES,
    BatchAnswer,
    BatchQuery,
    BatchSubject,
    Result,
    StatusAnswer,
    StatusQuery,
)
from federation import metrics
from federation.domain import combine
from federation.peers import Directory, Peer
from federation.settings import FederationSettings
from federation.signing import Headers, SignatureRejected, sign_request, signature_of, verify_response
from services.kit.clock import Clock
from services.kit.clock import now as process_now

log = logging.getLogger(__name__)
SINGLE_PATH = "/federation/v1/household-status"
BATCH_PATH = "/federation/v1/household-status:batch"


@dataclass(frozen=True)
class Case:
    """What every query of one check declares."""

    purpose: str
    legal_basis: str
    case_id: str
    officer_id: str


@dataclass
class Outcome:
    result: Result
    categories: dict[str, bool | None]
    reason: str | None
    query_ids: list[str]
    exchanges: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class HouseholdsOutcome:
    """Several households asked in one request: a verdict per household (in the order asked, each
    with its own query ids and no exchanges) and the request's raw exchanges, which are all of
    theirs."""

    outcomes: list[Outcome]
    exchanges: list[dict[str, Any]] = field(default_factory=list)


def unverified(
    reason: str, query_ids: Sequence[str] = (), exchanges: list[dict[str, Any]] | None = None
) -> Outcome:
    return Outcome("unverified", dict.fromkeys(CATEGORIES), reason, list(query_ids), exchanges or [])


class CircuitBreaker:
    """Closed → open after `threshold` consecutive failures → half-open (one trial) after `reset_s`."""

    def __init__(self, threshold: int, reset_s: float) -> None:
        self.threshold, self.reset_s = threshold, reset_s
        self.failures = 0
        self.opened_at: float | None = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.reset_s:
            self.opened_at = time.monotonic()  # one trial per reset period
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class _Retry(Exception):
    """A failure worth another attempt (transport error, timeout, 5xx, 429)."""


class PeerClient:
    def __init__(
        self,
        settings: FederationSettings,
        directory: Directory,
        private_key: Ed25519PrivateKey,
        client: httpx.AsyncClient | None = None,
        *,
        clock: Clock = process_now,
    ) -> None:
        """`clock` is what "now" is when signing our queries and checking the answers' signatures
        (the application's clock in `federation.service.build`; by default the process's)."""
        self.settings, self.directory, self.private_key = settings, directory, private_key
        self.clock = clock
        self.client = client or httpx.AsyncClient(timeout=settings.federation_peer_timeout_s)
        self.breakers: dict[str, CircuitBreaker] = {}

    def keys_of(self, city: str, moment: datetime) -> list[tuple[str, Ed25519PublicKey]] | None:
        peer = self.directory.get(city)
        return None if peer is None else [(k.key_id, k.public_key) for k in peer.keys_valid_at(moment)]

    def breaker(self, city: str) -> CircuitBreaker:
        return self.breakers.setdefault(
            city,
            CircuitBreaker(
                self.settings.federation_breaker_failures, self.settings.federation_breaker_reset_s
            ),
        )

    async def ask(self, city: str, case: Case, subjects: Sequence[str]) -> Outcome:
        """Ask `city` about the subject hashes of one household; one verdict for all of them."""
        asked = await self.ask_households(city, case, [subjects])
        outcome = asked.outcomes[0]
        outcome.exchanges = asked.exchanges
        return outcome

    async def ask_households(
        self, city: str, case: Case, households: Sequence[Sequence[str]]
    ) -> HouseholdsOutcome:
        """Ask `city` about the members (subject hashes) of several households in one signed request
        of one case (the single endpoint for one subject, the batch endpoint for more: at most
        `BATCH_MAX` in all, which the caller keeps to); a verdict per household from its own members'
        answers (`combine`). A failure of the request (peer down, bad signature, ...) is every
        household's, with the reason. A household without a subject is `unverified` and not asked."""
        peer = self.directory.get(city)
        if peer is None:
            return HouseholdsOutcome([unverified(f"{city} is not in the peer directory") for _ in households])
        query_ids = [[str(uuid4()) for _ in subjects] for subjects in households]
        subjects = [subject for members in households for subject in members]
        exchanges: list[dict[str, Any]] = []
        answers: dict[str, dict[str, bool | None]] | str = {}
        if subjects:
            answers = await self._request(
                peer, case, subjects, [q for ids in query_ids for q in ids], exchanges
            )
        outcomes = []
        for ids in query_ids:
            if not ids:
                outcomes.append(unverified(f"no subject hash for {city}"))
            elif isinstance(answers, str):
                outcomes.append(unverified(answers, ids))
            else:
                result, categories = combine([answers[q] for q in ids])
                reason = None if result != "unverified" else "a category is unknown to the peer"
                outcomes.append(Outcome(result, categories, reason, ids))
        return HouseholdsOutcome(outcomes, exchanges)

    async def _request(
        self,
        peer: Peer,
        case: Case,
        subjects: Sequence[str],
        query_ids: list[str],
        exchanges: list[dict[str, Any]],
    ) -> dict[str, dict[str, bool | None]] | str:
        """One request's attempts (retries with backoff, the peer's circuit breaker): the categories
        of every query by query id, or why there are none. Every attempt's raw exchange is appended
        to `exchanges`."""
        breaker = self.breaker(peer.code)
        reason = "no attempt made"
        for attempt in range(self.settings.federation_peer_attempts):
            if not breaker.allow():
                return f"circuit open for {peer.code}: {reason}"
            try:
                answers = await self._attempt(peer, case, subjects, query_ids, exchanges)
            except _Retry as exc:
                breaker.failure()
                reason = str(exc)
                if attempt + 1 < self.settings.federation_peer_attempts:
                    delay = self.settings.federation_retry_base_s * 2**attempt
                    await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 (jitter, not a secret)
                continue
            except SignatureRejected as exc:
                breaker.success()  # the peer answers; the answer is what is wrong
                return f"answer rejected: {exc.reason}"
            except ValueError as exc:
                breaker.success()
                return f"bad answer: {exc}"
            breaker.success()
            return answers
        return f"{peer.code} unreachable after {self.settings.federation_peer_attempts} attempts: {reason}"

    async def _attempt(
        self,
        peer: Peer,
        case: Case,
        subjects: Sequence[str],
        query_ids: list[str],
        exchanges: list[dict[str, Any]],
    ) -> dict[str, dict[str, bool | None]]:
        now = self.clock().replace(microsecond=0)
        common = {
            "requesting_city": self.settings.federation_city,
            "purpose": case.purpose,
            "legal_basis": case.legal_basis,
            "case_id": case.case_id,
            "officer_id": case.officer_id,
            "requested_at": now,
        }
        body: StatusQuery | BatchQuery
        if len(subjects) == 1:
            path = SINGLE_PATH
            body = StatusQuery.model_validate({**common, "query_id": query_ids[0], "id_hash": subjects[0]})
        else:
            path = BATCH_PATH
            body = BatchQuery.model_validate(
                {
                    **common,
                    "batch_id": uuid4(),
                    "subjects": [
                        BatchSubject(query_id=UUID(q), id_hash=s)
                        for q, s in zip(query_ids, subjects, strict=True)
                    ],
                }
            )
        raw = body.model_dump_json().encode()
        url = peer.base_url + path
        headers = sign_request(self.private_key, self.settings.federation_city, "POST", url, raw, now=now)
        record: dict[str, Any] = {"url": url, "request": {"headers": headers.as_dict(), "body": raw.decode()}}
        exchanges.append(record)
        metrics.OUTBOUND.labels(peer.code).inc(len(subjects))
        metrics.OUTBOUND_REQUESTS.labels(peer.code, "single" if len(subjects) == 1 else "batch").inc()
        started = time.perf_counter()
        try:
            response = await self.client.post(url, content=raw, headers=headers.items())
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            raise _Retry(record["error"]) from None
        finally:
            metrics.PEER_SECONDS.labels(peer.code).observe(time.perf_counter() - started)
        record["response"] = {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": response.text[:65536],
        }
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}: {response.text[:300]}")
        verified = verify_response(
            response.status_code,
            Headers(response.headers.multi_items()),
            response.content,
            peer.code,
            self.keys_of,
            signature_of(headers),
            skew_s=self.settings.federation_clock_skew_s,
            clock=self.clock,
        )
        record["verified"] = {"city": verified.city, "key_id": verified.key_id}
        return _answers(response.content, peer.code, query_ids, batch=len(subjects) > 1)


def _answers(
    content: bytes, city: str, query_ids: list[str], *, batch: bool
) -> dict[str, dict[str, bool | None]]:
    """The categories per subject (by query id), after checking the answer is about exactly our
    queries."""
    try:
        items = (
            BatchAnswer.model_validate_json(content).answers
            if batch
            else [StatusAnswer.model_validate_json(content)]
        )
    except ValidationError as exc:
        raise ValueError(f"answer does not match the protocol: {exc.errors()[0]['msg']}") from None
    if sorted(str(a.query_id) for a in items) != sorted(query_ids):
        raise ValueError("answer is about other queries")
    if any(a.responding_city != city for a in items):
        raise ValueError("responding_city is not the peer")
    return {str(a.query_id): {name: getattr(a, name) for name in CATEGORIES} for a in items}
