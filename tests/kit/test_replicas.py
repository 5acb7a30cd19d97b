"""Two replicas of a consuming service, as real processes on one store and one durable consumer: they
share its loops through leases, a standby takes over the inbox when the replica running it is killed -9,
and together they handle every event exactly once (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from services.kit.bus import connect, ensure_streams
from services.kit.settings import ServiceSettings
from tests.conftest import free_port, wait_until
from tests.kit.sample import Feed, TallyApp
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.slow

TTL = "1.5"


def _process(role: str, name: str, nats: NatsServer, store: dict[str, str], tmp_path: Path) -> ServiceProcess:
    env = {
        **store,
        "NATS_URL": nats.url,
        "VAR_DIR": str(tmp_path),
        "SERVICE_NAME": role,
        "HTTP_PORT": str(free_port()),
        "LEASE_TTL_S": TTL,
        "INBOX_ACK_WAIT_S": "2",
        "INBOX_BATCH_SIZE": "20",  # small batches: the kill lands mid-stream
        "LOG_LEVEL": "INFO",
    }
    return ServiceProcess("tests.kit.sample", [role], env, tmp_path / f"{name}.log")


def _store(persistence: dict[str, str], tmp_path: Path, name: str) -> dict[str, str]:
    if persistence.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        return {**persistence, "POSTGRES_SCHEMA": f"{name}_{uuid4().hex[:8]}"}
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / f"{name}.sqlite")}


def _running_here(process: ServiceProcess, lease: str) -> int:
    return len(re.findall(rf"lease {re.escape(lease)}: running here", process.log.read_text()))


def test_a_standby_replica_takes_over_and_every_event_is_handled_once(
    nats_server: NatsServer, persistence: dict[str, str], tmp_path: Path
) -> None:
    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    feed_store, tally_store = _store(persistence, tmp_path, "feed"), _store(persistence, tmp_path, "tally")
    feed = _process("feed", "feed", nats_server, feed_store, tmp_path)
    first = _process("tally", "tally-a", nats_server, tally_store, tmp_path)
    second = _process("tally", "tally-b", nats_server, tally_store, tmp_path)
    feed_app = Feed(ServiceSettings(service_name="feed", var_dir=tmp_path), feed_store)
    tally_app = TallyApp(
        ServiceSettings(service_name="tally", var_dir=tmp_path),
        {**tally_store, "AGGREGATE_CACHE_FASTFORWARD": "y"},
    )
    household: UUID = uuid4()

    def counted() -> Counter[str]:
        return Counter(tally_app.references(household))

    try:
        first.start().wait_ready()
        wait_until(lambda: _running_here(first, "tally.inbox.DEPARTMENT") == 1, message="a leads the inbox")
        second.start().wait_ready()
        feed.start().wait_ready()
        total = 1500
        for start in range(0, total, 100):
            feed_app.report_many([(f"r{i}", household) for i in range(start, start + 100)])
            time.sleep(0.02)
            if start == 500:
                wait_until(lambda: sum(counted().values()) > 0, message="a handles events")
                first.kill()
        wait_until(lambda: sum(counted().values()) >= total, timeout=120, message="every event handled")
        result = counted()
        assert len(result) == total and max(result.values()) == 1
        # the standby took the inbox over, and it never ran on both at once
        assert _running_here(second, "tally.inbox.DEPARTMENT") == 1
        assert second.metric("housing_lease_held") == 1
        # handled by both replicas: the first before it died, the second after
        assert second.metric("housing_inbox_processed_total") < total
    finally:
        for process in (feed, first, second):
            process.stop()
        feed_app.close()
        tally_app.close()
