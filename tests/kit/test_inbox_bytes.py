"""The inbox takes about `inbox_batch_bytes` of messages at a time: departments' exports are a
thousand times larger than single facts, and a batch of 256 of them would be a quarter of a
gigabyte in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from uuid import uuid4

from nats.aio.msg import Msg

from services.kit.bus import connect, ensure_streams
from services.kit.inbox import Inbox
from services.kit.settings import ServiceSettings
from tests.kit.sample import FACT_REPORTED, TallyApp, count_fact
from tests.kit.test_backbone import fact_message, sqlite
from tests.support.nats import NatsServer


async def test_a_batch_holds_about_inbox_batch_bytes_of_messages(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = ServiceSettings(
        service_name="tally", nats_url=nats_server.url, var_dir=tmp_path, inbox_batch_bytes=2_000
    )
    app = TallyApp(settings, sqlite(tmp_path / "tally.sqlite"))
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household = uuid4()
    references = [f"r{n}" for n in range(30)]
    size = 0
    for reference in references:  # all waiting before the inbox starts: one batch could take them all
        data, headers = fact_message(reference, household)
        size = len(data)
        await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)

    inbox = Inbox(app, nc, "DEPARTMENT", {FACT_REPORTED.type: count_fact}, subjects=["housing.department.>"])
    batches: list[int] = []
    process = inbox.process

    async def recorded(msgs: Sequence[Msg]) -> None:
        batches.append(len(msgs))
        await process(msgs)

    inbox.process = recorded  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(inbox.run(stop))
    try:
        for _ in range(200):
            if len(app.references(household)) == len(references):
                break
            await asyncio.sleep(0.05)
        assert app.references(household) == references
    finally:
        stop.set()
        await task
        await nc.close()
        app.close()
    assert sum(batches) == len(references)
    assert max(batches) == max(2_000 // size, 1) < len(references)
