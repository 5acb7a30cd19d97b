"""Calls from the gateway to the services: one httpx client, a timeout per call, the caller's identity
as a service assertion minted for that call and that service alone (`services.kit.identity`: an
Ed25519 JWT, `aud` the service's name, `sub`/`role`/`estates`/`department` from the operator's
principal, a minute; set here and only here: nothing a client sent is forwarded), the W3C trace
context, and failures turned into problem+json an operator can act on:

- the service cannot be reached → 502 "Service unavailable" (naming the service);
- the service does not answer within the deadline (UPSTREAM_TIMEOUT_S, whole call) → 504 "Service timeout";
- the service fails (5xx) → 502 "Service error";
- the service refuses the gateway's assertion (401: a key the service does not pin, clocks out of
  step) → 502 "Service refused the gateway's identity", with the service's reason: the operator's own
  token was fine, so this is the platform's fault, not theirs;
- the service refuses (other 4xx) → the same status and the service's own title and detail (and its
  problem type when it is one of the platform's own `/problems/...`), with the members naming what
  is wrong (`PASSED_ON`: each field's or line's reason).

Calls without an operator (the status page's `/readyz` probes) carry no assertion: those endpoints
are open at every service.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from gateway.roles import Principal
from services.kit.http import Problem
from services.kit.identity import Minter
from services.kit.tracing import inject

log = logging.getLogger(__name__)

PASSED_ON = (
    "errors",
    "problems",
    "lines",
    "received",
    "recorded",
    "registered",
    "duplicates",
    "parked",
    "unmatched",
    "rejected",
    "results",
)
"""Members of a service's 4xx problem the gateway passes on beside its title and detail: which field
(`errors`) or which lines (`problems`, `lines`) are wrong and why, and a refused batch's counts in the
shape of a batch's answer (an answer that says only "every line was rejected" cannot be acted on)."""


class Upstream:
    def __init__(
        self, client: httpx.AsyncClient, services: dict[str, str], timeout_s: float, minter: Minter
    ) -> None:
        """`services`: name → base URL; the name is the audience of the assertions sent there (the
        service's `SERVICE_NAME`)."""
        self.client, self.services, self.timeout_s, self.minter = client, services, timeout_s, minter

    def url(self, service: str, path: str) -> str:
        base = self.services.get(service)
        if base is None:
            raise Problem(
                502, "Service unavailable", f"{service} is not deployed in this stack", service=service
            )
        return base.rstrip("/") + path

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        principal: Principal | None = None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """`timeout_s`: this call's deadline, when not UPSTREAM_TIMEOUT_S (a batch of thousands of
        lines takes the service seconds, a single read must not)."""
        headers: dict[str, str] = {"accept": "application/json"}
        if principal is not None:
            headers |= self.minter.headers(
                service, principal.subject, principal.role, principal.estates, principal.department
            )
        if content_type:
            headers["content-type"] = content_type
        inject(headers)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.url(service, path)
        deadline = timeout_s or self.timeout_s
        try:
            # httpx's timeout bounds each phase (connect, each read); the deadline bounds the whole call,
            # so a service that trickles its answer cannot hold an operator longer than timeout_s
            async with asyncio.timeout(deadline):
                return await self.client.request(
                    method,
                    url,
                    params=clean,
                    json=json,
                    content=content,
                    headers=headers,
                    timeout=deadline,
                )
        except (httpx.TimeoutException, TimeoutError):
            raise Problem(
                504, "Service timeout", f"{service} did not answer within {deadline} s", service=service
            ) from None
        except httpx.HTTPError as exc:
            raise Problem(
                502,
                "Service unavailable",
                f"{service} cannot be reached ({type(exc).__name__})",
                service=service,
            ) from None

    async def json(
        self,
        service: str,
        method: str,
        path: str,
        principal: Principal | None = None,
        **kw: Any,
    ) -> Any:
        """The decoded answer of a successful call; a problem otherwise (see the module's docstring)."""
        _, body = await self.call(service, method, path, principal, **kw)
        return body

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        principal: Principal | None = None,
        **kw: Any,
    ) -> tuple[int, Any]:
        """The status and decoded answer of a successful call (a command's 200 or 201 passed on)."""
        response = await self.send(service, method, path, principal, **kw)
        if response.status_code >= 500:
            raise Problem(502, "Service error", f"{service} failed ({response.status_code})", service=service)
        try:
            body = response.json()
        except ValueError:
            body = None
        detail = body.get("detail") if isinstance(body, dict) else None
        if response.status_code == 401:
            log.error("%s refused the gateway's assertion: %s", service, detail)
            raise Problem(
                502,
                "Service refused the gateway's identity",
                f"{service}: {detail or 'no reason given'}",
                service=service,
            )
        if response.status_code >= 400:
            title = body.get("title") if isinstance(body, dict) else None
            kind = body.get("type") if isinstance(body, dict) else None
            said = {k: body[k] for k in PASSED_ON if k in body} if isinstance(body, dict) else {}
            raise Problem(
                response.status_code,
                str(title or response.reason_phrase or "Refused"),
                str(detail or ""),
                type_=kind if isinstance(kind, str) and kind.startswith("/problems/") else "about:blank",
                service=service,
                **said,
            )
        if body is None:
            raise Problem(
                502, "Service error", f"{service} answered something that is not JSON", service=service
            )
        return response.status_code, body
