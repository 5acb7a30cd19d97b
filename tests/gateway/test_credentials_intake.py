"""Door credentials through the gateway (`POST /api/credentials`) before the real monitoring app (in
process, SQLite): the housing office's register enrols a batch for members monitoring knows, answered
per line as monitoring answers; sent again nothing changes; a client without `credentials:write` is
refused before anything is sent; the lines count against the client's budget."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from gateway.tokens import Tokens
from services.kit.uow import UnitOfWork
from services.monitoring.application import MonitoringApp
from services.monitoring.service import build as build_monitoring
from services.monitoring.settings import MonitoringSettings
from tests.gateway.conftest import GatewayFactory, bearer
from tests.monitoring.test_warnings import registration


class City:
    def __init__(self, client: httpx.AsyncClient, app: MonitoringApp) -> None:
        self.client, self.app = client, app
        self.household, self.member = uuid4(), uuid4()
        uow = UnitOfWork(app)
        app.on_household_registered(uow, registration(self.household, [self.member]))
        uow.commit(None)


@pytest.fixture
async def city(gateway: GatewayFactory, tmp_path: Path) -> AsyncIterator[City]:
    settings = MonitoringSettings(var_dir=tmp_path)
    api, runtime = build_monitoring(
        settings, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "m.sqlite")}
    )
    assert isinstance(runtime.app, MonitoringApp)
    mounts: dict[str, httpx.AsyncBaseTransport] = {"http://monitoring": httpx.ASGITransport(app=api)}
    try:
        services = {"monitoring": "http://monitoring"}
        # 100 lines at once, then a line per 100 s: the third test spends the burst, nothing else does
        async with gateway(mounts=mounts, services=services, line_rate_per_s=0.01, line_rate_burst=100) as c:
            yield City(c, runtime.app)
    finally:
        runtime.app.close()


async def test_the_register_enrols_a_batch_answered_per_line_and_a_resend_changes_nothing(
    city: City, tokens: Tokens
) -> None:
    member = str(city.member)
    lines = [
        {"kind": "card", "credential_id": "C-1", "member_id": member},
        {"kind": "face", "credential_id": "F-1", "member_id": member},
        {"kind": "card", "credential_id": "C-2", "member_id": str(uuid4())},  # nobody's member
    ]
    ndjson = "".join(json.dumps(line) + "\n" for line in lines)
    headers = {**bearer(tokens, "registry"), "content-type": "application/x-ndjson"}
    first = await city.client.post("/api/credentials", content=ndjson, headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["enrolled"], first.json()["unchanged"]) == (2, 0)
    assert [(p["line"], p["status"]) for p in first.json()["problems"]] == [(3, 404)]
    assert city.app.register.household_of_credential(city.app.hasher.key("card", "C-1")) == city.household

    again = await city.client.post("/api/credentials", json=lines[:2], headers=bearer(tokens, "registry"))
    assert (again.json()["enrolled"], again.json()["unchanged"]) == (0, 2)


async def test_a_department_may_not_enrol_credentials_and_nothing_is_sent(city: City, tokens: Tokens) -> None:
    line = {"kind": "card", "credential_id": "C-9", "member_id": str(city.member)}
    refused = await city.client.post("/api/credentials", json=[line], headers=bearer(tokens, "department"))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert city.app.register.household_of_credential(city.app.hasher.key("card", "C-9")) is None


async def test_credentials_are_paced_by_lines_with_retry_after(city: City, tokens: Tokens) -> None:
    member = str(city.member)
    batch = [{"kind": "card", "credential_id": f"C-{i}", "member_id": member} for i in range(101)]
    taken = await city.client.post("/api/credentials", json=batch, headers=bearer(tokens, "registry"))
    assert taken.status_code == 200
    paced = await city.client.post("/api/credentials", json=batch[:1], headers=bearer(tokens, "registry"))
    assert paced.status_code == 429 and int(paced.headers["retry-after"]) >= 1
