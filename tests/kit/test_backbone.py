"""Store → relay → JetStream → inbox → store, on a real nats-server: order, exactly-once, dead letters,
traces. The crash tests run the services as processes and kill them (or the broker) at the worst moment.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.department import DepartmentFactReported
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Outgoing, encode
from services.kit.inbox import Inbox
from services.kit.metrics import INBOX_DUPLICATES
from services.kit.relay import POSITION
from services.kit.settings import ServiceSettings
from services.kit.store import decode_with_trace
from services.kit.tracing import setup_tracing
from tests.conftest import free_port, wait_until
from tests.kit.sample import FACT_REPORTED, POISON_REFERENCE, Feed, TallyApp, build, count_fact
from tests.support.identity import OperatorAuth
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess


def sqlite(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


def fact_message(reference: str, household: UUID) -> tuple[bytes, dict[str, str]]:
    payload = DepartmentFactReported.model_validate(
        {
            "department": "civil_affairs",
            "reference": reference,
            "described_on": "2026-11-01",
            "household_id": str(household),
            "person_hash": None,
            "fact": {"kind": "income", "monthly_income": "4100.00"},
        }
    )

    data = encode(
        Outgoing(FACT_REPORTED, str(household), payload),
        event_id=reference,
        source="/test",
        time=clock.now(),
    )
    return data, {"Nats-Msg-Id": f"test:{reference}"}


async def deadletters(url: str, service: str, expected: int) -> list[dict[str, object]]:
    nc = await connect(url, "deadletter-reader", identity="admin")
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        f"housing.deadletter.{service}",
        stream="DEADLETTER",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    records: list[dict[str, object]] = []
    for _ in range(50):
        try:
            for msg in await sub.fetch(expected - len(records), timeout=1):
                records.append(json.loads(msg.data))
                await msg.ack()
        except TimeoutError:
            pass
        if len(records) >= expected:
            break
    await nc.close()
    return records


# -- in one process ---------------------------------------------------------------------------------


async def test_poison_messages_are_deadlettered_and_nothing_else_is_lost(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = ServiceSettings(
        service_name="tally",
        nats_url=nats_server.url,
        var_dir=tmp_path,
        inbox_max_deliver=3,
        inbox_retry_backoff_s=0.05,
    )
    _, runtime = build("tally", settings, sqlite(tmp_path / "tally.sqlite"))
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    await runtime.start()
    household = uuid4()
    try:
        for reference in ["r1", "r2"]:
            data, headers = fact_message(reference, household)
            await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)
        await js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            b"{this is not json",
            headers={"Nats-Msg-Id": "garbage"},
        )
        bad = json.loads(fact_message("bad", household)[0])
        bad["data"]["fact"]["monthly_income"] = 4100.5  # money as a float: refused by the contract
        await js.publish(
            FACT_REPORTED.subject_for(department="civil_affairs"),
            json.dumps(bad).encode(),
            headers={"Nats-Msg-Id": "float"},
        )
        for reference in [POISON_REFERENCE, "r3"]:
            data, headers = fact_message(reference, household)
            await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)

        app = runtime.app
        assert isinstance(app, TallyApp)
        for _ in range(300):
            if app.references(household) == ["r1", "r2", "r3"]:
                break
            await asyncio.sleep(0.05)
        assert app.references(household) == ["r1", "r2", "r3"]

        # The consumer keeps going after the poison.
        data, headers = fact_message("r4", household)
        await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)
        for _ in range(200):
            if app.references(household)[-1:] == ["r4"]:
                break
            await asyncio.sleep(0.05)
        assert app.references(household) == ["r1", "r2", "r3", "r4"]

        records = await deadletters(nats_server.url, "tally", expected=3)
        reasons = sorted(str(r["reason"]) for r in records)
        assert len(records) == 3
        assert reasons[0].startswith("handler failed 3 times")
        assert "payload" in reasons[1] and "monthly_income" in reasons[1]
        assert reasons[2].startswith("not JSON")
        assert all(
            r["original_subject"] == FACT_REPORTED.subject_for(department="civil_affairs") for r in records
        )
        assert app.position("inbox:DEPARTMENT") == 7
    finally:
        await runtime.stop()
        await nc.close()


async def test_a_delivery_lost_in_flight_is_read_from_the_stream_in_order(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """A message delivered but never handled (in flight when a process or the broker died) comes back
    only after ack_wait, after later ones: the inbox must not let the later ones pass it."""
    settings = ServiceSettings(
        service_name="tally", nats_url=nats_server.url, var_dir=tmp_path, inbox_ack_wait_s=1
    )
    _, runtime = build("tally", settings, sqlite(tmp_path / "tally.sqlite"))
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household = uuid4()
    for reference in ["r1", "r2", "r3", "r4", "r5"]:
        data, headers = fact_message(reference, household)
        await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)

    # A delivery that goes nowhere: taken from the service's durable consumer and never acknowledged.
    inbox = Inbox(
        runtime.app, nc, "DEPARTMENT", {FACT_REPORTED.type: count_fact}, subjects=["housing.department.>"]
    )
    await js.add_consumer("DEPARTMENT", config=inbox.consumer_config())
    thief = await js.pull_subscribe_bind(durable=inbox.durable, stream="DEPARTMENT")
    (lost,) = await thief.fetch(1, timeout=5)
    assert lost.metadata.sequence.stream == 1
    await thief.unsubscribe()

    await runtime.start()
    try:
        app = runtime.app
        assert isinstance(app, TallyApp)
        for _ in range(200):
            if len(app.references(household)) == 5:
                break
            await asyncio.sleep(0.05)
        assert app.references(household) == ["r1", "r2", "r3", "r4", "r5"]
        duplicates = INBOX_DUPLICATES.labels("tally", "DEPARTMENT")
        before = duplicates._value.get()
        for _ in range(100):  # the lost delivery comes back after ack_wait, and has no second effect
            if duplicates._value.get() > before:
                break
            await asyncio.sleep(0.05)
        assert duplicates._value.get() == before + 1
        assert app.references(household) == ["r1", "r2", "r3", "r4", "r5"]
    finally:
        await runtime.stop()
        await nc.close()


async def test_one_trace_spans_request_store_publish_and_handling(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    provider = setup_tracing("backbone-test", None)
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    nc = await connect(nats_server.url, "test", identity="admin")
    await ensure_streams(nc.jetstream())
    await nc.close()

    feed_api, feed_runtime = build(
        "feed",
        ServiceSettings(service_name="feed", nats_url=nats_server.url, var_dir=tmp_path),
        sqlite(tmp_path / "feed.sqlite"),
    )
    _, tally_runtime = build(
        "tally",
        ServiceSettings(service_name="tally", nats_url=nats_server.url, var_dir=tmp_path),
        sqlite(tmp_path / "tally.sqlite"),
    )
    await feed_runtime.start()
    await tally_runtime.start()
    household = uuid4()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=feed_api),
            base_url="http://feed",
            auth=OperatorAuth("clerk.intake", "admin", "feed"),
        ) as client:
            response = await client.post(
                "/facts",
                json={"reference": "traced", "household_id": str(household), "monthly_income": "5000.00"},
            )
        assert response.status_code == 201
        tally = tally_runtime.app
        assert isinstance(tally, TallyApp)
        for _ in range(200):
            if tally.references(household):
                break
            await asyncio.sleep(0.05)
        assert tally.references(household) == ["traced"]
    finally:
        await feed_runtime.stop()
        await tally_runtime.stop()

    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind == trace.SpanKind.SERVER and "/facts" in s.name]
    producer = [s for s in spans if s.kind == trace.SpanKind.PRODUCER]
    consumer = [s for s in spans if s.kind == trace.SpanKind.CONSUMER]
    assert server and producer and consumer
    trace_id = server[0].context.trace_id
    assert producer[-1].context.trace_id == trace_id
    assert consumer[-1].context.trace_id == trace_id
    assert consumer[-1].parent is not None and consumer[-1].parent.span_id == producer[-1].context.span_id

    # The consumer's own stored event continues the same trace, for the next hop.
    tally_app = TallyApp(
        ServiceSettings(service_name="tally", var_dir=tmp_path), sqlite(tmp_path / "tally.sqlite")
    )
    last = tally_app.notification_log.select(start=1, limit=10)[-1]
    assert decode_with_trace(tally_app.mapper, last)[1]["traceparent"].split("-")[1] == format(
        trace_id, "032x"
    )
    tally_app.close()


# -- as processes -----------------------------------------------------------------------------------


class Stack:
    """A feed and a tally as processes, and the test's own view of their stores."""

    def __init__(self, nats: NatsServer, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        common = {
            "NATS_URL": nats.url,
            "VAR_DIR": str(tmp_path),
            "INBOX_ACK_WAIT_S": "2",
            "INBOX_RETRY_BACKOFF_S": "0.05",
            "LOG_LEVEL": "INFO",
        }
        self.feed = ServiceProcess(
            "tests.kit.sample",
            ["feed"],
            {
                **common,
                **sqlite(tmp_path / "feed.sqlite"),
                "SERVICE_NAME": "feed",
                "HTTP_PORT": str(free_port()),
            },
            tmp_path / "feed.log",
        )
        self.tally = ServiceProcess(
            "tests.kit.sample",
            ["tally"],
            {
                **common,
                **sqlite(tmp_path / "tally.sqlite"),
                "SERVICE_NAME": "tally",
                "HTTP_PORT": str(free_port()),
            },
            tmp_path / "tally.log",
        )
        self.feed_app = Feed(
            ServiceSettings(service_name="feed", var_dir=tmp_path), sqlite(tmp_path / "feed.sqlite")
        )
        # Another process writes the tally's store: this view must read the store's latest events.
        self.tally_app = TallyApp(
            ServiceSettings(service_name="tally", var_dir=tmp_path),
            {**sqlite(tmp_path / "tally.sqlite"), "AGGREGATE_CACHE_FASTFORWARD": "y"},
        )

    def counted(self, household: UUID) -> Counter[str]:
        return Counter(self.tally_app.references(household))

    def close(self) -> None:
        self.feed.stop()
        self.tally.stop()
        self.feed_app.close()
        self.tally_app.close()


@pytest.fixture
def stack(nats_server: NatsServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    s = Stack(nats_server, tmp_path)
    yield s
    s.close()


def test_relay_crash_between_publish_and_position_republishes_without_second_effect(stack: Stack) -> None:
    household = uuid4()
    references = [f"f{i}" for i in range(50)]
    stack.feed_app.report_many([(r, household) for r in references])
    stack.tally.start().wait_ready()

    stack.feed.start({"HOUSING_FAILPOINTS": "relay.after_publish"})
    assert stack.feed.wait_exit(60) == 137, stack.feed.tail()
    assert stack.feed_app.position(POSITION) == 0  # it died before recording anything
    wait_until(lambda: sum(stack.counted(household).values()) == 50, message="first delivery")

    stack.feed.start().wait_ready()
    wait_until(lambda: stack.feed_app.position(POSITION) == 50, message="relay position after restart")
    assert stack.feed.metric("housing_relay_duplicates_total") == 50
    counted = stack.counted(household)
    assert set(counted) == set(references)
    assert max(counted.values()) == 1


def test_broker_killed_mid_stream_every_event_arrives_once(stack: Stack, nats_server: NatsServer) -> None:
    household = uuid4()
    stack.tally.start().wait_ready()
    stack.feed.start().wait_ready()
    total, chunk = 2000, 100
    for start in range(0, total, chunk):
        stack.feed_app.report_many([(f"e{i}", household) for i in range(start, start + chunk)])
        time.sleep(0.05)
        if start == total // 2:
            wait_until(lambda: sum(stack.counted(household).values()) > 0, message="flow before the crash")
            nats_server.kill()
        if start == total // 2 + 3 * chunk:
            time.sleep(1.0)  # both services notice the broker is gone
            nats_server.start()
    wait_until(
        lambda: sum(stack.counted(household).values()) >= total, timeout=120, message="all 2000 events"
    )
    counted = stack.counted(household)
    assert len(counted) == total
    assert max(counted.values()) == 1
    last = stack.feed_app.recorder.max_notification_id()
    wait_until(lambda: stack.feed_app.position(POSITION) == last, message="the relay's recorded position")
    # The crash was felt by both services, and both came back.
    assert "nats disconnected" in stack.feed.log.read_text()
    assert "nats reconnected" in stack.tally.log.read_text()


def test_consumer_dies_after_commit_before_ack_exactly_one_effect(stack: Stack) -> None:
    household = uuid4()
    stack.feed.start().wait_ready()
    stack.tally.start({"HOUSING_FAILPOINTS": "inbox.after_commit"})
    stack.feed_app.report_many([(f"c{i}", household) for i in range(20)])
    assert stack.tally.wait_exit(60) == 137, stack.tally.tail()
    committed = sum(stack.counted(household).values())
    assert committed > 0  # it committed, then died holding unacknowledged messages

    stack.tally.start().wait_ready()
    wait_until(lambda: sum(stack.counted(household).values()) == 20, message="remaining events")
    wait_until(
        lambda: stack.tally.metric("housing_inbox_duplicates_total") >= committed,
        timeout=30,
        message="redelivered messages acknowledged as duplicates",
    )
    counted = stack.counted(household)
    assert len(counted) == 20 and max(counted.values()) == 1


def test_sigterm_finishes_the_batch_in_hand_and_flushes_its_acks(stack: Stack) -> None:
    household = uuid4()
    stack.feed.start().wait_ready()
    stack.tally.start().wait_ready()
    stack.feed_app.report_many([(f"g{i}", household) for i in range(1000)])
    wait_until(lambda: sum(stack.counted(household).values()) > 0, message="handling under way")
    # SIGTERM: uvicorn runs the shutdown, then re-raises the signal, hence -15 rather than 0.
    assert stack.tally.stop() in (0, -15)
    assert "tally stopped" in stack.tally.log.read_text()
    assert "Application shutdown complete" in stack.tally.log.read_text()
    committed = sum(stack.counted(household).values())

    stack.tally.start().wait_ready()
    wait_until(lambda: sum(stack.counted(household).values()) == 1000, message="the rest after restart")
    counted = stack.counted(household)
    assert len(counted) == 1000 and max(counted.values()) == 1
    # Whatever was committed before the stop was also acknowledged: nothing comes back as a duplicate
    # (only prefetched, uncommitted messages are redelivered, and they are handled normally).
    assert committed > 0
    assert stack.tally.metric("housing_inbox_duplicates_total") == 0


async def test_a_batch_commits_early_when_its_unit_of_work_grows_large(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """Big transactions stall PostgreSQL's pipelined insert: past a number of events the batch is
    committed in parts, each with its own tracking record, and a failure in a later part keeps the
    earlier ones."""
    settings = ServiceSettings(
        service_name="tally",
        nats_url=nats_server.url,
        var_dir=tmp_path,
        inbox_max_events_per_commit=7,
        inbox_max_deliver=2,
        inbox_retry_backoff_s=0.05,
    )
    _, runtime = build("tally", settings, sqlite(tmp_path / "tally.sqlite"))
    app = runtime.app
    assert isinstance(app, TallyApp)
    commits: list[int] = []
    original = app.commit

    def counting_commit(tracking, aggregates):  # type: ignore[no-untyped-def]
        commits.append(tracking.notification_id if tracking else 0)
        return original(tracking, aggregates)

    app.commit = counting_commit  # type: ignore[method-assign]
    nc = await connect(nats_server.url, "test", identity="admin")
    js = nc.jetstream()
    await ensure_streams(js)
    household = uuid4()
    references = [f"m{i}" for i in range(40)]
    references[24] = POISON_REFERENCE
    for reference in references:
        data, headers = fact_message(reference, household)
        await js.publish(FACT_REPORTED.subject_for(department="civil_affairs"), data, headers=headers)
    await runtime.start()
    try:
        expected = [r for r in references if r != POISON_REFERENCE]
        for _ in range(300):
            if app.references(household) == expected:
                break
            await asyncio.sleep(0.05)
        assert app.references(household) == expected
        assert app.position("inbox:DEPARTMENT") == 40
        assert len(commits) >= 6 and commits == sorted(commits)
    finally:
        await runtime.stop()
        await nc.close()
