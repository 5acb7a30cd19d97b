"""`SERVICE_LOOPS`: one service as several processes on one store, each running only the loops it is
told to. Here an inbox-only runtime stores what a department publishes, and a relay-only runtime (its
own application on the same store, nothing shared in memory) publishes what the other stored; a real
nats-server and a SQLite file between them."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, DomainEventProtocol, event
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from contracts.eligibility import FactRecorded
from contracts.envelope import MSG_ID_HEADER
from services.kit import clock
from services.kit.bus import connect, ensure_streams
from services.kit.codec import Incoming, Outgoing, decode, encode
from services.kit.relay import POSITION
from services.kit.runtime import Consumes, Runtime, run_without_http
from services.kit.settings import ServiceSettings
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork
from tests.support.nats import NatsServer

FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
FACT_RECORDED = EVENTS_BY_TYPE[("housing.eligibility.fact-recorded", 1)]
FACTS = 40


class Received(Aggregate):
    """One department fact, as the service stores it."""

    class Stored(Aggregate.Created):
        household_id: UUID
        reference: str
        described_on: date

    @event(Stored)
    def __init__(self, household_id: UUID, reference: str, described_on: date) -> None:
        self.household_id = household_id
        self.reference = reference
        self.described_on = described_on


class Recorder(ServiceApplication):
    name = "Recorder"


def receive(incoming: Incoming, uow: UnitOfWork) -> None:
    report = incoming.payload
    assert isinstance(report, DepartmentFactReported) and report.household_id is not None
    uow.add(Received(report.household_id, report.reference, report.described_on))


def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
    if not isinstance(domain_event, Received.Stored):
        return []
    recorded = FactRecorded(
        household_id=domain_event.household_id,
        department="civil_affairs",  # type: ignore[arg-type]
        reference=domain_event.reference,
        kind="income",
        described_on=domain_event.described_on,
    )
    return [Outgoing(FACT_RECORDED, str(recorded.household_id), recorded)]


def _runtime(loops: str, nats: NatsServer, store: dict[str, str], tmp_path: Path, port: int) -> Runtime:
    settings = ServiceSettings(
        service_name="recorder",
        nats_url=nats.url,
        var_dir=tmp_path,
        http_port=port,  # part of the instance id: the two processes are different replicas
        service_loops=loops,
        relay_idle_poll_s=0.05,  # the relay is not in the writers' process: it learns by polling
    )
    app = Recorder(settings, store)
    return Runtime(
        app, translate=translate, consumes=(Consumes("DEPARTMENT", {FACT_REPORTED.type: receive}),)
    )


def test_loops_are_chosen_by_name_or_by_kind() -> None:
    split = ServiceSettings(service_loops=" http , inbox.DEPARTMENT ")
    assert split.service_loops == "http,inbox.DEPARTMENT"
    assert split.runs("http") and split.runs("inbox.DEPARTMENT")
    assert not split.runs("relay") and not split.runs("inbox.MONITORING")
    every_inbox = ServiceSettings(service_loops="inbox")
    assert every_inbox.runs("inbox.MONITORING") and not every_inbox.runs("http")
    default = ServiceSettings()
    assert all(default.runs(name) for name in ("http", "relay", "inbox.DEPARTMENT"))
    for wrong in ("", " , ", "relay;inbox", "Relay"):
        with pytest.raises(ValidationError):
            ServiceSettings(service_loops=wrong)


def test_a_relay_only_process_publishes_what_an_inbox_only_process_stored(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "recorder.sqlite")}
    household = uuid4()

    async def scenario() -> tuple[dict[str, str], int, int, int]:
        nc = await connect(nats_server.url, "test-department", identity="admin")
        js = nc.jetstream()
        await ensure_streams(js)
        inbox_only = _runtime("inbox", nats_server, store, tmp_path, 1)
        relay_only = _runtime("relay", nats_server, store, tmp_path, 2)
        published: dict[str, str] = {}
        all_there = asyncio.Event()

        async def collect(msg: Msg) -> None:
            _, _, payload = decode(msg.data)
            assert isinstance(payload, FactRecorded)
            published[payload.reference] = (msg.headers or {}).get(MSG_ID_HEADER, "")
            if len(published) == FACTS:
                all_there.set()

        await js.subscribe(
            FACT_RECORDED.subject,
            stream="ELIGIBILITY",
            cb=collect,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        await inbox_only.start()
        await relay_only.start()
        try:
            assert inbox_only.relay is None and [i.stream for i in inbox_only.inboxes] == ["DEPARTMENT"]
            assert relay_only.relay is not None and relay_only.inboxes == []
            for n in range(FACTS):
                report = DepartmentFactReported.model_validate(
                    {
                        "department": "civil_affairs",
                        "reference": f"MZ-{n}",
                        "described_on": date(2026, 11, 1),
                        "household_id": household,
                        "fact": {"kind": "income", "monthly_income": "3000.00"},
                    }
                )
                out = Outgoing(FACT_REPORTED, str(household), report)
                data = encode(out, event_id=f"MZ-{n}", source="/departments/test", time=clock.now())
                await js.publish(
                    FACT_REPORTED.subject_for(department="civil_affairs"),
                    data,
                    headers={MSG_ID_HEADER: f"MZ-{n}"},
                )
            await asyncio.wait_for(all_there.wait(), 30)
            # The relay's position is recorded in the shared store, where the inbox's process sees it.
            stored = await asyncio.to_thread(inbox_only.app.process_recorder.max_notification_id) or 0
            for _ in range(200):
                if await asyncio.to_thread(inbox_only.app.position, POSITION) >= stored:
                    break
                await asyncio.sleep(0.05)
            handled = await asyncio.to_thread(relay_only.app.position, "inbox:DEPARTMENT")
            relayed = await asyncio.to_thread(inbox_only.app.position, POSITION)
            # Idle now: the relay polls (every 50 ms here) but records its position only when it moved.
            records: list[int] = []
            record = relay_only.app.record_position

            def counted(name: str, position: int) -> None:
                records.append(position)
                record(name, position)

            relay_only.app.record_position = counted  # type: ignore[method-assign]
            await asyncio.sleep(0.5)
        finally:
            await relay_only.stop()
            await inbox_only.stop()
            await nc.close()
        return published, handled, relayed - stored, len(records)

    published, handled, behind, idle_records = asyncio.run(scenario())
    assert sorted(published) == sorted(f"MZ-{n}" for n in range(FACTS))
    assert all(msg_id.startswith("recorder:") for msg_id in published.values())
    assert handled == FACTS
    assert behind == 0
    assert idle_records == 0


def test_a_process_without_http_runs_its_loops_until_sigterm(nats_server: NatsServer, tmp_path: Path) -> None:
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "recorder.sqlite")}
    runtime = _runtime("relay", nats_server, store, tmp_path, 3)

    async def scenario() -> tuple[bool, bool]:
        nc = await connect(nats_server.url, "test-streams", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()
        task = asyncio.create_task(run_without_http(runtime))
        for _ in range(200):
            if runtime._tasks:
                break
            await asyncio.sleep(0.05)
        running = not task.done() and runtime.relay is not None
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 30)
        return running, runtime.nc is not None and runtime.nc.is_closed

    running, closed = asyncio.run(scenario())
    assert running, "the relay ran in the headless process"
    assert closed, "SIGTERM stopped it gracefully (its connection drained and closed)"
