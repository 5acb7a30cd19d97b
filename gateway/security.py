"""What every public route gets before any handler runs: a request-body limit (413), a rate limit
(429 with Retry-After) and security headers on every answer.

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
from services.kit.http import PROBLEM_JSON

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

    def take(self, key: str) -> float:
        """0 when the request may go, else the seconds until it could."""
        now = self.clock()
        bucket = self.buckets.pop(key, None) or Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        self.buckets[key] = bucket
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


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


class Guard:
    """ASGI middleware: rate limit, body limit, security headers."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings
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
        elif path in ("/healthz", "/readyz", "/metrics"):
            wait = 0.0
        else:
            key = self.client_key(scope)
            wait = self.requests.take(key)
            if key.startswith("t:"):
                wait = max(wait, self.addresses.take("a:" + (client[0] if client else "unknown")))
        if wait > 0:
            retry = str(max(1, math.ceil(wait))).encode()
            await send_problem(send, 429, "Too many requests", "slow down", [(b"retry-after", retry)])
            return

        limit = self.settings.facts_max_body_bytes if path == "/api/facts" else self.settings.max_body_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_problem(send, 413, "Request body too large", f"at most {limit} bytes")
            return

        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if too_large:  # the app's own answer to a body cut short is replaced by the 413
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await send_problem(send, 413, "Request body too large", f"at most {limit} bytes")
                return
            if message["type"] == "http.response.start":
                started = True
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

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await send_problem(send, 413, "Request body too large", f"at most {limit} bytes")


class BodyTooLarge(Exception):
    pass
