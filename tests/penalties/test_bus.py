"""The whole path on a real nats-server: eligibility's household and exit decisions and monitoring's
violation over NATS → a transition plan, the subsidy (once, though the decision arrives twice), a
surcharge → penalties' events on the PENALTIES stream, notices delivered to the file and recorded;
keys returned over HTTP → `exit-completed` for monitoring and resettlement."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import BaseModel

from contracts.catalogue import EventSpec
from contracts.envelope import Envelope
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.clock import ManualClock
from services.kit.codec import Outgoing, encode
from services.penalties.application import PenaltiesApp
from services.penalties.handlers import EXIT_DECIDED, REGISTERED, VIOLATION_CONFIRMED
from services.penalties.service import build
from services.penalties.settings import PenaltiesSettings
from tests.penalties.support import at, exit_decision, registration, violation
from tests.support.identity import OperatorAuth
from tests.support.nats import NatsServer


async def eventually(predicate: Callable[[], bool], message: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


async def read_stream(url: str, stream: str) -> list[dict[str, Any]]:
    """Every message on the stream now, as envelopes (type, subject, data)."""
    nc = await connect(url, "reader", identity="admin")
    js = nc.jetstream()
    info = await js.stream_info(stream)
    sub = await js.pull_subscribe(
        f"housing.{stream.lower()}.>", stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    found: list[dict[str, Any]] = []
    while len(found) < info.state.messages:
        try:
            for msg in await sub.fetch(info.state.messages - len(found), timeout=1):
                envelope = Envelope.model_validate_json(msg.data)
                found.append({"type": envelope.type, "subject": envelope.subject, "data": envelope.data})
                await msg.ack()
        except TimeoutError:
            break
    await nc.close()
    return found


async def test_decisions_and_violations_over_nats_to_penalties_events(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)

    async def publish(spec: EventSpec, payload: BaseModel, subject: str, msg_id: str) -> None:
        data = encode(Outgoing(spec, subject, payload), event_id=msg_id, source="/test", time=clock.now())
        await js.publish(spec.subject, data, headers={"Nats-Msg-Id": msg_id})

    staged, leaving, overdue = uuid4(), uuid4(), uuid4()
    for household in (staged, leaving, overdue):
        await publish(REGISTERED, registration(household), str(household), f"registered-{household}")
    staged_decision = exit_decision(staged, "transition", decided_on=date(2099, 1, 15))
    await publish(EXIT_DECIDED, staged_decision, str(staged), "decided-staged")
    # A plan whose exit date (2020-07-31) passed long ago: the process's periodic check finds it.
    late = exit_decision(overdue, "transition", decided_on=date(2020, 1, 10))
    await publish(EXIT_DECIDED, late, str(overdue), "decided-overdue")
    voluntary = exit_decision(leaving, "voluntary", low_income=True, wants_to_buy=True)
    # The same decision twice under two messages (a producer's retry after its outbox lost the ack).
    await publish(EXIT_DECIDED, voluntary, str(leaving), "decided-leaving-1")
    await publish(EXIT_DECIDED, voluntary, str(leaving), "decided-leaving-2")
    sublet = violation(staged, "sublet", date(2099, 3, 10))
    await publish(VIOLATION_CONFIRMED, sublet, str(staged), "violation-staged")

    settings = PenaltiesSettings(
        nats_url=nats_server.url, var_dir=tmp_path, notice_retry_s=0.2, overdue_check_interval_s=0.2
    )
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "p.sqlite")}
    # The service's day is its clock's: the flat is handed back on 2099-04-30 because that is today.
    api, runtime = build(
        settings, store, app=PenaltiesApp(settings, store, clock=ManualClock(at(date(2099, 4, 30))))
    )
    app = runtime.app
    assert isinstance(app, PenaltiesApp)
    await runtime.start()
    try:

        def sanctioned() -> bool:
            app.catch_up()
            return len(app.sanctions) == 2 and bool(app.subsidies) and staged in app.transitions

        await eventually(sanctioned, "the plan, the subsidy and the two surcharges")
        assert app.transitions[overdue]["state"] == "overdue" and app.transitions[staged]["state"] == "active"
        await eventually(lambda: not app.pending_notices and app.notices_issued >= 4, "notices delivered")

        transport = httpx.ASGITransport(app=api)
        auth = OperatorAuth("officer.li", "reviewer", "penalties")
        async with httpx.AsyncClient(transport=transport, base_url="http://p", auth=auth) as client:
            ledger = await client.get(
                f"/households/{staged}/ledger", params={"from": "2099-02", "to": "2099-04"}
            )
            assert [m["total_due"] for m in ledger.json()["months"]] == ["1100.00", "1200.00", "1800.00"]
            returned = await client.post(f"/households/{staged}/keys-returned", json={})
            assert returned.status_code == 200
            assert (await client.get("/readyz")).status_code == 200

        def relayed() -> bool:
            latest = app.process_recorder.max_notification_id() or 0
            return runtime.relay is not None and runtime.relay.acknowledged >= latest

        await eventually(relayed, "the relay caught up")
    finally:
        await runtime.stop()

    messages = await read_stream(nats_server.url, "PENALTIES")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_type.setdefault(message["type"].removeprefix("housing.penalties."), []).append(message)
    assert len(by_type["subsidy-awarded"]) == 1
    assert by_type["subsidy-awarded"][0]["data"]["amount"] == "5000.00"
    assert by_type["subsidy-awarded"][0]["subject"] == str(leaving)
    assert [m["subject"] for m in by_type["purchase-help-flagged"]] == [str(leaving)]
    started = next(m for m in by_type["transition-started"] if m["subject"] == str(staged))
    assert started["data"]["exit_due_on"] == "2099-07-31" and started["data"]["rule"] == "simple"
    assert [row["rent"] for row in started["data"]["schedule"]][-1] == "1600.00"
    imposed = {m["subject"]: m["data"] for m in by_type["sanction-imposed"]}
    assert imposed[str(staged)]["basis_id"] == str(sublet.warning_id)
    assert imposed[str(staged)]["surcharge_rate"] == "0.50"
    assert (imposed[str(overdue)]["violation"], imposed[str(overdue)]["basis_kind"]) == (
        "overstaying",
        "transition",
    )
    closed = {m["subject"]: m["data"]["how"] for m in by_type["transition-closed"]}
    assert closed == {str(overdue): "overdue", str(staged): "exited"}
    (completed,) = by_type["exit-completed"]
    assert completed["data"] == {
        "household_id": str(staged),
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "completed_on": "2099-04-30",
        "how": "keys_returned",
        "recorded_by": "officer.li",
    }
    assert {m["data"]["action"] for m in by_type["rent-adjusted"]} == {"started", "ended"}
    issued = {m["data"]["notice_id"] for m in by_type["notice-issued"]}
    delivered = {m["data"]["notice_id"] for m in by_type["notice-delivered"]}
    assert len(issued) >= 4 and delivered <= issued

    lines = [json.loads(line) for line in (tmp_path / "penalties-notices.jsonl").read_text().splitlines()]
    assert {line["notice_id"] for line in lines} >= delivered
    assert all(
        "Chancheng Garden" in line["text"] and "To the household of unit" in line["text"] for line in lines
    )
    await nc.close()
