"""The gateway's HTTP app: platform status for operators and the console's landing page.

Routing of operator requests to services arrives with authentication and roles (the gateway issue):
until a request can be attributed to a person, the gateway forwards nothing.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from gateway.settings import GatewaySettings
from gateway.status import ServiceStatus, platform_status
from services.kit.http import add_operations, install_problem_handlers, instrument


def create_gateway(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        client = httpx.AsyncClient(timeout=settings.upstream_timeout_s)
        api.state.client = client
        try:
            yield
        finally:
            await client.aclose()

    api = FastAPI(title="Housing exit platform: gateway", version="1", lifespan=lifespan)
    install_problem_handlers(api)

    async def readiness() -> dict[str, bool]:
        return {"http_client": hasattr(api.state, "client")}

    add_operations(api, settings.service_name, readiness)

    @api.get("/api/status", tags=["platform"], summary="Readiness of every service")
    async def status(request: Request) -> list[ServiceStatus]:
        return await platform_status(request.app.state.client, settings.services)

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def console(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{html.escape(s.name)}</td><td class='{s.state}'>{s.state}</td>"
            f"<td><a href='{html.escape(s.url)}/docs'>{html.escape(s.url)}/docs</a></td>"
            f"<td>{html.escape(s.detail)}</td></tr>"
            for s in await platform_status(request.app.state.client, settings.services)
        )
        return HTMLResponse(CONSOLE.replace("{rows}", rows))

    instrument(api)
    return api


CONSOLE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>保障房退出管理平台 · Housing exit platform</title>
<style>
body{font-family:system-ui,"WenQuanYi Micro Hei",sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}td,th{padding:.4rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.ready{color:#176f2c}.not_ready{color:#a86b00}.down{color:#b00020}
</style></head><body>
<h1>保障房退出管理平台 <small>Housing exit platform</small></h1>
<p>Services of this stack and their readiness. API: <a href="/docs">/docs</a> ·
status as JSON: <a href="/api/status">/api/status</a></p>
<table><tr><th>service</th><th>state</th><th>API</th><th>detail</th></tr>{rows}</table>
</body></html>
"""
