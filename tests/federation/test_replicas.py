"""Two replicas of one city on one store, as real processes: the outbound worker and the audit writer
run under leases; the replica running them is killed -9 while checks are in flight (a peer that
hangs keeps them open); the standby takes over from the worker's tracked position, every city of
every check is concluded exactly once (in the store and on the bus), and the one audit chain both
replicas appended to verifies, one line per stored event."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from contracts.eligibility import CrossRegionCheckRequestedV2
from federation.application import FederationApp
from federation.audit import verify_audit
from federation.domain import CrossRegionCheck
from federation.handlers import CHECK_REQUESTED
from federation.worker import POSITION
from services.kit.bus import connect, ensure_streams
from services.kit.clock import system_clock
from services.kit.codec import Outgoing, encode
from tests.conftest import free_port, wait_until
from tests.federation.conftest import Demo
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.slow

CHECKS = 12
SERVICE = "federation-cn-fs"


def running_here(process: ServiceProcess, loop: str) -> bool:
    return bool(re.search(rf"lease {SERVICE}\.{loop}: running here", process.tail(100_000)))


@pytest.fixture
def hanging_peer(demo: Demo) -> Iterator[None]:
    """Dongguan accepts connections and never answers: its verdicts stay open until timeouts."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", demo.ports["CN-DG"]))
        listener.listen(256)
        yield


def test_a_standby_replica_takes_over_the_worker_and_the_audit_writer(
    demo: Demo, tmp_path: Path, nats_server: NatsServer, hanging_peer: None
) -> None:
    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    common = {
        "NATS_URL": nats_server.url,
        "VAR_DIR": str(tmp_path),
        "LEASE_TTL_S": "1.5",
        "FEDERATION_PEER_ATTEMPTS": "2",
        "FEDERATION_RETRY_BASE_S": "0.05",
        "FEDERATION_PEER_TIMEOUT_S": "1.5",
        "FEDERATION_BREAKER_FAILURES": "1000",
    }

    def replica(name: str, port: int) -> ServiceProcess:
        env = {**demo.env("CN-FS", tmp_path), **common, "SERVICE_NAME": SERVICE, "HTTP_PORT": str(port)}
        return ServiceProcess("federation", [], env, tmp_path / f"{name}.log")

    gz_env = {
        **demo.env("CN-GZ", tmp_path),
        **common,
        "SERVICE_NAME": "federation-cn-gz",
        "FEDERATION_CONSUME_CHECKS": "false",
    }
    guangzhou = ServiceProcess("federation", [], gz_env, tmp_path / "gz.log")
    first, second = replica("fs-a", demo.ports["CN-FS"]), replica("fs-b", free_port())
    processes = [guangzhou, first, second]
    household_checks = [(uuid4(), uuid4()) for _ in range(CHECKS)]
    try:
        guangzhou.start().wait_ready()
        first.start().wait_ready()
        wait_until(lambda: running_here(first, "outbound") and running_here(first, "audit"), message="leases")
        second.start().wait_ready()

        async def run() -> list[tuple[str, str, str]]:
            nc = await connect(nats_server.url, "test", identity="admin")
            js = nc.jetstream()
            sub = await js.subscribe("housing.federation.>", ordered_consumer=True)
            for household, check in household_checks:
                member = str(uuid4())  # housed in Guangzhou, hashed for both cities (v2's subjects)
                subjects = [
                    {
                        "member_id": member,
                        "city": city,
                        "key_id": "1",
                        "id_hash": demo.hash_for("CN-FS", city, "DEMO-4406-0003"),
                    }
                    for city in ("CN-GZ", "CN-DG")
                ]
                request = CrossRegionCheckRequestedV2.model_validate(
                    {
                        "household_id": str(household),
                        "check_id": str(check),
                        "cities": ["CN-GZ", "CN-DG"],
                        "purpose": "exit-review",
                        "legal_basis": "Foshan public rental housing measures, art. 27",
                        "subjects": subjects,
                    }
                )
                data = encode(
                    Outgoing(CHECK_REQUESTED, str(household), request),
                    event_id=str(uuid4()),
                    source="/housing/eligibility",
                    time=system_clock(),  # the processes' clock: the machine's
                )
                await js.publish(CHECK_REQUESTED.subject, data, headers={"Nats-Msg-Id": f"test:{check}"})
            results: list[tuple[str, str, str]] = []
            killed = False
            while len(results) < 2 * CHECKS:
                msg = await sub.next_msg(timeout=60)
                data = json.loads(msg.data)["data"]
                results.append((data["check_id"], data["city"], data["result"]))
                if not killed:  # Guangzhou answered: Dongguan's verdicts are still open in `first`
                    assert data["city"] == "CN-GZ"
                    first.kill()
                    killed = True
            with pytest.raises(TimeoutError):  # and nothing more: no verdict published twice
                await sub.next_msg(timeout=2)
            await nc.close()
            return results

        results = asyncio.run(run())
        assert running_here(second, "outbound") and running_here(second, "audit")
        assert Counter((check, city) for check, city, _ in results) == Counter(
            {(str(check), city): 1 for _, check in household_checks for city in ("CN-GZ", "CN-DG")}
        )
        assert {result for _, city, result in results if city == "CN-GZ"} == {"match"}
        assert {result for _, city, result in results if city == "CN-DG"} == {"unverified"}

        app = FederationApp(demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path))
        notifications = app.notification_log.select(start=1, limit=1000)
        concluded = Counter(
            (str(event.check_id), event.city)
            for event in map(app.mapper.to_domain_event, notifications)
            if isinstance(event, CrossRegionCheck.PeerConcluded)
        )
        assert set(concluded.values()) == {1} and len(concluded) == 2 * CHECKS, "a verdict stored twice"
        last_opened = max(n.id for n in notifications if n.topic.endswith("CrossRegionCheck.Opened"))
        wait_until(lambda: app.position(POSITION) >= last_opened, message="the worker's position recorded")

        audit = tmp_path / "CN-FS-audit.jsonl"
        last = notifications[-1].id

        def audited() -> list[int]:
            return [json.loads(line)["seq"] for line in audit.read_text().splitlines() if line.strip()]

        wait_until(lambda: audit.exists() and audited()[-1:] == [last], message="audit lines")
        assert audited() == [n.id for n in notifications], "an event missing or twice in the audit log"
        report = verify_audit(audit)
        assert report.first_broken is None and report.lines == len(notifications)
        assert all(isinstance(UUID(check), UUID) for check, _, _ in results)
        app.close()
    finally:
        for process in processes:
            process.stop()
