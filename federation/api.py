"""HTTP: the wire endpoints peers call, our public keys, and operator views of the exchange log.

The wire endpoints read the raw body and headers themselves (the signature covers bytes, not parsed
JSON) and hand them to `Responder`; they answer with exactly its status, headers and bytes. Operator
and internal routes are for the gateway and the intake, not for peers (PROTOCOL.md lists only the
wire routes).

Who may call which: the wire router (`/federation/v1/household-status[:batch]`, `/federation/v1/keys`)
is open to the network and authenticates peer cities itself (RFC 9421 signatures with the keys of the
peer directory); `create_app` is given it as an open router. The operator router requires the kit's
service assertion like every other service (`services.kit.identity`): the exchange log and the
refusals span every estate and are refused to an estate-scoped caller (as at the gateway). A check's
results and the subject hashes name a household but federation does not know its estate: the gateway
checks those against eligibility's household before it forwards.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Send

from federation.application import FederationApp
from federation.inbound import Refused, Reply, Responder
from federation.keys import public_x
from federation.signing import Headers
from services.kit.http import BodyTooLarge, Gate, Problem, declared_length
from services.kit.identity import Authenticated
from services.kit.paging import Cursor, Limit, Page, decode_cursor, encode_cursor, page_response

log = logging.getLogger(__name__)


def _reply(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
    response = Response(content=body, status_code=status)
    for name, value in headers:
        response.headers[name] = value
    return response


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


WIRE_PATHS = {"/federation/v1/household-status": False, "/federation/v1/household-status:batch": True}
"""The peers' POST endpoints, and whether each is the batch one."""

ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class FrontDoor:
    """Peers' POSTs answered straight from ASGI, before the framework's middleware.

    The framework (routing, dependency resolution, exception middleware) and the OpenTelemetry
    middleware cost more CPU per query than verifying, answering, signing and storing it
    (bench/federation.py). A peer's query is a leaf: it starts no work in other services, so a trace
    of it would connect to nothing; its outcome is in the exchange (stored) or the refusal log and the
    per-peer counters. Everything else (operator routes, health, metrics, lifespan) goes to the app.
    The FastAPI routes of the wire protocol stay for the OpenAPI document and behave the same."""

    def __init__(self, inner: ASGIApp, responder: Responder, gate: Gate | None = None) -> None:
        self.inner, self.responder, self.gate = inner, responder, gate
        self.limit = responder.settings.federation_max_body_bytes

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in WIRE_PATHS:
            await self.inner(scope, receive, send)
            return
        declared = declared_length(scope)
        if self.gate is None or (declared is not None and declared > self.limit):
            # Refused on its Content-Length (our own 413, recorded) before it takes a place in flight.
            await self._wire(scope, receive, send)
            return
        await self.gate.handle(scope, receive, send, self._wire)

    async def _wire(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        try:
            reply = await self._answer(scope, receive)
        except BodyTooLarge:
            refused = Refused(413, "too-large", "Request too large", f"at most {self.limit} bytes")
            reply = self.responder.refuse(refused, scope["path"], Headers(), None)
        except Exception:
            log.exception("federation: answering a peer failed")
            reply = Reply(500, [("Content-Type", "application/problem+json")], INTERNAL_ERROR)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-length", str(len(reply.body)).encode()),
                    *(
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in reply.headers
                    ),
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    async def _answer(self, scope: MutableMapping[str, Any], receive: Receive) -> Reply:
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers)
        path = (scope.get("raw_path") or b"").decode("latin-1") or scope["path"]
        body = await _receive(receive, headers, self.limit)
        if body is None:
            refused = Refused(413, "too-large", "Request too large", f"at most {self.limit} bytes")
            return self.responder.refuse(refused, path, headers, None)
        return await self.responder.handle_async(path, headers, body, batch=WIRE_PATHS[scope["path"]])


INTERNAL_ERROR = b'{"type":"about:blank","title":"Internal error","status":500}'


