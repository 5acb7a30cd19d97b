"""The gateway's HTTP API under schemathesis: its own routes (token issuer, JWKS, status, operations)
and the operator API in front of the real services in process (each on a fresh store, reached through
httpx transports; their lifespans are not run: the gateway's routes need none of their loops), with an
administrator's bearer token on positive cases (negative cases go as generated, token or not)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schemathesis.specs.openapi.checks import allow_header_conformance

from gateway.api import create_gateway
from gateway.settings import GatewaySettings
from gateway.tokens import Tokens
from gateway.users import Account, Directory, hash_password
from tests.fuzz.conftest import SERVICES, Narrowed, call, served

ADMIN = Account("admin.fuzz", "admin", "")
TOKEN: dict[str, str] = {}
SEARCH_PATH = (
    "`/api/households/search` also matches the path of `GET /api/households/{household_id}` (no `uuid` "
    "convertor in its path, as eligibility's has), so a 405 there names GET in `Allow` beside POST "
    "(a GET answers 422: not a household id)"
)
NARROWED: Narrowed = {"POST /api/households/search": ([allow_header_conformance], SEARCH_PATH)}
"""Otherwise nothing left out: the token endpoint answers a malformed request with a 400 problem (RFC
6749 §5.2; tests/gateway/test_token_requests.py), and the gateway declares its parameters at least as
strictly as the services behind it (tests/gateway/test_declarations.py)."""


@pytest.fixture
def gateway_api(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    settings = GatewaySettings(
        var_dir=tmp_path,
        services={name: f"http://{name}" for name in SERVICES},
        upstream_timeout_s=5.0,
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
        login_rate_per_min=10_000,
    )
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        f"http://{name}": httpx.ASGITransport(app=make(tmp_path / name, "nats://127.0.0.1:1"))
        for name, make in SERVICES.items()
    }
    tokens = Tokens(settings, Ed25519PrivateKey.generate())
    directory = Directory(
        [Account(ADMIN.id, ADMIN.role, hash_password("fuzz-password-0123"))], allow_demo=False
    )
    TOKEN["authorization"] = f"Bearer {tokens.issue(ADMIN)['access_token']}"
    api = create_gateway(settings, tokens=tokens, directory=directory, mounts=mounts)
    with served(api) as schema:
        yield schema


schema = schemathesis.pytest.from_fixture("gateway_api")


@schema.parametrize()
def test_gateway_api(case: Any) -> None:
    call(case, acting=TOKEN, narrowed=NARROWED)
