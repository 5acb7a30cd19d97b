"""An operator lists dead letters and replays one once its cause is fixed; it is handled like new."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

from services.kit.bus import connect, ensure_streams
from services.kit.deadletters import list_deadletters, replay
from services.kit.runtime import Consumes, Runtime
from services.kit.settings import ServiceSettings
from tests.kit.sample import FACT_REPORTED, POISON_REFERENCE, TallyApp, build, count_any_fact
from tests.kit.test_backbone import fact_message, sqlite
from tests.support.nats import NatsServer


async def wait_for(condition, attempts: int = 200) -> None:  # type: ignore[no-untyped-def]
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_list_and_replay_a_dead_letter(nats_server: NatsServer, tmp_path: Path) -> None:
    settings = ServiceSettings(
        service_name="tally",
        nats_url=nats_server.url,
        var_dir=tmp_path,
        inbox_max_deliver=2,
        inbox_retry_backoff_s=0.05,
    )
    store = sqlite(tmp_path / "tally.sqlite")
    nc = await connect(nats_server.url, "operator", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household = uuid4()
    for reference in ["before", POISON_REFERENCE, "after"]:
        data, headers = fact_message(reference, household)
        await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)

    _, first = build("tally", settings, store)
    await first.start()
    tally = first.app
    assert isinstance(tally, TallyApp)

    async def both_handled() -> bool:
        return tally.references(household) == ["before", "after"]

    await wait_for(both_handled)
    await first.stop()

    entries = await list_deadletters(js, "tally")
    assert len(entries) == 1
    assert entries[0].record.reason.startswith("handler failed 2 times")
    assert entries[0].record.stream_sequence == 2
    assert await list_deadletters(js, "someone-else") == []

    fixed_app = TallyApp(settings, store)
    fixed = Runtime(fixed_app, consumes=(Consumes("DEPARTMENT", {FACT_REPORTED.type: count_any_fact}),))
    await fixed.start()
    try:
        new_sequence = await replay(js, entries[0].sequence)
        assert new_sequence == 4
        assert await replay(js, entries[0].sequence) == 4  # a second replay is the same message

        async def replayed() -> bool:
            return fixed_app.references(household) == ["before", "after", POISON_REFERENCE]

        await wait_for(replayed)
    finally:
        await fixed.stop()
        await nc.close()
