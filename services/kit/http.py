"""The FastAPI app every service starts from: health, readiness, metrics, problem+json, tracing,
admission control.

Operators and the gateway must get the same shape of error from every service (RFC 9457
problem+json), and an SRE the same three endpoints: `/healthz` (the process answers), `/readyz`
(store and NATS reachable, loops alive) and `/metrics` (Prometheus text).

Admission (`Gate`): a flood must cost a process a bounded amount of memory and leave it able to say
that it is alive. So every request but those three is admitted only while fewer than
`HTTP_MAX_IN_FLIGHT` requests are being handled and the bodies being handled (their declared
`Content-Length`, or the body limit for one streamed without it) fit in `HTTP_MAX_BODY_BYTES_IN_FLIGHT`;
otherwise it is answered 503 with `Retry-After` at once, before its body is read: nothing waits in a
queue of ours. A body over the limit is answered 413 on its `Content-Length`, or as soon as the bytes
received pass the limit. Memory for request bodies is then at most the in-flight byte budget, whatever
the number of clients. Such a refusal on a connection the client asked to close is followed by a short
lingering read of the body (`HTTP_LINGER_S`), so that a client still writing reads the answer instead
of a reset.

Identity (`services.kit.identity`): every request but to the operations endpoints, the OpenAPI pages
and the routers a service declares open (federation's peer protocol) requires a valid assertion
(`Authorization: Bearer`, minted per call by the gateway or another issuer the service pins), 401
problem+json otherwise; the verified `Caller` is what routes record and check estates against.

`serve()` also starts the health listener (`services.kit.health`, `HEALTH_PORT`): the same three
endpoints answered by a thread from what the event loop last showed, on a port no flood shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.times import Day
from services.kit.clock import SimulatedClock, install
from services.kit.dating import InvalidField
from services.kit.health import watching
from services.kit.identity import Verifier, authenticated, install_guard
from services.kit.logs import setup_logging
from services.kit.problems import PROBLEM_JSON as PROBLEM_JSON
from services.kit.problems import Problem as Problem
from services.kit.problems import problem_response as problem_response
from services.kit.runtime import Runtime, run_without_http
from services.kit.settings import ServiceSettings
from services.kit.tracing import setup_tracing

log = logging.getLogger(__name__)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; some problems add members (`errors`, `checks`, ...).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "trace_id": {"type": "string"},
    },
}


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response object for a problem+json answer (for a route's `responses=`)."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


def install_problem_handlers(api: FastAPI) -> None:
    @api.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.type, exc.headers, **exc.extra)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem_response(
            422, "Invalid request", "the request does not match the schema", errors=errors
        )

    @api.exception_handler(InvalidField)
    async def _invalid_field(_: Request, exc: InvalidField) -> JSONResponse:
        return problem_response(
            422, exc.title, str(exc), errors=[{"location": f"body.{exc.field}", "message": str(exc)}]
        )

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # Keeps the headers the error carries (401's `WWW-Authenticate`, ...). Starlette's 405 names
        # only the methods of the first route whose path matched: `Allow` lists every route's.
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods = allowed_methods(request)
            if methods:
                headers["Allow"] = ", ".join(methods)
        return problem_response(exc.status_code, str(exc.detail), headers=headers or None)

    @api.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal error", "the error was logged with this trace id")

    document_problems(api)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app takes at the request's path (routes of included routers too:
    each method is matched as if the request had used it)."""
    routes = request.app.router.routes
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def document_problems(api: FastAPI) -> None:
    """Every operation of the OpenAPI document answers client errors (`4XX`) as problem+json, in place
    of FastAPI's `422` HTTPValidationError, which is not what `_invalid` above returns."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        document = generate()
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if responses is None:
                    continue
                invalid = responses.get("422", {}).get("content", {}).get("application/json", {})
                if invalid.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    del responses["422"]
                responses.setdefault("4XX", problem_doc("A problem with the request (RFC 9457)"))
                responses.setdefault(
                    "503", problem_doc("Overloaded: too many requests in flight (see Retry-After)")
                )
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, now referenced by nothing
            others = [document.get("paths"), {k: v for k, v in schemas.items() if k != unused}]
            if unused in schemas and f'"#/components/schemas/{unused}"' not in json.dumps(others):
                del schemas[unused]
        api.openapi_schema = document
        return document

    api.openapi = openapi  # type: ignore[method-assign]


IsoDate = Day
"""A day in a request (body, query): only `YYYY-MM-DD`, as the OpenAPI `format: date` says. Plain `date`
also takes `0` or `"0"` (the Unix epoch) and `"2026-01-01T00:00:00"`, which no client means as a day.
The contracts' own `Day`, so that a request and an event refuse the same texts."""


