"""Answering a peer: verify, authorise, rate-limit, answer from the status book, sign, record.

Kept apart from FastAPI so the same code is what the tests and the benchmark drive. An accepted
request and our signed answer are stored as one `InboundExchange` (whose id doubles as the nonce
register); a refused one is counted and logged by `federation.refusals` (bounded, not the event
store). Errors are problem+json with a stable `type` per cause (PROTOCOL.md, "Errors").

Two ways in: `handle` (one request, one transaction: tests, the benchmark's in-process figure) and
`handle_async` (HTTP), which verifies and signs in the event loop and hands the exchange to
`ExchangeCommitter`: exchanges arriving while a transaction is being committed go into the next one
(group commit), so the fsync that makes a nonce durable is shared by every concurrent query. The
answer leaves only after its exchange is committed: a replayed nonce is refused as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from contracts.federation import BatchAnswer, BatchQuery, StatusAnswer, StatusQuery
from federation import metrics
from federation.application import FederationApp
from federation.domain import InboundExchange
from federation.peers import Directory
from federation.ratelimit import RateLimiter
from federation.readmodel import StatusBook
from federation.refusals import RefusalLog
from federation.settings import FederationSettings
from federation.signing import Headers, SignatureRejected, Verified, sign_response, verify_request

PROBLEM_BASE = "urn:housing:federation:problem:"
RECORDED_HEADERS = ("host", "content-type", "content-digest", "signature-input", "signature")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Pending:
    """A verified, answered request whose exchange is still to be stored (the replay check)."""

    exchange: InboundExchange
    reply: Reply
    peer: str
    path: str
    headers: Headers
    body: bytes
    answers: int
    matches: int


class Refused(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str = "", retry_after: int = 0) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail, self.retry_after = (
            status,
            slug,
            title,
            detail,
            retry_after,
        )


def problem(refused: Refused) -> Reply:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + refused.slug,
        "title": refused.title,
        "status": refused.status,
    }
    if refused.detail:
        body["detail"] = refused.detail
    headers = [("Content-Type", "application/problem+json")]
    if refused.retry_after:
        headers.append(("Retry-After", str(refused.retry_after)))
    return Reply(refused.status, headers, json.dumps(body).encode())


class Responder:
    def __init__(
        self,
        app: FederationApp,
        settings: FederationSettings,
        directory: Directory,
        private_key: Ed25519PrivateKey,
        book: StatusBook,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.app, self.settings, self.directory = app, settings, directory
        self.private_key, self.book = private_key, book
        self.limiter = RateLimiter(settings.federation_rate_limit_share)
        self.clock = app.clock
        """What "now" is for this city's answers: the application's clock (`services.kit.clock`)."""
        self.refusals = refusals or RefusalLog(None, 0, 0, clock=app.clock)
        self.committer = ExchangeCommitter(
            app, settings.federation_commit_batch_max, settings.federation_commit_linger_s
        )
        me = directory.me
        # Our public origin as partners address us (behind a proxy the Host header may differ): the
        # URL the signature is checked against, so @authority/@target-uri must name *us*.
        self.origin = me.base_url if me is not None else None

    def keys_of(self, city: str, moment: datetime) -> list[tuple[str, Ed25519PublicKey]] | None:
        peer = self.directory.get(city)
        if peer is None:
            return None
        return [(key.key_id, key.public_key) for key in peer.keys_valid_at(moment)]

    def handle(self, path: str, headers: Headers, body: bytes, *, batch: bool) -> Reply:
        """One POST to the household-status endpoints, stored in its own transaction."""
        outcome = self.prepare(path, headers, body, batch=batch)
        if isinstance(outcome, Reply):
            return outcome
        return self.finish(outcome, self.app.record_exchange(outcome.exchange))

    async def handle_async(self, path: str, headers: Headers, body: bytes, *, batch: bool) -> Reply:
        """The same, with the exchange stored by the group committer."""
        outcome = self.prepare(path, headers, body, batch=batch)
        if isinstance(outcome, Reply):
            return outcome
        return self.finish(outcome, await self.committer.submit(outcome.exchange))

    def refuse(
        self, refused: Refused, path: str, headers: Headers, body: bytes | None, peer: str | None = None
    ) -> Reply:
        kept = {name: headers.get(name) or "" for name in RECORDED_HEADERS if name in headers}
        self.refusals.record(
            peer=peer,
            status=refused.status,
            problem=refused.slug,
            reason=refused.detail or refused.title,
            path=path,
            headers=kept,
            body=body,
        )
        return problem(refused)

    def prepare(self, path: str, headers: Headers, body: bytes, *, batch: bool) -> Reply | Pending:
        """Everything but storing: a refusal's problem reply, or the signed answer to store first.
        Never raises for a peer's mistake."""
        claimed: str | None = None
        try:
            if len(body) > self.settings.federation_max_body_bytes:
                raise Refused(
                    413,
                    "too-large",
                    "Request too large",
                    f"at most {self.settings.federation_max_body_bytes} bytes",
                )
            origin = self.origin or f"http://{(headers.get('host') or '').lower()}"
            try:
                verified = verify_request(
                    "POST",
                    origin + path,
                    headers,
                    body,
                    self.keys_of,
                    max_age_s=self.settings.federation_max_signature_age_s,
                    skew_s=self.settings.federation_clock_skew_s,
                    clock=self.clock,
                )
            except SignatureRejected as exc:
                if exc.status == 403:
                    raise Refused(403, "unknown-city", "Unknown city", exc.reason) from None
                raise Refused(401, "invalid-signature", "Invalid signature", exc.reason) from None
            claimed = verified.city
            return self._answer(verified, path, headers, body, batch)
        except Refused as refused:
            return self.refuse(refused, path, headers, body, claimed)

    def finish(self, pending: Pending, stored: bool) -> Reply:
        if not stored:
            refused = Refused(401, "replayed-nonce", "Replayed nonce", "this (keyid, nonce) was already used")
            return self.refuse(refused, pending.path, pending.headers, pending.body, pending.peer)
        metrics.INBOUND.labels(pending.peer).inc(pending.answers)
        metrics.INBOUND_MATCHES.labels(pending.peer).inc(pending.matches)
        return pending.reply

    def _answer(self, verified: Verified, path: str, headers: Headers, body: bytes, batch: bool) -> Pending:
        peer = self.directory.get(verified.city)
        assert peer is not None
        wait = self.limiter.check(peer.code, peer.rate_limit.per_second, peer.rate_limit.burst)
        if wait:
            raise Refused(429, "rate-limited", "Over the rate limit", f"{peer.rate_limit.per_second}/s", wait)
        model: type[BaseModel] = BatchQuery if batch else StatusQuery
        try:
            query = model.model_validate_json(body)
        except ValidationError as exc:
            if batch and any(e["type"] == "too_long" and e["loc"] == ("subjects",) for e in exc.errors()):
                raise Refused(413, "too-many-subjects", "Too many subjects", "see BATCH_MAX") from None
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(body)"
            raise Refused(400, "malformed", "Malformed request", f"{where}: {first['msg']}") from None
        assert isinstance(query, StatusQuery | BatchQuery)
        if query.requesting_city != verified.city:
            raise Refused(403, "city-mismatch", "requesting_city is not the signer", verified.city)
        if query.purpose not in peer.allowed_purposes:
            raise Refused(
                403, "purpose-not-allowed", "Purpose not allowed", f"{query.purpose!r} for {peer.code}"
            )
        if isinstance(query, BatchQuery) and len(query.subjects) > self.settings.federation_batch_max:
            raise Refused(
                413, "too-many-subjects", "Too many subjects", f"at most {self.settings.federation_batch_max}"
            )
        now = self.clock().replace(microsecond=0)
        subjects = (
            [(s.query_id, s.id_hash) for s in query.subjects]
            if isinstance(query, BatchQuery)
            else [(query.query_id, query.id_hash)]
        )
        answers = [
            StatusAnswer(
                query_id=query_id,
                responding_city=self.settings.federation_city,
                as_of=now,
                contact_reference=f"{self.settings.federation_city}/{self.settings.federation_contact}/{query_id}",
                **self.book.status(peer.code, subject),
            )
            for query_id, subject in subjects
        ]
        answer: BaseModel = (
            BatchAnswer(
                batch_id=query.batch_id,
                responding_city=self.settings.federation_city,
                as_of=now,
                answers=answers,
            )
            if isinstance(query, BatchQuery)
            else answers[0]
        )
        response_body = answer.model_dump_json().encode()
        response_headers = sign_response(
            self.private_key, self.settings.federation_city, 200, response_body, verified.signature, now=now
        )
        matches = sum(
            1
            for a in answers
            if True
            in (a.holds_subsidised_housing, a.receives_housing_subsidy, a.owns_property_over_threshold)
        )
        exchange = InboundExchange(
            verified.city,
            verified.key_id,
            verified.nonce,
            [str(q) for q, _ in subjects],
            query.purpose,
            _record(path, headers, body),
            200,
            {"headers": response_headers.as_dict(), "body": response_body.decode()},
            matches,
            now,
        )
        reply = Reply(200, response_headers.items(), response_body)
        return Pending(exchange, reply, peer.code, path, headers, body, len(answers), matches)


