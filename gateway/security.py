"""What every public route gets before any handler runs: a rate limit (429 with Retry-After), then
the kit's admission gate (`services.kit.http.Gate`: at most `HTTP_MAX_IN_FLIGHT` requests and
`HTTP_MAX_BODY_BYTES_IN_FLIGHT` body bytes handled at once, else 503 with Retry-After; a request-body
limit, 413, on Content-Length and while the body streams: `FACTS_MAX_BODY_BYTES` for department
batches, `MAX_BODY_BYTES` elsewhere), and security headers on every answer. Department batches have
their own, smaller number in flight (`FACTS_MAX_IN_FLIGHT`): each is parsed in the event loop, and a
flood of them would otherwise keep `/healthz` waiting behind seconds of parsing.

The rate limit comes first: it costs a dictionary look-up, and a client over its rate should not take
a place in flight. `/healthz`, `/readyz` and `/metrics` pass both, so they answer during a flood.

The rate limit is a token bucket per client (its bearer token or session cookie, else its address, with a
five-times larger ceiling per address), kept in this process's memory: with several gateway
replicas each enforces its own budget (a client may get N times the rate behind N replicas); a shared
limit needs a shared store (e.g. at the load balancer), which the local stack does not have.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.settings import GatewaySettings
from services.kit.http import HTTP_SHED, OPERATIONS_PATHS, PROBLEM_JSON, Gate, declared_length

SESSION_COOKIE = "hx_session"


@dataclass
class Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """Token buckets by key; the least recently used keys are forgotten beyond `max_keys`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate_per_s, burst, max_keys, clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str, cost: int = 1, *, debt: bool = False) -> float:
        """0 when a request costing `cost` tokens may go, else the seconds until it could.

        With `debt`, a request is let through once the bucket holds `min(cost, burst)` and may take
        it below zero (the batches of `gateway.intake`: one larger than the burst still goes, and the
        ones after it wait until the debt is paid back)."""
        now = self.clock()
        bucket = self.buckets.pop(key, None) or Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        self.buckets[key] = bucket
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        needed = float(min(cost, self.burst)) if debt else float(cost)
        if bucket.tokens >= needed:
            bucket.tokens -= cost
            return 0.0
        return (needed - bucket.tokens) / self.rate


def problem_bytes(status: int, title: str, detail: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()


async def send_problem(
    send: Send, status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = problem_bytes(status, title, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
# FastAPI's /docs pages load Swagger UI and ReDoc from a CDN: they get no CSP (they show no data).
DOCS_PATHS = ("/docs", "/redoc")


FACTS_PATH = "/api/facts"
BULK_PATHS = frozenset({FACTS_PATH, "/api/registrations", "/api/credentials"})
"""Routes that take batches of thousands of lines: the larger body limit, their own number in flight."""


class Guard:
    """ASGI middleware: rate limit, admission (in flight, body limit), security headers."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings
        self.gate = Gate(settings, settings.service_name, body_limit=self.body_limit)
        self.facts_in_flight = 0
        self.retry_after = [(b"retry-after", str(settings.http_retry_after_s).encode())]
        self.requests = TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
        # a ceiling per address too, so that a client cannot escape its bucket by inventing tokens
        self.addresses = TokenBuckets(settings.rate_limit_per_s * 5, settings.rate_limit_burst * 5)
        self.logins = TokenBuckets(
            settings.login_rate_per_min / 60.0, max(1, int(settings.login_rate_per_min))
        )

    def client_key(self, scope: Scope) -> str:
        headers = dict(scope.get("headers") or [])
        credential = headers.get(b"authorization", b"")
        if not credential:
            for part in headers.get(b"cookie", b"").split(b";"):
                name, _, value = part.strip().partition(b"=")
                if name == SESSION_COOKIE.encode():
                    credential = value
        if credential:
            return "t:" + hashlib.sha256(credential).hexdigest()[:32]
        client = scope.get("client")
        return "a:" + (client[0] if client else "unknown")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        client = scope.get("client")
        if path == "/auth/token" or (path == "/login" and scope["method"] == "POST"):
            wait = self.logins.take("a:" + (client[0] if client else "unknown"))
        elif path in OPERATIONS_PATHS:
            wait = 0.0
        else:
            key = self.client_key(scope)
            wait = self.requests.take(key)
            if key.startswith("t:"):
                wait = max(wait, self.addresses.take("a:" + (client[0] if client else "unknown")))
        if wait > 0:
            retry = str(max(1, math.ceil(wait))).encode()
            HTTP_SHED.labels(self.settings.service_name, "429").inc()
            await send_problem(send, 429, "Too many requests", "slow down", [(b"retry-after", retry)])
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if not path.startswith(DOCS_PATHS):
                    extra.append((b"content-security-policy", CSP))
                if path.startswith(("/api/", "/auth/")) or not path.startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                if self.settings.cookie_secure:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *(h for h in extra if h[0] not in names)],
                }
            await send(message)

        if path not in BULK_PATHS:
            await self.gate.handle(scope, receive, send_with_headers, self.app)
            return
        declared = declared_length(scope)
        if self.facts_in_flight >= self.settings.facts_max_in_flight and not (
            declared is not None and declared > self.settings.facts_max_body_bytes  # the gate's 413
        ):
            HTTP_SHED.labels(self.settings.service_name, "503").inc()
            await send_problem(
                send,
                503,
                "Overloaded",
                "too many batches in flight; retry later",
                self.retry_after,
            )
            return
        self.facts_in_flight += 1
        try:
            await self.gate.handle(scope, receive, send_with_headers, self.app)
        finally:
            self.facts_in_flight -= 1

    def body_limit(self, path: str) -> int:
        return self.settings.facts_max_body_bytes if path in BULK_PATHS else self.settings.max_body_bytes
