"""`python -m services.eligibility` as `make run` starts it: ready, takes a household and facts, stops
cleanly, and its stored events name `services.eligibility.*` topics (never `__main__`)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from services.kit.bus import connect, ensure_streams
from tests.conftest import free_port
from tests.support.dates import yesterday
from tests.support.identity import as_operator
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess


def test_the_service_runs_as_a_process(nats_server: NatsServer, tmp_path: Path) -> None:
    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    store = tmp_path / "eligibility.sqlite"
    service = ServiceProcess(
        "services.eligibility",
        [],
        {
            "NATS_URL": nats_server.url,
            "HTTP_PORT": str(free_port()),
            "VAR_DIR": str(tmp_path),
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(store),
        },
        tmp_path / "eligibility.log",
    )
    service.start().wait_ready()
    try:
        base = f"http://127.0.0.1:{service.port}"
        clerk = as_operator("clerk.intake", "admin", "eligibility")
        civil_affairs = as_operator("dept.mz", "department", "eligibility", department="civil_affairs")
        body = {
            "region": "CN-FS",
            "estate": "Chancheng Garden",
            "building": "3",
            "unit": "1204",
            "base_rent": "680.00",
            "tenancy_start": "2019-05-01",
            "members": [{"id_number": "440604198507151234", "birth_date": "1985-07-15", "disabled": False}],
        }
        registered = httpx.post(f"{base}/households", json=body, headers=clerk, timeout=10)
        household = registered.json()["household_id"]
        fact = {
            "department": "civil_affairs",
            "reference": "MZ-1",
            "described_on": yesterday(),  # by the machine's clock, which the process runs on
            "household_id": household,
            "fact": {"kind": "income", "monthly_income": "4200.00"},
        }
        answer = httpx.post(f"{base}/facts", json=[fact], headers=civil_affairs, timeout=10).json()
        assert answer["recorded"] == 1
        read = httpx.get(f"{base}/households/{household}", headers=clerk, timeout=10)
        assert read.json()["open_case"] is not None
        # the search by a member's number: in the body, so the access log below never sees it
        search = {"id_number": "440604198507151234"}
        found = httpx.post(f"{base}/households/search", json=search, headers=clerk, timeout=10).json()
        assert [h["household_id"] for h in found["items"]] == [household]
    finally:
        assert service.stop() in (0, -15), service.tail()  # uvicorn re-raises SIGTERM after a clean stop
    assert "440604198507151234" not in service.log.read_text()
    with sqlite3.connect(store) as db:
        topics = {row[0] for row in db.execute("SELECT topic FROM stored_events")}
    assert topics and all(t.startswith("services.eligibility.domain:") for t in topics)
