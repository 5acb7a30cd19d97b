"""The relay's atomic batches on a real nats-server: a batch of events is stored as one atomic batch
in order; a republish (a second store with the same notification ids, as after a crash before the
position was recorded) is refused by the server as a whole and then published a message at a time,
each once; a stream that does not take atomic batches turns them off and loses nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from uuid import UUID, uuid4

from nats.js import JetStreamContext

from contracts.catalogue import STREAMS
from services.kit.bus import connect, ensure_streams, stream_config
from services.kit.metrics import RELAY_DUPLICATES
from services.kit.relay import POSITION, OutboxRelay
from services.kit.runtime import Runtime
from services.kit.settings import ServiceSettings
from tests.kit.sample import Feed, build
from tests.kit.test_backbone import sqlite
from tests.support.nats import NatsServer


async def stored(js: JetStreamContext, stream: str = "DEPARTMENT") -> list[tuple[str, dict[str, str]]]:
    """Every message in the stream: its reference and headers, in stream order."""
    info = await js.stream_info(stream)
    out = []
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await js.get_msg(stream, seq=sequence)
        out.append((json.loads(raw.data or b"{}")["data"]["reference"], dict(raw.headers or {})))
    return out


async def relayed(runtime: Runtime, upto: int) -> None:
    """Until the relay has recorded `upto` as its position."""
    for _ in range(400):
        if await asyncio.to_thread(runtime.app.position, POSITION) >= upto:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the relay did not get there")


def relay_of(runtime: Runtime) -> OutboxRelay:
    assert runtime.relay is not None
    return runtime.relay


def feed(nats_server: NatsServer, directory: Path) -> Runtime:
    directory.mkdir(parents=True, exist_ok=True)
    settings = ServiceSettings(service_name="feed", nats_url=nats_server.url, var_dir=directory)
    _, runtime = build("feed", settings, sqlite(directory / "feed.sqlite"))
    return runtime


def report(runtime: Runtime, references: list[str], household: UUID) -> None:
    app = runtime.app
    assert isinstance(app, Feed)
    app.report_many([(reference, household) for reference in references])


async def test_a_batch_is_stored_as_one_atomic_batch_and_a_republish_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household = uuid4()
    first = [f"r{n}" for n in range(300)]

    one = feed(nats_server, tmp_path / "one")
    await asyncio.to_thread(report, one, first, household)  # stored before the relay starts: one batch
    await one.start()
    try:
        await relayed(one, 300)
    finally:
        await one.stop()
    messages = await stored(js)
    assert [reference for reference, _ in messages] == first
    batches = {headers.get("Nats-Batch-Id") for _, headers in messages}
    assert len(batches) == 1 and None not in batches  # one atomic batch
    assert all(headers["Nats-Msg-Id"].startswith("feed:") for _, headers in messages)

    # The same notification ids again (a relay that crashed before recording its position does
    # this): the server refuses the atomic batch, the relay publishes one by one, duplicates drop.
    two = feed(nats_server, tmp_path / "two")
    await asyncio.to_thread(report, two, first, household)
    duplicates = RELAY_DUPLICATES.labels("feed")
    before = duplicates._value.get()
    await two.start()
    try:
        await relayed(two, 300)
        assert [reference for reference, _ in await stored(js)] == first
        assert duplicates._value.get() == before + 300  # each answered "duplicate" on its own
        later = [f"s{n}" for n in range(50)]
        await asyncio.to_thread(report, two, later, household)
        await relayed(two, 350)
        messages = await stored(js)
        assert [reference for reference, _ in messages] == first + later
        assert relay_of(two)._atomic  # a refused duplicate is no reason to stop batching
        batches = {headers.get("Nats-Batch-Id") for _, headers in messages[300:]}
        assert len(batches) == 1 and None not in batches
    finally:
        await two.stop()
        await nc.close()


async def test_a_stream_without_atomic_batches_gets_every_message_one_by_one(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    for spec in STREAMS:  # as a server before 2.12, or a stream nobody updated, has them
        config = stream_config(spec.name, list(spec.subjects), 1, spec.max_age_days)
        config.allow_atomic = False
        await js.add_stream(config)
    household = uuid4()
    references = [f"r{n}" for n in range(120)]

    runtime = feed(nats_server, tmp_path)
    await asyncio.to_thread(report, runtime, references, household)
    await runtime.start()
    try:
        await relayed(runtime, 120)
        messages = await stored(js)
        assert [reference for reference, _ in messages] == references
        assert not relay_of(runtime)._atomic
        assert all("Nats-Batch-Id" not in headers for _, headers in messages[-10:])
    finally:
        await runtime.stop()
        await nc.close()
