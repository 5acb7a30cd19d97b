"""Answering a peer: verify, authorise, rate-limit, answer from the status book, sign, record.

Kept apart from FastAPI so the same code is what the tests and the benchmark drive. Every outcome is
stored: an accepted request and our signed answer as one `InboundExchange` (whose id doubles as the
nonce register), a refused one as an `InboundRejection` with the reason. Errors are problem+json
with a stable `type` per cause (PROTOCOL.md, "Errors").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
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
from federation.settings import FederationSettings
from federation.signing import Headers, SignatureRejected, Verified, sign_response, verify_request

PROBLEM_BASE = "urn:housing:federation:problem:"
RECORDED_HEADERS = ("host", "content-type", "content-digest", "signature-input", "signature")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


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
    ) -> None:
        self.app, self.settings, self.directory = app, settings, directory
        self.private_key, self.book = private_key, book
        self.limiter = RateLimiter()
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
        """One POST to the household-status endpoints; never raises for a peer's mistake."""
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
                )
            except SignatureRejected as exc:
                if exc.status == 403:
                    raise Refused(403, "unknown-city", "Unknown city", exc.reason) from None
                raise Refused(401, "invalid-signature", "Invalid signature", exc.reason) from None
            claimed = verified.city
            return self._answer(verified, path, headers, body, batch)
        except Refused as refused:
            metrics.REJECTIONS.labels(claimed or "unknown", str(refused.status)).inc()
            self.app.record_rejection(
                claimed,
                refused.status,
                refused.detail or refused.title,
                _record(path, headers, body, keep_body=False),
            )
            return problem(refused)

    def _answer(self, verified: Verified, path: str, headers: Headers, body: bytes, batch: bool) -> Reply:
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
        now = datetime.now(UTC).replace(microsecond=0)
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
            self.private_key, self.settings.federation_city, 200, response_body, verified.signature
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
        if not self.app.record_exchange(exchange):
            raise Refused(401, "replayed-nonce", "Replayed nonce", "this (keyid, nonce) was already used")
        metrics.INBOUND.labels(peer.code).inc(len(answers))
        metrics.INBOUND_MATCHES.labels(peer.code).inc(matches)
        return Reply(200, response_headers.items(), response_body)


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
