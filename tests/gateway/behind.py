"""The gateway in front of the real eligibility app (in process, SQLite, no bus), on one manual clock
that the gateway's issuer and eligibility share: tokens, assertions and the service's dates move
together when a test moves it (no sleeps, no wall clock).

Fixtures for the test modules that need it (`clock, tokens, real = behind.clock, behind.tokens, behind.real`):
`clock` and `tokens` replace the gateway conftest's, `real` is the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.settings import GatewaySettings
from gateway.tokens import Tokens
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
from services.kit.clock import ManualClock, now
from tests.gateway.conftest import GatewayFactory


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(now().replace(microsecond=0))


@pytest.fixture
def tokens(settings: GatewaySettings, clock: ManualClock) -> Tokens:
    """The gateway's issuer on the test's clock, so its tokens and assertions move with eligibility's."""
    return Tokens(settings, Ed25519PrivateKey.generate(), clock=clock)


@pytest.fixture
async def real(
    tmp_path: Path, gateway: GatewayFactory, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    eligibility = EligibilityApp(
        EligibilitySettings(var_dir=tmp_path),
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "eligibility.sqlite")},
        clock=clock,
    )
    api, _ = build_eligibility(EligibilitySettings(var_dir=tmp_path), app=eligibility)
    mounts: dict[str, httpx.AsyncBaseTransport] = {"http://eligibility": httpx.ASGITransport(app=api)}
    try:
        async with gateway(mounts=mounts, services={"eligibility": "http://eligibility"}) as client:
            yield client
    finally:
        eligibility.close()
