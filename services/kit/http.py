"""The FastAPI app every service starts from: health, readiness, metrics, problem+json, tracing.

Operators and the gateway must get the same shape of error from every service (RFC 9457
problem+json), and an SRE the same three endpoints: `/healthz` (the process answers), `/readyz`
(store and NATS reachable, loops alive) and `/metrics` (Prometheus text).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BeforeValidator
from starlette.exceptions import HTTPException
from starlette.routing import Match

from services.kit.logs import setup_logging
from services.kit.runtime import Runtime
from services.kit.settings import ServiceSettings
from services.kit.tracing import setup_tracing, trace_id_of

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error an API user can act on, rendered as RFC 9457 problem+json."""

    def __init__(self, status: int, title: str, detail: str = "", type_: str = "about:blank", **extra: Any):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type, self.extra = status, title, detail, type_, extra


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


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    trace_id = trace_id_of()
    if trace_id:
        body["trace_id"] = trace_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(api: FastAPI) -> None:
    @api.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.type, **exc.extra)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem_response(
            422, "Invalid request", "the request does not match the schema", errors=errors
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
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, now referenced by nothing
            others = [document.get("paths"), {k: v for k, v in schemas.items() if k != unused}]
            if unused in schemas and f'"#/components/schemas/{unused}"' not in json.dumps(others):
                del schemas[unused]
        api.openapi_schema = document
        return document

    api.openapi = openapi  # type: ignore[method-assign]


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_day)]
"""A day in a request (body, query): only `YYYY-MM-DD`, as the OpenAPI `format: date` says. Plain `date`
also takes `0` or `"0"` (the Unix epoch) and `"2026-01-01T00:00:00"`, which no client means as a day."""


Readiness = Callable[[], Awaitable[dict[str, bool]]]


def add_operations(api: FastAPI, service_name: str, readiness: Readiness) -> None:
    """`/healthz`, `/readyz`, `/metrics`, the same in every process (the gateway included)."""

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
    runtime: Runtime, routers: Sequence[APIRouter] = (), *, title: str, description: str = ""
) -> FastAPI:
    """A service's HTTP app; the runtime starts and stops with it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    api = FastAPI(title=title, description=description, version="1", lifespan=lifespan)
    api.state.runtime = runtime
    install_problem_handlers(api)
    add_operations(api, runtime.service, runtime.readiness)
    for router in routers:
        api.include_router(router)
    instrument(api)
    return api


def observe(settings: ServiceSettings) -> None:
    """Logging and tracing for a process, before anything else logs."""
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
    HTTPXClientInstrumentor().instrument()  # calls to other services and peer cities carry the trace


def serve(api: FastAPI, settings: ServiceSettings) -> None:
    """Run under uvicorn; SIGTERM/SIGINT run the lifespan shutdown (graceful stop)."""
    uvicorn.run(
        api, host=settings.http_host, port=settings.http_port, log_config=None, timeout_graceful_shutdown=20
    )
