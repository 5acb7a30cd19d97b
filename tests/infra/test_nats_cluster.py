"""The 3-node JetStream cluster of infra/nats/cluster, as three real nats-server processes on this host:
the stream leader is killed with -9 while a publisher and a consumer are mid-stream, and no event is lost
or doubled.

The publisher behaves as the kit's relay does (a `Nats-Msg-Id` per event, retried until a PubAck), the
consumer as the inbox does (durable pull consumer, explicit acks); streams are created by the kit's own
`ensure_streams` with 3 replicas, as `STREAM_REPLICAS=3` does in compose.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from contracts.envelope import MSG_ID_HEADER
from services.kit import busauth
from services.kit.bus import ensure_streams
from tests.support.nats import NATS_SERVER

CLUSTER = Path(__file__).resolve().parents[2] / "infra" / "nats" / "cluster"
NODES = ("n1", "n2", "n3")
EVENTS = 2000
SUBJECT = "housing.eligibility.review-decided"

pytestmark = pytest.mark.slow


def _port(node: str) -> int:
    match = re.search(r"^port:\s*(\d+)", (CLUSTER / f"{node}.conf").read_text(), re.MULTILINE)
    assert match is not None
    return int(match.group(1))


class Node:
    def __init__(self, name: str, store: Path, conf: Path) -> None:
        self.name = name
        self.store = store
        self.conf = conf
        self.port = _port(name)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                pytest.fail(f"port {self.port} of cluster node {self.name} is taken by another process")
        log = open(self.store.parent / f"{self.name}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "HOUSING_NATS_STORE": str(self.store)}
        config = str(self.conf / f"{self.name}.conf")
        self.process = subprocess.Popen([str(NATS_SERVER), "-c", config], stdout=log, stderr=log, env=env)

    def wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, f"{self.name} exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Node]]:
    """The three nodes from the repository's files, copied beside the credentials they include."""
    conf = tmp_path / "conf"
    shutil.copytree(CLUSTER, conf, ignore=shutil.ignore_patterns("credentials"))
    busauth.write(conf / "credentials")
    nodes = {name: Node(name, tmp_path / name, conf) for name in NODES}
    try:
        for node in nodes.values():
            node.start()
        for node in nodes.values():
            node.wait_listening()
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


async def _until(what: str, attempt: object, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await attempt()  # type: ignore[operator]
        except Exception as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: still failing after {timeout}s: {exc!r}") from exc
            await asyncio.sleep(0.25)


async def _connect(nodes: dict[str, Node]) -> NATS:
    servers = [f"nats://127.0.0.1:{node.port}" for node in nodes.values()]
    credentials = next(iter(nodes.values())).conf / "credentials"
    return await nats.connect(
        servers=servers,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        nkeys_seed=str(busauth.seed_file(credentials, busauth.ADMIN)),
        inbox_prefix=busauth.inbox_prefix(busauth.ADMIN),
    )


async def _publish_all(js: JetStreamContext, kill_at: int, kill: asyncio.Event) -> None:
    for number in range(EVENTS):
        if number == kill_at:
            kill.set()
            await asyncio.sleep(0)
        payload = f"event-{number}".encode()
        headers = {MSG_ID_HEADER: f"test-{number}"}

        async def publish(payload: bytes = payload, headers: dict[str, str] = headers) -> object:
            return await js.publish(SUBJECT, payload, headers=headers, timeout=2)

        await _until(f"publish {number}", publish, timeout=60)


async def _consume(js: JetStreamContext, seen: list[str], done: asyncio.Event) -> None:
    async def subscribe() -> object:
        return await js.pull_subscribe(
            SUBJECT,
            durable="cluster-test",
            stream="ELIGIBILITY",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=5),
        )

    subscription = await _until("subscribe", subscribe)
    while not done.is_set() or len(set(seen)) < EVENTS:
        try:
            messages = await subscription.fetch(200, timeout=1)  # type: ignore[attr-defined]
        except Exception:  # timeouts, leader changes: a real consumer just asks again
            if done.is_set() and len(set(seen)) >= EVENTS:
                break
            await asyncio.sleep(0.1)
            continue
        for message in messages:
            seen.append(message.data.decode())
            # unacknowledged: redelivered after ack_wait, counted once below
            with contextlib.suppress(Exception):
                await message.ack_sync(timeout=2)


async def test_killing_the_stream_leader_mid_stream_loses_no_event(cluster: dict[str, Node]) -> None:
    nc = await _connect(cluster)
    js = nc.jetstream()
    await _until("create streams with 3 replicas", lambda: ensure_streams(js, replicas=3))
    info = await _until("stream leader", lambda: js.stream_info("ELIGIBILITY"))
    assert info.config.num_replicas == 3  # type: ignore[attr-defined]

    kill = asyncio.Event()
    published = asyncio.Event()
    seen: list[str] = []
    consumer = asyncio.create_task(_consume(js, seen, published))
    publisher = asyncio.create_task(_publish_all(js, EVENTS // 3, kill))

    await kill.wait()
    leader = (await js.stream_info("ELIGIBILITY")).cluster.leader  # type: ignore[union-attr]
    assert leader in cluster
    cluster[leader].kill()

    await asyncio.wait_for(publisher, 120)
    published.set()
    await asyncio.wait_for(consumer, 120)

    assert set(seen) == {f"event-{n}" for n in range(EVENTS)}  # none lost
    state = await _until("stream state", lambda: js.stream_info("ELIGIBILITY"))
    assert state.state.messages == EVENTS  # type: ignore[attr-defined]  # none stored twice
    new_leader = state.cluster.leader  # type: ignore[attr-defined]
    assert new_leader != leader and new_leader in cluster

    # the killed node comes back and catches up from the others
    cluster[leader].start()
    cluster[leader].wait_listening()

    async def caught_up() -> None:
        replicas = (await js.stream_info("ELIGIBILITY")).cluster.replicas  # type: ignore[union-attr]
        back = next(r for r in replicas or [] if r.name == leader)
        assert back.current and not back.offline and not back.lag  # omitted when 0

    await _until("killed node catches up", caught_up, timeout=60)
    await nc.close()
