"""The platform's state as the gateway sees it: which services answer and are ready.

Operators and the console need one place that says "eligibility is down" before they wonder why a
review queue is empty; the gateway asks each service's `/readyz` concurrently, with a short timeout,
so a hung service costs one timeout, not one per service.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from pydantic import BaseModel


class ServiceStatus(BaseModel):
    name: str
    url: str
    state: Literal["ready", "not_ready", "down"]
    checks: dict[str, bool] = {}
    detail: str = ""


async def probe(client: httpx.AsyncClient, name: str, url: str) -> ServiceStatus:
    try:
        response = await client.get(f"{url}/readyz")
    except httpx.HTTPError as exc:
        return ServiceStatus(name=name, url=url, state="down", detail=type(exc).__name__)
    body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
    checks = body.get("checks", {}) if isinstance(body, dict) else {}
    state: Literal["ready", "not_ready"] = "ready" if response.status_code == 200 else "not_ready"
    return ServiceStatus(name=name, url=url, state=state, checks=checks, detail=str(body.get("detail", "")))


async def platform_status(client: httpx.AsyncClient, services: dict[str, str]) -> list[ServiceStatus]:
    return list(await asyncio.gather(*(probe(client, name, url) for name, url in sorted(services.items()))))
