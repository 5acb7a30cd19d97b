"""A Resettlement application on SQLite and PostgreSQL (the `persistence` fixture) with a clock the test
sets, and its HTTP API through an in-process ASGI transport (lifespan not run: no NATS), called by a
default operator (`OPERATOR`, a case worker: a request that sends its own assertion keeps it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from services.resettlement.application import ResettlementApp
from services.resettlement.service import build
from tests.resettlement.support import Clock, settings
from tests.resettlement.support import clock as make_clock
from tests.support.identity import OperatorAuth

OPERATOR = OperatorAuth("officer-chen", "reviewer", "resettlement")


@pytest.fixture
def clock() -> Clock:
    return make_clock()


@pytest.fixture
def resettlement(tmp_path: Path, persistence: dict[str, str], clock: Clock) -> Iterator[ResettlementApp]:
    app = ResettlementApp(settings(tmp_path), persistence, clock=clock)
    yield app
    app.close()


@pytest.fixture
async def client(resettlement: ResettlementApp, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    api, _ = build(settings(tmp_path), app=resettlement)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://resettlement", auth=OPERATOR) as c:
        yield c
