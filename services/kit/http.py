"""The FastAPI app every service starts from: health, readiness, metrics, problem+json, tracing.

Operators and the gateway must get the same shape of error from every service (RFC 9457
problem+json), and an SRE the same three endpoints: `/healthz` (the process answers), `/readyz`
(store and NATS reachable, loops alive) and `/metrics` (Prometheus text).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

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


def problem_response(
    status: int, title: str, detail: str = "", type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    trace_id = trace_id_of()
    if trace_id:
        body["trace_id"] = trace_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


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
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail))

    @api.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal error", "the error was logged with this trace id")


Readiness = Callable[[], Awaitable[dict[str, bool]]]


def add_operations(api: FastAPI, service_name: str, readiness: Readiness) -> None:
    """`/healthz`, `/readyz`, `/metrics`, the same in every process (the gateway included)."""

    @api.get("/healthz", tags=["operations"], summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service_name}

    @api.get("/readyz", tags=["operations"], summary="Dependencies reachable", response_model=None)
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
