"""An Eligibility application on SQLite and PostgreSQL (the `persistence` fixture), with a clock the
test sets, and its HTTP API through an in-process ASGI transport (no server, no NATS), called by a
default operator (`OPERATOR`, an intake clerk: a request that sends its own assertion keeps it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.eligibility.application import EligibilityApp
from services.eligibility.service import build
from services.eligibility.settings import EligibilitySettings
from services.kit.clock import ManualClock
from tests.support.identity import OperatorAuth

Clock = ManualClock  # the test's clock, moved by the test (tests import it from here)
OPERATOR = OperatorAuth("clerk.intake", "admin", "eligibility")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


@pytest.fixture
def eligibility(tmp_path: Path, persistence: dict[str, str], clock: Clock) -> Iterator[EligibilityApp]:
    app = EligibilityApp(EligibilitySettings(var_dir=tmp_path), persistence, clock=clock)
    yield app
    app.close()


@pytest.fixture
async def client(eligibility: EligibilityApp, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The service's real HTTP app around the test's application (lifespan not run: no NATS)."""
    api, _ = build(EligibilitySettings(var_dir=tmp_path), app=eligibility)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://eligibility", auth=OPERATOR) as c:
        yield c
