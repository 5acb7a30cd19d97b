"""A batch that starts past the inbox's position reads the messages it skipped from the stream; one it
cannot read there now (a server still recovering its stream after a restart answers "not found") is
never skipped: the batch waits and the message is handled once it can be read. Only messages the
stream's limits removed (below its first sequence) are passed over."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats.js.errors
import pytest

from services.kit.bus import connect, ensure_streams
from services.kit.inbox import GapUnreadable, Inbox
from services.kit.settings import ServiceSettings
from tests.kit.sample import FACT_REPORTED, TallyApp, count_fact
from tests.kit.test_backbone import fact_message, sqlite
from tests.support.nats import NatsServer


async def test_a_message_not_readable_now_is_not_skipped(nats_server: NatsServer, tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="tally-gaps", nats_url=nats_server.url, var_dir=tmp_path)
    app = TallyApp(settings, sqlite(tmp_path / "tally.sqlite"))
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household = uuid4()
    references = ["r0", "r1", "r2"]
    for reference in references:
        data, headers = fact_message(reference, household)
        await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)
    inbox = Inbox(app, nc, "DEPARTMENT", {FACT_REPORTED.type: count_fact}, subjects=["housing.department.>"])
    first = (await js.stream_info("DEPARTMENT")).state.first_seq
    sub = await js.pull_subscribe("housing.department.>", durable="gaps", stream="DEPARTMENT")
    delivered = await sub.fetch(3, timeout=5)
    last = [m for m in delivered if m.metadata.sequence.stream == first + 2]
    real_get = inbox.js.get_msg
    answers = {"refuse": True}

    async def recovering(stream: str, seq: int, **kw: Any) -> Any:
        if answers["refuse"]:
            raise nats.js.errors.NotFoundError()
        return await real_get(stream, seq=seq, **kw)

    inbox.js.get_msg = recovering  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(GapUnreadable):
            await inbox.process(last)  # r0 and r1 were not delivered to this batch, and cannot be read
        assert app.references(household) == []  # nothing handled past them
        answers["refuse"] = False
        await inbox.process(last)
        assert app.references(household) == references
    finally:
        await asyncio.wait_for(nc.close(), 5)
        app.close()