# -- admission control -----------------------------------------------------------------------------

OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Answered whatever the load: an orchestrator that sees no answer restarts a process that was busy."""

ADMITTED = "housing.admitted"
"""Scope key set by the gate that admitted a request, so that a second gate around the same app (a
front door placed outside the middleware stack) does not count it twice."""

HTTP_IN_FLIGHT = Gauge("housing_http_in_flight", "Requests being handled (admitted)", ["service"])
HTTP_SHED = Counter(
    "housing_http_shed_total",
    "Requests answered by admission control without being handled",
    ["service", "status"],
)


class AdmissionSettings(BaseSettings):
    """Admission control of a process's HTTP app (every service's and the gateway's)."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="")

    http_max_in_flight: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Requests handled at once; more are answered 503 with Retry-After, never queued.",
    )
    http_max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest request body of any route (routes may have smaller limits): 413 beyond.",
    )
    http_max_body_bytes_in_flight: int = Field(
        default=128 * 1024 * 1024,
        ge=1024,
        description="Request body bytes handled at once (declared Content-Length, or the body limit for "
        "a body streamed without it); more are answered 503.",
    )
    http_retry_after_s: int = Field(default=1, ge=1, le=3600, description="Retry-After of a 503.")
    http_linger_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="After a 413/503 sent before the body was read, to a client that asked to close the "
        "connection: read and discard its body this long at most before closing (0: close at once, "
        "and a client still sending gets a reset that may discard the answer).",
    )
    http_max_lingering: int = Field(
        default=32,
        ge=0,
        description="Connections lingering at once (`HTTP_LINGER_S`); beyond, a refused connection is "
        "closed at once: under a flood, lingering would keep every refused upload open and buffered.",
    )


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the bytes received pass the limit; an app that does not catch it
    answers 413 through the problem handlers, and the gate answers 413 in its place either way."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "Request body too large")
        self.limit = limit


