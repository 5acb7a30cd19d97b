"""The streams on a real nats-server are the catalogue's: file storage, duplicate window, retention."""

from __future__ import annotations

from nats.js.api import StorageType

from contracts.catalogue import STREAMS
from services.kit.bus import DUPLICATE_WINDOW, connect, ensure_streams
from tests.support.nats import NatsServer


async def test_streams_follow_the_catalogue_and_creating_them_twice_changes_nothing(
    nats_server: NatsServer,
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    try:
        assert await ensure_streams(js) == [spec.name for spec in STREAMS]
        assert await ensure_streams(js) == [spec.name for spec in STREAMS]  # idempotent
        for spec in STREAMS:
            config = (await js.stream_info(spec.name)).config
            assert config.subjects == list(spec.subjects)
            assert config.storage == StorageType.FILE
            assert config.duplicate_window == DUPLICATE_WINDOW.total_seconds()
            expected_age = spec.max_age_days * 86_400 if spec.max_age_days else 0
            assert (config.max_age or 0) == expected_age
        assert next(s for s in STREAMS if s.name == "SIGNALS").max_age_days == 130
    finally:
        await nc.close()