class ExchangeCommitter:
    """Group commit: one transaction (one fsync) for every exchange that arrived meanwhile.

    The first exchange after a quiet spell is committed at once (no added latency); while that
    transaction is in a worker thread, the event loop keeps verifying and signing, and what it
    queues goes into the next transaction (at most `batch_max`). A transaction that fails on a
    duplicate nonce is retried one exchange at a time, so only the replay is refused."""

    def __init__(self, app: FederationApp, batch_max: int, linger_s: float = 0.0) -> None:
        self.app, self.batch_max, self.linger_s = app, batch_max, linger_s
        self._queue: list[tuple[InboundExchange, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    async def submit(self, exchange: InboundExchange) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((exchange, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            if self._busy and self.linger_s and len(self._queue) < self.batch_max:
                # Under load (the last transaction held several exchanges), wait a moment for more:
                # each transaction is an fsync, whose CPU cost is shared by what it holds.
                await asyncio.sleep(self.linger_s)
            batch, self._queue = self._queue[: self.batch_max], self._queue[self.batch_max :]
            try:
                stored = await asyncio.to_thread(self.app.record_exchanges, [e for e, _ in batch])
            except Exception as exc:  # the store is down: every waiting request gets a 500
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            metrics.STORE_BATCH.observe(len(batch))
            self._busy = len(batch) > 1
            for (_, future), ok in zip(batch, stored, strict=True):
                if not future.done():
                    future.set_result(ok)


def _record(path: str, headers: Headers, body: bytes, *, keep_body: bool = True) -> dict[str, Any]:
    """The signed request as stored: the covered headers and the body. Only a body that passed
    validation is kept (it then holds hashes only); of a refused one we keep its SHA-256 and size, so a
    peer that wrongly sends a raw ID number does not get it into our store."""
    kept = {name: headers.get(name) or "" for name in RECORDED_HEADERS if name in headers}
    record: dict[str, Any] = {"method": "POST", "path": path, "headers": kept}
    record["body_sha256"] = hashlib.sha256(body).hexdigest()
    record["body_bytes"] = len(body)
    if keep_body:
        record["body"] = body.decode("utf-8", "replace")
    return record
