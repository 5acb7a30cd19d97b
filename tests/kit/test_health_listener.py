"""The health listener (`services/kit/health.py`): `/healthz` and `/readyz` on `HEALTH_PORT`, answered by
a thread from what the event loop last showed, so that they answer while the loop is blocked and tell
the truth about it.

Pass: a real `python -m services.eligibility` whose event loop is blocked once for 8 s
(`HOUSING_FAILPOINTS=kit.event-loop~8@12`, the heartbeat's 12th beat) answers on its health port 200,
then 503 "event loop stalled" and 503 "readiness snapshot stale" while blocked, then 200 on both again;
the main port's `/healthz` still answers afterwards. Statuses are asserted, not timings. The port rule
(`HTTP_PORT + 1000`, `0` off) keeps every process of the local stack on ports of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from infra.stack import parse_procfile
from services.kit.health import Watchdog, health_port, start_listener
from services.kit.settings import ServiceSettings
from tests.support.nats import NatsServer, free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.timeout(300)

STALL_S = 8
THRESHOLD_S = 1


def get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
    except httpx.HTTPError:
        return None


def until(port: int, path: str, status: int, deadline_s: float = 120.0) -> httpx.Response:
    """Poll `path` every 0.05 s until it answers `status` (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        response = get(port, path)
        if response is not None and response.status_code == status:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{path} on {port} never answered {status}")


def test_the_health_port_tells_a_stalled_event_loop_and_its_recovery(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    http, health = free_port(), free_port()
    process = ServiceProcess(
        "services.eligibility",
        [],
        {
            "NATS_URL": nats_server.url,
            "HTTP_PORT": str(http),
            "HEALTH_PORT": str(health),
            "HEALTH_STALL_S": str(THRESHOLD_S),
            "VAR_DIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "eligibility.sqlite"),
        },
        tmp_path / "eligibility.log",
    )
    # The 12th heartbeat (~3 s after the loop starts) blocks the loop for 8 s, once.
    process.start({"HOUSING_FAILPOINTS": f"kit.event-loop~{STALL_S}@12"})
    try:
        alive = until(health, "/healthz", 200)
        assert alive.json()["service"] == "eligibility"

        stalled = until(health, "/healthz", 503)
        assert stalled.headers["content-type"] == "application/problem+json"
        assert "event loop stalled" in stalled.json()["detail"], stalled.json()
        stale = until(health, "/readyz", 503)
        assert "stale" in stale.json()["detail"] or "not computed" in stale.json()["detail"], stale.json()
        metrics = get(health, "/metrics")
        assert metrics is not None and metrics.status_code == 200
        assert 'housing_event_loop_heartbeat_age_seconds{service="eligibility"}' in metrics.text

        assert until(health, "/healthz", 200).json()["status"] == "ok"
        ready = until(health, "/readyz", 200).json()
        assert ready["checks"] == {"store": True, "nats": True, "loops": True}
        main = get(http, "/healthz")
        assert main is not None and main.status_code == 200
        assert process.process is not None and process.process.poll() is None
    finally:
        process.stop()


def test_the_port_rule_keeps_the_local_stack_apart() -> None:
    """`HTTP_PORT + 1000` unless `HEALTH_PORT` says otherwise; no port of the local stack (API,
    health, the launcher's NATS 14222 and 18222) taken twice."""
    assert health_port(ServiceSettings(http_port=8001)) == 9001
    assert health_port(ServiceSettings(http_port=8001, health_port=7001)) == 7001
    assert health_port(ServiceSettings(http_port=8001, health_port=0)) is None
    assert health_port(ServiceSettings(http_port=65000)) is None

    specs = parse_procfile(include_disabled=True)
    ports = [spec.http_port for spec in specs]
    ports += [health_port(ServiceSettings(http_port=spec.http_port)) or 0 for spec in specs]
    ports += [14222, 18222]
    assert len(ports) == len(set(ports)), sorted(ports)


def test_a_health_port_set_and_taken_stops_the_process_a_derived_one_is_skipped() -> None:
    async def ready() -> dict[str, bool]:
        return {}

    watchdog = Watchdog("feed", ready, 5.0)
    taken = start_listener(ServiceSettings(http_port=free_port(), health_port=free_port()), watchdog)
    assert taken is not None
    try:
        port = taken.server_address[1]
        with pytest.raises(SystemExit, match="HEALTH_PORT"):
            start_listener(ServiceSettings(health_port=port), watchdog)
        assert start_listener(ServiceSettings(http_port=port - 1000), watchdog) is None
    finally:
        taken.shutdown()
        taken.server_close()


async def test_liveness_and_readiness_follow_the_heartbeat_and_the_snapshot() -> None:
    """Against a clock the test moves: the answers change at the threshold."""
    now = [100.0]
    checks = {"store": True, "nats": True}

    async def ready() -> dict[str, bool]:
        return dict(checks)

    watchdog = Watchdog("feed", ready, 5.0, clock=lambda: now[0])
    assert watchdog.liveness()[0] == 200
    assert watchdog.ready()[0] == 503  # nothing computed yet
    refresh = asyncio.create_task(watchdog.refresh())
    for _ in range(6000):  # until the first refresh ran (a deadline of minutes, not a timing)
        if watchdog.snapshot is not None:
            break
        await asyncio.sleep(0.01)
    assert watchdog.ready() == (200, {"status": "ready", "checks": checks, "snapshot_age_s": 0.0})
    now[0] += 5.5  # neither beat nor refresh ran since (the loop "stalled")
    status, body = watchdog.liveness()
    assert status == 503 and "event loop stalled: no heartbeat for 5.5 s" in body["detail"]
    status, body = watchdog.ready()
    assert status == 503 and "stale" in body["detail"] and body["checks"] == checks
    watchdog.beat = now[0]
    assert watchdog.liveness()[0] == 200
    refresh.cancel()
    checks["nats"] = False
    watchdog.snapshot = (now[0], dict(checks))
    status, body = watchdog.ready()
    assert status == 503 and body["detail"] == "nats", json.dumps(body)
