"""A gateway in process with its own issuer key, test accounts, and (for the matrix) fake services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.api import create_gateway
from gateway.settings import GatewaySettings
from gateway.tokens import Tokens
from gateway.users import Account, Directory, hash_password
from tests.gateway.fakes import IN_ESTATE, SERVICES, Fakes

PASSWORD = "correct horse battery staple"

ACCOUNTS = {
    "reviewer": Account("reviewer.he", "reviewer", ""),
    "reviewer_scoped": Account("reviewer.li", "reviewer", "", estates=frozenset({IN_ESTATE})),
    "supervisor": Account("supervisor.chen", "supervisor", ""),
    "supervisor2": Account("supervisor.wang", "supervisor", ""),
    "inspector": Account("inspector.zhao", "inspector", ""),
    "auditor": Account("auditor.sun", "auditor", ""),
    "admin": Account("admin.qian", "admin", ""),
    "assessor": Account("assessor.zhao", "assessor", ""),
    "department": Account("dept.civil-affairs", "department", "", department="civil_affairs"),
    "registry": Account("registry.housing-office", "registry", ""),
    "registry_scoped": Account("registry.chancheng", "registry", "", estates=frozenset({IN_ESTATE})),
}


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def directory(password_hash: str) -> Directory:
    accounts = [
        Account(a.id, a.role, password_hash, estates=a.estates, department=a.department)
        for a in ACCOUNTS.values()
    ]
    return Directory(accounts, allow_demo=False)


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        var_dir=tmp_path,
        services={name: f"http://{name}" for name in SERVICES},
        upstream_timeout_s=30.0,  # generous: a loaded machine is slow, not down (test_limits sets its own)
        rate_limit_per_s=1000,
        rate_limit_burst=1000,
        login_rate_per_min=1000,
    )


@pytest.fixture
def tokens(settings: GatewaySettings) -> Tokens:
    return Tokens(settings, Ed25519PrivateKey.generate())


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


GatewayFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def gateway(settings: GatewaySettings, tokens: Tokens, directory: Directory, fakes: Fakes) -> GatewayFactory:
    """`async with gateway(**settings overrides) as client`: the gateway app before the fake services."""

    @asynccontextmanager
    async def start(
        mounts: dict[str, httpx.AsyncBaseTransport] | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        configured = settings.model_copy(update=overrides)
        api = create_gateway(configured, tokens=tokens, directory=directory, mounts=mounts or fakes.mounts())
        async with (
            api.router.lifespan_context(api),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://gateway") as client,
        ):
            yield client

    return start


def bearer(tokens: Tokens, who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens.issue(ACCOUNTS[who])['access_token']}"}
