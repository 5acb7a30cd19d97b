"""The federation log for operators (`GET /federation/v1/exchanges`), a page at a time, on SQLite and
PostgreSQL: newest first, keyed by the notification's sequence number, read backwards from the log
(never all of it), every event once in a walk while more are stored, gaps in the ids crossed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from federation.api import newest
from federation.application import FederationApp
from services.kit.clock import ManualClock
from services.kit.paging import encode_cursor
from tests.federation.test_audit_and_rules import store_entry
from tests.support.identity import as_operator

AUDITOR = as_operator("auditor.sun", "auditor", "federation")


@dataclass
class Node:
    app: FederationApp
    client: httpx.AsyncClient


@pytest.fixture
async def node(tmp_path: Path, persistence: dict[str, str]) -> AsyncIterator[Node]:
    from federation.demo import SIGNING_KEY, write_demo
    from federation.service import build
    from federation.settings import FederationSettings

    demo = tmp_path / "demo"
    write_demo(demo, {"CN-FS": 18006, "CN-GZ": 18106})
    settings = FederationSettings(
        var_dir=tmp_path / "f",
        nats_url="nats://127.0.0.1:1",  # the lifespan is not run: no bus
        federation_city="CN-FS",
        federation_private_key_file=demo / "CN-FS" / SIGNING_KEY,
        federation_peers_file=demo / "CN-FS" / "peers.yaml",
        federation_data_file=demo / "CN-FS" / "data.yaml",
        federation_audit_file=tmp_path / "f" / "audit.jsonl",
    )
    clock = ManualClock(datetime(2027, 2, 15, 2, 0, tzinfo=UTC))
    api, built = build(settings, persistence, clock)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://federation") as client:
        yield Node(built.app, client)
    built.app.close()


async def test_a_walk_is_newest_first_and_meets_every_event_once_while_more_are_stored(node: Node) -> None:
    for _ in range(6):
        store_entry(node.app)  # two events each
    stored = node.app.process_recorder.max_notification_id() or 0
    assert stored >= 12
    seen: list[int] = []
    url = "/federation/v1/exchanges?limit=5"
    while True:
        response = await node.client.get(url, headers=AUDITOR)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [e["seq"] for e in page["items"]]
        if page["next"] is None:
            assert "link" not in response.headers
            break
        link = response.headers["link"]
        assert link == f'</federation/v1/exchanges?limit=5&cursor={page["next"]}>; rel="next"'
        url = link[1 : link.index(">")]
        store_entry(node.app)  # newer than the walk's start: ahead of it, never in it
    assert seen == list(range(stored, 0, -1)), "newest first, each once, none of those stored during"
    first = (await node.client.get("/federation/v1/exchanges", headers=AUDITOR)).json()["items"][0]
    assert first["seq"] == node.app.process_recorder.max_notification_id()
    assert {"kind", "id", "at"} <= set(first)


async def test_cursors_and_callers_the_log_refuses(node: Node) -> None:
    store_entry(node.app)
    for cursor in ("bm90IGpzb24", encode_cursor(("a",)), encode_cursor((1, "x"))):
        response = await node.client.get(
            "/federation/v1/exchanges", params={"cursor": cursor}, headers=AUDITOR
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
    scoped = as_operator("auditor.wu", "auditor", "federation", ["Chancheng Garden"])
    assert (await node.client.get("/federation/v1/exchanges", headers=scoped)).status_code == 403


def test_the_log_is_read_backwards_across_gaps_in_its_ids() -> None:
    """A rolled-back transaction leaves ids unused: the windows widen until a page is full."""
    ids = [1, 2, 3, 10, 11, 40, 41, 42, 90]
    reads: list[tuple[int, int]] = []

    def select(start: int, limit: int, stop: int) -> list[Any]:
        reads.append((start, stop))
        return [SimpleNamespace(id=i) for i in ids if start <= i <= stop][:limit]

    log = SimpleNamespace(
        process_recorder=SimpleNamespace(max_notification_id=lambda: 90),
        notification_log=SimpleNamespace(select=select),
    )
    app = cast(FederationApp, log)
    assert [n.id for n in newest(app, None, 4)] == [90, 42, 41, 40]
    assert [n.id for n in newest(app, 40, 3)] == [11, 10, 3]
    assert [n.id for n in newest(app, 3, 10)] == [2, 1]
    assert newest(app, 1, 5) == []
    assert all(stop - start < 200 for start, stop in reads), "windows, never the whole log at once"
