"""`services.kit.periodic`: periodic work under a lease. Two runtimes on one nats-server, each with the
same periodic task: only the lease holder ticks; when it stops, the other takes over; a failing tick
does not end the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.kit.bus import connect, ensure_streams
from services.kit.periodic import Periodic, PeriodicRuntime
from services.kit.settings import ServiceSettings
from services.kit.store import ServiceApplication
from tests.support.nats import NatsServer


class Quiet(ServiceApplication):
    name = "Quiet"


async def test_one_runtime_at_a_time_ticks_and_a_standby_takes_over(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test-setup")
    await ensure_streams(nc.jetstream())
    await nc.close()
    ticks: dict[str, int] = {"a": 0, "b": 0}

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
    await asyncio.sleep(0.3)  # `a` holds the lease
    await second.start()
    await asyncio.sleep(1.0)
    assert ticks["a"] > 3 and ticks["b"] == 0
    assert all(not task.done() for task in first._tasks)
    await first.stop()
    for _ in range(100):  # `a` released its lease on the way out: `b` takes it at its next bid
        if ticks["b"] > 2:
            break
        await asyncio.sleep(0.05)
    await second.stop()
    assert ticks["b"] > 2
