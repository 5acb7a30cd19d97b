"""The gateway as the city's systems and people meet it: each its own account, a bearer token got with
its client credentials or password (`POST /auth/token`, the demo accounts' derivable secrets) and got
again when it has expired, batches sent as NDJSON and sent again after the `Retry-After` of a 429.

Why a class of its own: the loader, the benchmark and the demo's departments all speak to the front
door the same way, and a token is per account, not per call (a client-credentials grant costs the
gateway an scrypt check, ~50 ms)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.users import demo_password

REGISTRY = "registry.housing-office"
"""The housing office's register: households and the door credentials issued to their members."""

DEPARTMENT_CLIENTS = {
    "civil_affairs": "dept.civil-affairs",
    "real_estate": "dept.real-estate",
    "finance": "dept.finance",
    "tax": "dept.tax",
    "public_security": "dept.public-security",
    "social_insurance": "dept.social-insurance",
    "human_resources": "dept.human-resources",
}
"""Each department's system (infra/gateway/users.yaml's clients)."""

SYSTEMS = frozenset({REGISTRY, *DEPARTMENT_CLIENTS.values()})
"""Accounts that log in with client credentials; every other is an operator's (password grant)."""

ATTEMPTS = 30
"""429s in a row before the loader gives up (each waits the Retry-After the gateway names)."""


class FrontDoor:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client, self.base = client, base_url.rstrip("/")
        self._tokens: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def _token(self, account: str, *, renew: bool = False) -> str:
        async with self._lock:
            if renew or account not in self._tokens:
                secret = demo_password(account)
                form = (
                    {"grant_type": "client_credentials", "client_id": account, "client_secret": secret}
                    if account in SYSTEMS
                    else {"grant_type": "password", "username": account, "password": secret}
                )
                answer = await self.client.post(f"{self.base}/auth/token", data=form)
                if answer.status_code != 200:
                    raise RuntimeError(f"{account} cannot log in to the gateway: {answer.text[:300]}")
                self._tokens[account] = answer.json()["access_token"]
            return self._tokens[account]

    async def post_lines(self, account: str, path: str, lines: list[bytes]) -> httpx.Response:
        """One NDJSON batch to `path` (`/api/...`) as `account`, paced by the gateway's 429s; the answer
        whatever its status below 429 (the caller reads its per-line results and problems)."""
        content = b"\n".join(lines) + b"\n"

        async def send(token: str) -> httpx.Response:
            return await self.client.post(
                f"{self.base}{path}",
                content=content,
                headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {token}"},
                timeout=600.0,
            )

        return await self._paced(account, send)

    async def call(
        self, account: str, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """One call of a route as `account` (an operator's step or read), paced like a batch."""

        async def send(token: str) -> httpx.Response:
            return await self.client.request(
                method,
                f"{self.base}{path}",
                json=json,
                params=params,
                headers={"authorization": f"Bearer {token}"},
            )

        return await self._paced(account, send)

    async def _paced(self, account: str, send: Callable[[str], Awaitable[httpx.Response]]) -> httpx.Response:
        token = await self._token(account)
        for _ in range(ATTEMPTS):
            answer = await send(token)
            if answer.status_code == 401:  # expired (the demo moves its clock): log in again, once
                token = await self._token(account, renew=True)
                answer = await send(token)
            if answer.status_code != 429:
                if answer.status_code >= 500:
                    raise RuntimeError(f"POST {answer.request.url}: {answer.status_code} {answer.text[:500]}")
                return answer
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
        raise RuntimeError(f"{account} was refused {ATTEMPTS} times in a row (429)")