def _problem_message(
    status: int, title: str, detail: str, headers: Sequence[tuple[bytes, bytes]]
) -> tuple[Message, Message]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    return start, {"type": "http.response.body", "body": body}


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None (absent or not a number)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _streamed(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers") or ())


def _closes(scope: Scope) -> bool:
    """Whether the connection ends with this request (HTTP/1.0, or `Connection: close`)."""
    if scope.get("http_version") == "1.0":
        return True
    return any(
        name == b"connection" and b"close" in value.lower() for name, value in scope.get("headers") or ()
    )


class Gate:
    """The in-flight counters of one process and the decision for each request (module docstring).

    Single event loop: the counters need no lock. `body_limit` gives a path its own limit (the
    gateway's department batches); by default every path has `HTTP_MAX_BODY_BYTES`."""

    def __init__(
        self,
        settings: AdmissionSettings,
        service: str,
        *,
        body_limit: Callable[[str], int] | None = None,
        exempt: frozenset[str] = OPERATIONS_PATHS,
    ) -> None:
        self.settings, self.service, self.exempt = settings, service, exempt
        self.body_limit = body_limit or (lambda _path: settings.http_max_body_bytes)
        self.in_flight = 0
        self.bytes_in_flight = 0
        self.lingering = 0
        self.retry_after = [(b"retry-after", str(settings.http_retry_after_s).encode())]
        self._gauge = HTTP_IN_FLIGHT.labels(service)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` behind this gate (an ASGI app)."""

        async def admitted(scope: Scope, receive: Receive, send: Send) -> None:
            await self.handle(scope, receive, send, app)

        return admitted

    async def _shed(
        self,
        send: Send,
        status: int,
        title: str,
        detail: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
        *,
        linger: Receive | None = None,
    ) -> None:
        """Answer without handling. With `linger` (the request's body is unread and the connection
        closes after this answer), the whole answer is sent, then the body read and discarded for at
        most `HTTP_LINGER_S` (while fewer than `HTTP_MAX_LINGERING` connections do) before the answer
        is marked complete and uvicorn closes: closing a socket with unread bytes sends a reset, and a
        reset can make the client's system discard the answer before the client reads it. (On a
        keep-alive connection uvicorn itself reads and discards the rest of the body after the answer.)"""
        HTTP_SHED.labels(self.service, str(status)).inc()
        start, body = _problem_message(status, title, detail, headers)
        await send(start)
        await self._finish(send, body, linger)

    async def _finish(self, send: Send, last: Message, linger: Receive | None) -> None:
        """Send the answer's last body message; with `linger`, first read and discard what is left of
        the request's body (see `_shed`), within `HTTP_LINGER_S` and `HTTP_MAX_LINGERING`."""
        if (
            linger is None
            or not self.settings.http_linger_s
            or self.lingering >= self.settings.http_max_lingering
        ):
            await send(last)
            return
        await send({**last, "more_body": True})
        self.lingering += 1
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.http_linger_s):
                    while True:
                        message = await linger()
                        if message["type"] != "http.request" or not message.get("more_body", False):
                            break
        finally:
            self.lingering -= 1
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def _lingers(scope: Scope, receive: Receive) -> Receive | None:
        has_body = _streamed(scope) or bool(declared_length(scope))
        return receive if has_body and _closes(scope) else None

    async def handle(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        if scope["type"] != "http" or scope.get(ADMITTED) or scope["path"] in self.exempt:
            await app(scope, receive, send)
            return
        scope[ADMITTED] = True
        limit = self.body_limit(scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self._shed(
                send,
                413,
                "Request body too large",
                f"at most {limit} bytes",
                linger=self._lingers(scope, receive),
            )
            return
        budget = self.settings.http_max_body_bytes_in_flight
        reserve = min(budget, declared if declared is not None else (limit if _streamed(scope) else 0))
        if self.in_flight >= self.settings.http_max_in_flight or (
            self.in_flight and self.bytes_in_flight + reserve > budget
        ):
            await self._shed(
                send,
                503,
                "Overloaded",
                "too many requests in flight; retry later",
                self.retry_after,
                linger=self._lingers(scope, receive),
            )
            return
        self.in_flight += 1
        self.bytes_in_flight += reserve
        self._gauge.set(self.in_flight)
        try:
            await self._limited(scope, receive, send, app, limit)
        finally:
            self.in_flight -= 1
            self.bytes_in_flight -= reserve
            self._gauge.set(self.in_flight)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp, limit: int) -> None:
        """The app, with a body cut off at `limit` bytes: whatever the app then answers, the client
        gets a 413 (the app's own, when it answers one)."""
        received = 0
        too_large = False
        body_done = False  # the request's last body message has been read
        linger = self._lingers(scope, receive)
        started = False
        own_413 = False  # the app answered the cut-off body with a 413 of its own: kept

        async def limited_receive() -> Message:
            nonlocal received, too_large, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if not message.get("more_body", False):
                    body_done = True
                if received > limit:
                    too_large = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            # Past the limit, the app's own answer is swallowed (unless it is a 413) and the gate
            # answers once the app has returned. An answer the app completes while the request's body
            # is still coming (its own 413, or any early answer) lingers like the gate's own: closing
            # on unread bytes would reset the connection under the answer.
            nonlocal started, own_413
            if too_large and not own_413:
                if message["type"] == "http.response.start" and not started and message.get("status") == 413:
                    started = own_413 = True
                    await send(message)
                return
            if message["type"] == "http.response.start":
                started = True
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and not body_done
            ):
                await self._finish(send, message, linger)
                return
            await send(message)

        try:
            await app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._shed(send, 413, "Request body too large", f"at most {limit} bytes", linger=linger)


def admission_settings(settings: object) -> AdmissionSettings:
    """The process's settings when they carry the admission fields, else the environment's."""
    return settings if isinstance(settings, AdmissionSettings) else AdmissionSettings()


def install_gate(api: FastAPI, gate: Gate) -> None:
    """Put `gate` outside the whole middleware stack (OpenTelemetry's and the error middleware
    included: a shed request costs neither), which Starlette builds on the first request. A front
    door installed later (`federation.api`) goes outside it and puts itself behind `api.state.gate`."""
    api.state.gate = gate
    build_stack = api.build_middleware_stack

    def build() -> ASGIApp:
        return gate.wrap(build_stack())

    api.build_middleware_stack = build  # type: ignore[method-assign]


Readiness = Callable[[], Awaitable[dict[str, bool]]]


def add_operations(api: FastAPI, service_name: str, readiness: Readiness) -> None:
    """`/healthz`, `/readyz`, `/metrics`, the same in every process (the gateway included).
    `readiness` is kept on `api.state` for the health listener (`services.kit.health`)."""
    api.state.readiness = readiness

    @api.get("/healthz", tags=["operations"], summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service_name}

    @api.get(
        "/readyz",
        tags=["operations"],
        summary="Dependencies reachable",
        response_model=None,
        responses={503: problem_doc("Not ready: the failing checks are named")},
    )
    async def readyz() -> Response:
        checks = await readiness()
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(k for k, ok in checks.items() if not ok)
        return problem_response(503, "Not ready", failing, checks=checks)

    @api.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def instrument(api: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(api, excluded_urls="healthz,readyz,metrics")


def create_app(
    runtime: Runtime,
    routers: Sequence[APIRouter] = (),
    *,
    title: str,
    description: str = "",
    admission: AdmissionSettings | None = None,
    open_routers: Sequence[APIRouter] = (),
    verifier: Verifier | None = None,
) -> FastAPI:
    """A service's HTTP app behind its admission gate; the runtime starts and stops with it.
    `admission`: default the service's settings if they carry the fields, else the environment.

    Every request but to the open paths requires a valid service assertion (`services.kit.identity`:
    the guard answers 401 before routing otherwise), checked against the service's trusted keys
    (`SERVICE_TRUST_KEYS`), its name as the audience and its application's clock (`verifier` replaces
    that check, for a test). Open are only the operations endpoints, the OpenAPI document and its
    pages, and `open_routers`: routes that authenticate their callers otherwise (federation's peer
    protocol, signed by the peer cities). The routes of `routers` also declare the scheme (OpenAPI)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    api = FastAPI(title=title, description=description, version="1", lifespan=lifespan)
    api.state.runtime = runtime
    api.state.identity = verifier or Verifier.for_service(runtime.app.settings, runtime.app.clock)
    install_problem_handlers(api)
    add_operations(api, runtime.service, runtime.readiness)
    open_routes = []
    for router in open_routers:
        before = len(api.router.routes)
        api.include_router(router)
        open_routes += api.router.routes[before:]
    for router in routers:
        api.include_router(router, dependencies=[Depends(authenticated)])
    install_guard(api, OPERATIONS_PATHS, open_routes)  # inside tracing: a refusal has its trace id too
    instrument(api)
    install_gate(api, Gate(admission or admission_settings(runtime.app.settings), runtime.service))
    return api


def observe(settings: ServiceSettings) -> None:
    """Logging and tracing for a process, before anything else logs; a simulation's clock, if set,
    before anything reads the time."""
    setup_logging(settings.service_name, settings.log_level)
    if settings.simulated_clock_file is not None:
        install(SimulatedClock(settings.simulated_clock_file))
        log.warning("the clock is simulated: SIMULATED_CLOCK_FILE=%s", settings.simulated_clock_file)
    setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
    HTTPXClientInstrumentor().instrument()  # calls to other services and peer cities carry the trace


class _WatchedServer(uvicorn.Server):
    """Uvicorn's server with the health listener's heartbeat and readiness tasks on its loop."""

    def __init__(self, config: uvicorn.Config, settings: ServiceSettings, readiness: Readiness) -> None:
        super().__init__(config)
        self.settings, self.readiness = settings, readiness

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        async with watching(self.settings, self.readiness):
            await super().serve(sockets)


async def _watched_without_http(runtime: Runtime, settings: ServiceSettings) -> None:
    async with watching(settings, runtime.readiness):
        await run_without_http(runtime)


def serve(api: FastAPI, settings: ServiceSettings) -> None:
    """Run under uvicorn; SIGTERM/SIGINT run the lifespan shutdown (graceful stop). Without `http` in
    `SERVICE_LOOPS`, run only the service's loops (`services.kit.runtime.run_without_http`). Either
    way the health listener (`services.kit.health`, `HEALTH_PORT`) answers from a thread of its own."""
    if not settings.runs("http"):
        runtime = getattr(api.state, "runtime", None)
        if not isinstance(runtime, Runtime):
            raise SystemExit(f"{settings.service_name}: SERVICE_LOOPS without http leaves nothing to run")
        asyncio.run(_watched_without_http(runtime, settings))
        return
    readiness = getattr(api.state, "readiness", None)
    if readiness is None:
        raise SystemExit(f"{settings.service_name}: the app has no operations endpoints (add_operations)")
    config = uvicorn.Config(
        api, host=settings.http_host, port=settings.http_port, log_config=None, timeout_graceful_shutdown=20
    )
    _WatchedServer(config, settings, readiness).run()
