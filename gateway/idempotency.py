"""`Idempotency-Key` on the operator API's unsafe requests (the IETF httpapi draft "The Idempotency-Key
HTTP Header Field"): a client that timed out may send the same POST again with the same key and gets
the first answer back instead of doing the step twice.

Why the gateway and not each service: the steps a client retries (a sanction imposed, a course
scheduled, a referral made) live in five services, and most have no natural key a client could send
(registrations and department facts do: their `reference`, which eligibility already answers as a
duplicate). One record here covers every route, with one meaning.

- The key is the client's (the principal's subject), per method and path: two operators using the
  same key never see each other's answers.
- The first request records the key as in progress; the same key again while it runs is 409 (retry
  later). When it ends with a 2xx or a 4xx the answer is kept for `IDEMPOTENCY_TTL_S` (a day) and
  replayed with `Idempotent-Replayed: true`; a 5xx or an error forgets the key, so the retry really
  runs (the service did not do the step, or it will answer it as already done).
- The same key with a different body is 422: a key names one request.

Kept in SQLite beside the gateway's keys (`<VAR_DIR>/gateway/idempotency.sqlite3`): it survives a
gateway restart. Several gateway replicas need one shared file or a sticky client (docs/security.md).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from gateway.auth import Unauthorized, oauth2, tokens_of, verified
from services.kit.clock import Clock
from services.kit.http import Problem
from services.kit.problems import PROBLEM_JSON, problem_response

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
RETRY_LATER = frozenset({408, 425, 429})
"""Answers that say "not now": the key is forgotten, as after a 5xx, so that the retry runs."""


@dataclass(frozen=True)
class Kept:
    fingerprint: str
    status: int | None
    body: bytes
    media_type: str


class Replies:
    """The record of keys and the answers kept for them."""

    def __init__(self, path: Path, clock: Clock, ttl_s: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock, self.ttl = clock, timedelta(seconds=ttl_s)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replies (client TEXT, key TEXT, fingerprint TEXT, status INTEGER,"
            " body BLOB, media_type TEXT, expires TEXT, PRIMARY KEY (client, key))"
        )
        self._since_purge = 0

    def begin(self, client: str, key: str, fingerprint: str) -> Kept | None:
        """None when this request is the first with the key (now in progress); else what is kept."""
        now = self.clock()
        with self._lock:
            self._purge_now_and_then(now.isoformat())
            row = self._db.execute(
                "SELECT fingerprint, status, body, media_type, expires FROM replies WHERE client=? AND key=?",
                (client, key),
            ).fetchone()
            if row is not None and row[4] > now.isoformat():
                return Kept(row[0], row[1], row[2] or b"", row[3] or "")
            self._db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, NULL, NULL, NULL, ?)",
                (client, key, fingerprint, (now + self.ttl).isoformat()),
            )
            return None

    def keep(self, client: str, key: str, status: int, body: bytes, media_type: str) -> None:
        expires = (self.clock() + self.ttl).isoformat()
        with self._lock:
            self._db.execute(
                "UPDATE replies SET status=?, body=?, media_type=?, expires=? WHERE client=? AND key=?",
                (status, body, media_type, expires, client, key),
            )

    def forget(self, client: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM replies WHERE client=? AND key=?", (client, key))

    def _purge_now_and_then(self, now: str) -> None:
        self._since_purge += 1
        if self._since_purge >= 1000:
            self._since_purge = 0
            self._db.execute("DELETE FROM replies WHERE expires <= ?", (now,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def key_of(request: Request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > 255 or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise Problem(400, "Invalid Idempotency-Key", "1 to 255 visible ASCII characters")
    return key


class IdempotentRoute(APIRoute):
    """A route whose POSTs honour `Idempotency-Key` (see the module's docstring); other methods and
    requests without the header pass straight through."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def idempotent(request: Request) -> Response:
            key = key_of(request) if request.method == "POST" else None
            replies: Replies | None = getattr(request.app.state, "replies", None)
            if key is None or replies is None:
                return await handle(request)
            token = await oauth2(request)
            if not token:  # the route's own dependency answers 401
                return await handle(request)
            try:
                principal = await run_in_threadpool(verified, tokens_of(request), token)
            except Unauthorized:
                return await handle(request)
            client = principal.subject
            scoped = f"{request.method} {request.url.path} {key}"
            body = await request.body()
            fingerprint = hashlib.sha256(request.url.query.encode() + b"\n" + body).hexdigest()
            kept = await run_in_threadpool(replies.begin, client, scoped, fingerprint)
            if kept is not None:
                return _replay(kept, fingerprint)
            try:
                response = await handle(request)
            except Problem as exc:
                if exc.status >= 500 or exc.status in RETRY_LATER:
                    await run_in_threadpool(replies.forget, client, scoped)
                else:
                    await run_in_threadpool(replies.keep, client, scoped, *_problem_bytes(exc))
                raise
            except BaseException:
                await run_in_threadpool(replies.forget, client, scoped)
                raise
            content = getattr(response, "body", None)
            if (
                response.status_code >= 500
                or response.status_code in RETRY_LATER
                or not isinstance(content, bytes)
            ):
                await run_in_threadpool(replies.forget, client, scoped)
                return response
            media = response.headers.get("content-type", "application/json")
            await run_in_threadpool(replies.keep, client, scoped, response.status_code, content, media)
            return response

        return idempotent


def _replay(kept: Kept, fingerprint: str) -> Response:
    if kept.fingerprint != fingerprint:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this key was sent before with a different request; a key names one request",
        )
    if kept.status is None:
        raise Problem(
            409,
            "Request in progress",
            "the first request with this Idempotency-Key has not finished; retry shortly",
            headers={"Retry-After": "1"},
        )
    return Response(
        content=kept.body, status_code=kept.status, media_type=kept.media_type, headers={REPLAYED: "true"}
    )


def _problem_bytes(exc: Problem) -> tuple[int, bytes, str]:
    """A refusal kept as the problem+json it was rendered as."""
    response = problem_response(exc.status, exc.title, exc.detail, exc.type, **exc.extra)
    return exc.status, bytes(response.body), PROBLEM_JSON
