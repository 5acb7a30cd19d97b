"""`services.kit.periodic`: periodic work under a lease. Two runtimes on one nats-server, each with the
same periodic task: only the lease holder ticks; when it stops, the other takes over; a failing tick
does not end the loop. Every step waits for what it needs (a tick, a bid lost) within a generous
deadline, never for a fixed time a slow machine may not get far enough in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.kit.bus import connect, ensure_streams
from services.kit.lease import Lease
from services.kit.periodic import Periodic, PeriodicRuntime
from services.kit.settings import ServiceSettings
from services.kit.store import ServiceApplication
from tests.support.nats import NatsServer
from tests.support.waiting import eventually


class Quiet(ServiceApplication):
    name = "Quiet"


async def test_one_runtime_at_a_time_ticks_and_a_standby_takes_over(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nc = await connect(nats_server.url, "test-setup", identity="admin")
    await ensure_streams(nc.jetstream())
    await nc.close()
    ticks: dict[str, int] = {"a": 0, "b": 0}
    lost: dict[str, int] = {"quiet-a": 0, "quiet-b": 0}  # bids for the sweep's lease lost, by instance
    acquire = Lease.acquire

    async def bid(lease: Lease) -> bool:
        won = await acquire(lease)
        if not won and lease.key == "quiet.sweep":
            lost[lease.holder.decode()] += 1
        return won

    monkeypatch.setattr(Lease, "acquire", bid)

    def runtime(name: str) -> PeriodicRuntime:
        settings = ServiceSettings(
            service_name="quiet",
            nats_url=nats_server.url,
            var_dir=tmp_path / name,
            instance_id=f"quiet-{name}",
            lease_ttl_s=1.0,
        )
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "store.sqlite")}

        async def tick(stop: asyncio.Event) -> None:
            ticks[name] += 1
            if ticks[name] == 2:
                raise RuntimeError("a failing tick is logged, and the next one comes")

        return PeriodicRuntime(Quiet(settings, env), periodic=[Periodic("sweep", 0.05, tick)])

    first, second = runtime("a"), runtime("b")
    await first.start()
    await eventually(lambda: ticks["a"] >= 1, "`a` ticks (it holds the lease)")
    await second.start()
    # `b` bids and loses while `a` ticks on, past its failing second tick
    await eventually(lambda: lost["quiet-b"] >= 2 and ticks["a"] > 3, "`b` losing two bids, `a` ticking")
    assert ticks["b"] == 0
    assert all(not task.done() for task in first._tasks)
    await first.stop()
    try:  # `a` released its lease on the way out: `b` takes it at its next bid
        await eventually(lambda: ticks["b"] > 2, "`b` taking the lease over and ticking past a failure")
    finally:
        await second.stop()
    assert ticks["b"] > 2
