"""The gateway's HTTP app: the token issuer, the operator API, the web console and the platform status.

Layers, outermost first: `security.Guard` (rate limit, body limit, security headers), FastAPI's
problem+json handlers, then the routes: `/auth/token` and `/.well-known/jwks.json` (auth.py), `/api/...`
(routes.py, bearer tokens only), the console (console.py, session cookie + CSRF), and the public
status: `/api/status` and `/` show only which services answer (no data about anyone), so an operator
can see "eligibility is down" before logging in; they stay public, under the rate limit.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway.auth import Unauthorized, token_router, unauthorized_response
from gateway.console import Console, console_router
from gateway.department_requests import DepartmentRequests
from gateway.idempotency import Replies
from gateway.intake import Intake, LineLimits
from gateway.operations import Operations
from gateway.routes import api_router
from gateway.security import Guard
from gateway.settings import GatewaySettings
from gateway.status import ServiceStatus, platform_status
from gateway.tokens import Tokens
from gateway.upstream import Upstream
from gateway.users import Directory
from services.kit.clock import Clock
from services.kit.http import add_operations, install_problem_handlers, instrument
from services.kit.identity import Minter, ensure_key_pair, public_path_of

STATIC = Path(__file__).with_name("static")
log = logging.getLogger(__name__)


def create_gateway(
    settings: GatewaySettings,
    *,
    tokens: Tokens | None = None,
    directory: Directory | None = None,
    mounts: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The gateway app; `mounts` (httpx transports by URL prefix) lets tests put in-process services
    behind it."""
    tokens = tokens or Tokens(settings)
    directory = directory or Directory.load(settings.users_file, allow_demo=settings.allow_demo_users)
    minter = assertion_minter(settings, tokens.clock)
    lines = LineLimits(settings, time.monotonic)  # outlives a lifespan: the budgets are the process's

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        client = httpx.AsyncClient(timeout=settings.upstream_timeout_s, trust_env=False, mounts=mounts)
        api.state.client = client
        upstream = Upstream(client, settings.services, settings.upstream_timeout_s, minter)
        api.state.operations = Operations(upstream)
        api.state.intake = Intake(api.state.operations, lines, settings.bulk_timeout_s)
        api.state.department_requests = DepartmentRequests(api.state.operations, api.state.intake)
        api.state.replies = Replies(settings.idempotency_path, tokens.clock, settings.idempotency_ttl_s)
        try:
            yield
        finally:
            await client.aclose()
            api.state.replies.close()

    api = FastAPI(
        title="Housing exit platform: gateway",
        version="1",
        description=(
            "The operators' API. Get a token at `POST /auth/token` (password grant for operators, "
            "client credentials for department systems) and send it as `Authorization: Bearer`. "
            "Every error is problem+json; roles and scopes: gateway/README.md."
        ),
        lifespan=lifespan,
    )
    api.state.tokens = tokens
    api.state.directory = directory
    install_problem_handlers(api)

    @api.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return unauthorized_response(exc)

    async def readiness() -> dict[str, bool]:
        return {"http_client": hasattr(api.state, "client")}

    add_operations(api, settings.service_name, readiness)
    api.include_router(token_router())

    @api.get("/api/status", tags=["platform"], summary="Readiness of every service (public)")
    async def status(request: Request) -> list[ServiceStatus]:
        return await platform_status(request.app.state.client, settings.services)

    api.include_router(api_router())
    api.include_router(console_router(Console(settings, tokens, directory)))
    api.mount("/static", StaticFiles(directory=STATIC), name="static")

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def landing(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{html.escape(s.name)}</td><td class='{s.state}'>{s.state}</td>"
            f"<td><a href='{html.escape(s.url)}/docs'>{html.escape(s.url)}/docs</a></td>"
            f"<td>{html.escape(s.detail)}</td></tr>"
            for s in await platform_status(request.app.state.client, settings.services)
        )
        return HTMLResponse(LANDING.replace("{rows}", rows))

    instrument(api)
    api.add_middleware(Guard, settings=settings)
    return api


def assertion_minter(settings: GatewaySettings, clock: Clock) -> Minter:
    """What signs the gateway's calls to the services: `ASSERTION_KEY_FILE`, made here (with a warning)
    when the launcher or the deployment has not made it before the services started. Dated by the
    gateway's clock, the one its own tokens follow."""
    key, created = ensure_key_pair(settings.assertion_key)
    if created:
        log.warning(
            "created a new service-assertion key %s: services must pin %s or they refuse the gateway",
            settings.assertion_key,
            public_path_of(settings.assertion_key),
        )
    return Minter(key, issuer=settings.assertion_issuer, ttl_s=settings.assertion_ttl_s, clock=clock)


LANDING = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>保障房退出管理平台 · Housing exit platform</title>
<link rel="stylesheet" href="/static/console.css"></head><body><main>
<h1>保障房退出管理平台 <small>Housing exit platform</small></h1>
<p><a href="/login">登录控制台 · Log in to the console</a> · API: <a href="/docs">/docs</a> ·
status as JSON: <a href="/api/status">/api/status</a></p>
<h2>服务状态 · Service status</h2>
<table class="grid"><tr><th>service</th><th>state</th><th>API</th><th>detail</th></tr>{rows}</table>
</main></body></html>
"""