async def _receive(receive: Receive, headers: Headers, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` (declared or actual)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body.extend(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            break
    return bytes(body)


def install_front_door(api: FastAPI, responder: Responder) -> None:
    """Put `FrontDoor` outside the app's middleware stack (OpenTelemetry's included), which Starlette
    builds on the first request. Peers' POSTs pass the kit's admission gate (`api.state.gate`, in
    flight and body bytes: 503 when full) with our body limit, so that a body streamed without a
    Content-Length reserves 64 KiB of the byte budget, not the kit's general limit."""
    build_stack = api.build_middleware_stack
    gate: Gate | None = getattr(api.state, "gate", None)
    if gate is not None:
        general, limit = gate.body_limit, responder.settings.federation_max_body_bytes
        gate.body_limit = lambda path: limit if path in WIRE_PATHS else general(path)

    def build() -> ASGIApp:
        return FrontDoor(build_stack(), responder, gate)

    api.build_middleware_stack = build  # type: ignore[method-assign]


def wire_router(responder: Responder) -> APIRouter:
    router = APIRouter(prefix="/federation/v1", tags=["federation wire protocol v1"])
    limit = responder.settings.federation_max_body_bytes

    async def handle(request: Request, batch: bool) -> Response:
        body = await _read(request, limit)
        headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
        path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        if body is None:
            refused = Refused(413, "too-large", "Request too large", f"at most {limit} bytes")
            reply = responder.refuse(refused, path, headers, None)
        else:
            # Verifying and signing in the event loop (CPU; threads would only add GIL contention),
            # storing in the group committer's thread (see bench/federation.py).
            reply = await responder.handle_async(path, headers, body, batch=batch)
        return _reply(reply.status, reply.headers, reply.body)

    @router.post("/household-status", summary="Status of one subject (signed request, signed answer)")
    async def household_status(request: Request) -> Response:
        return await handle(request, batch=False)

    @router.post("/household-status:batch", summary="Status of up to BATCH_MAX subjects of one case")
    async def household_status_batch(request: Request) -> Response:
        return await handle(request, batch=True)

    @router.get("/keys", summary="Our public keys (JWK set) with validity windows")
    async def keys() -> dict[str, Any]:
        return {"keys": jwks(responder)}

    return router


def jwks(responder: Responder) -> list[dict[str, Any]]:
    """Keys from our own directory entry (with windows), plus the signing key if it is not listed."""
    me = responder.directory.me
    current = public_x(responder.private_key.public_key())
    city = responder.settings.federation_city
    listed = [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": key.x,
            "kid": key.key_id,
            "use": "sig",
            "alg": "EdDSA",
            "city": city,
            "nbf": int(key.not_before.timestamp()),
            "exp": int(key.not_after.timestamp()),
        }
        for key in (me.keys if me else ())
    ]
    if all(k["x"] != current for k in listed):
        listed.append(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": current,
                "kid": f"{city}-current",
                "use": "sig",
                "alg": "EdDSA",
                "city": city,
            }
        )
    return listed


EXCHANGES_PAGE = 50


def _sequence_of(cursor: str | None) -> int | None:
    """The sequence number a cursor of this log holds (None: from the newest)."""
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if len(key) != 1 or not isinstance(key[0], int):
        raise Problem(400, "Invalid cursor", "pass back the `next` of the previous page as it came")
    return key[0]


def newest(app: FederationApp, before: int | None, count: int) -> list[Notification]:
    """Up to `count` notifications older than `before` (from the newest when None), newest first.
    The log only reads forwards, and its ids may have gaps (a transaction rolled back): it is read in
    windows backwards from `before`, each twice the last, until `count` are found or the log begins."""
    top = (app.process_recorder.max_notification_id() or 0) if before is None else before - 1
    found: list[Notification] = []
    window = count
    while top >= 1 and len(found) < count:
        start = max(1, top - window + 1)
        chunk = app.notification_log.select(start=start, limit=top - start + 1, stop=top)
        found.extend(reversed([n for n in chunk if n.id <= top]))
        top, window = start - 1, window * 2
    return found[:count]


def exchange_entry(app: FederationApp, notification: Notification) -> dict[str, Any]:
    """One event of the log as the operators read it: its sequence number, kind and aggregate, and the
    few fields of the event that say with whom and with what result."""
    event = app.mapper.to_domain_event(notification)
    entry: dict[str, Any] = {
        "seq": notification.id,
        "kind": notification.topic.rsplit(".", 1)[-1],
        "id": str(notification.originator_id),
    }
    for name in ("city", "claimed_city", "status", "reason", "result", "query_ids", "purpose", "matches"):
        if hasattr(event, name):
            entry[name] = getattr(event, name)
    entry["at"] = str(getattr(event, "timestamp", None) or app.clock())
    return entry


def operator_router(app: FederationApp, responder: Responder | None = None) -> APIRouter:
    router = APIRouter(prefix="/federation/v1", tags=["operators"])

    @router.get("/refusals", summary="The latest refused requests of this process, newest first")
    def refusals(who: Authenticated, limit: int = 50) -> list[dict[str, Any]]:
        who.city_wide("the refusal log")
        recent = list(responder.refusals.recent) if responder is not None else []
        return recent[::-1][: max(1, min(limit, 200))]

    @router.get("/exchanges", summary="The federation events, newest first, a page")
    def exchanges(
        request: Request, who: Authenticated, limit: Limit = EXCHANGES_PAGE, cursor: Cursor = None
    ) -> JSONResponse:
        """Newest first, keyed by the event's sequence number in the notification log (`seq`): read
        backwards from the log a page at a time, never the whole log."""
        who.city_wide("the federation log")
        before = _sequence_of(cursor)
        found = newest(app, before, limit + 1)
        more = len(found) > limit
        page = Page(list(found[:limit]), encode_cursor((found[limit - 1].id,)) if more else None)
        return page_response(request, page.map(lambda n: exchange_entry(app, n)))

    @router.get("/checks/{check_id}", summary="The per-city results of one cross-region check")
    def check(check_id: UUID) -> dict[str, Any]:
        found = app.check(check_id)
        if found is None:
            raise Problem(404, "Unknown check", str(check_id))
        return {
            "check_id": str(check_id),
            "household_id": str(found.household_id),
            "cities": found.cities,
            "results": found.results,
            "pending": found.pending_cities,
        }

    return router
