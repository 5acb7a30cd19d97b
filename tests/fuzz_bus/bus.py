"""The services' inboxes on a real nats-server, in one process, and what they did with each message.

Each service is its real Application with its real handlers (`consumes(app)`), run by the kit's
`Runtime` exactly as the service runs them (durable pull consumers, leases, dead letters), but
without its relay: the fuzzer's messages are the only traffic, so every outcome is attributable.
Every handler is wrapped by `witness.Witnessed`, whose ledger shows how often a message's effects
were committed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.deadletter import DeadLetter
from contracts.envelope import MSG_ID_HEADER
from services.kit.bus import connect, ensure_streams
from services.kit.runtime import Consumes, Runtime
from services.kit.store import ServiceApplication
from tests.fuzz_bus.messages import Message
from tests.fuzz_bus.witness import seen, witnessed


def _eligibility(
    settings: dict[str, Any], env: dict[str, str]
) -> tuple[ServiceApplication, Sequence[Consumes]]:
    from services.eligibility.application import EligibilityApp
    from services.eligibility.handlers import consumes
    from services.eligibility.settings import EligibilitySettings

    app = EligibilityApp(EligibilitySettings(**settings), env)
    return app, consumes(app)


def _penalties(
    settings: dict[str, Any], env: dict[str, str]
) -> tuple[ServiceApplication, Sequence[Consumes]]:
    from services.penalties.application import PenaltiesApp
    from services.penalties.handlers import consumes
    from services.penalties.settings import PenaltiesSettings

    app = PenaltiesApp(PenaltiesSettings(**settings), env)
    return app, consumes(app)


def _resettlement(
    settings: dict[str, Any], env: dict[str, str]
) -> tuple[ServiceApplication, Sequence[Consumes]]:
    from services.resettlement.application import ResettlementApp
    from services.resettlement.handlers import consumes
    from services.resettlement.settings import ResettlementSettings

    app = ResettlementApp(ResettlementSettings(**settings), env)
    return app, consumes(app)


def _training(settings: dict[str, Any], env: dict[str, str]) -> tuple[ServiceApplication, Sequence[Consumes]]:
    from services.training.application import TrainingApp
    from services.training.handlers import consumes
    from services.training.settings import TrainingSettings

    training_settings = TrainingSettings(**settings)
    app = TrainingApp(training_settings, env)
    app.seed_courses(training_settings.training_courses_file)
    return app, consumes(app)


def _monitoring(
    settings: dict[str, Any], env: dict[str, str]
) -> tuple[ServiceApplication, Sequence[Consumes]]:
    from services.monitoring.application import MonitoringApp
    from services.monitoring.handlers import consumes
    from services.monitoring.settings import MonitoringSettings

    app = MonitoringApp(MonitoringSettings(**settings), env)
    return app, consumes(app)


def _federation(
    settings: dict[str, Any], env: dict[str, str]
) -> tuple[ServiceApplication, Sequence[Consumes]]:
    from federation.application import FederationApp
    from federation.handlers import HANDLERS
    from federation.settings import FederationSettings

    app = FederationApp(FederationSettings(**settings), env)
    return app, (Consumes("ELIGIBILITY", HANDLERS),)


SERVICES: dict[
    str, Callable[[dict[str, Any], dict[str, str]], tuple[ServiceApplication, Sequence[Consumes]]]
] = {
    "eligibility": _eligibility,
    "penalties": _penalties,
    "resettlement": _resettlement,
    "training": _training,
    "monitoring": _monitoring,
    "federation": _federation,
}


@dataclass
class Service:
    name: str
    app: ServiceApplication
    runtime: Runtime
    handles: dict[str, frozenset[str]]
    """Per stream, the event types the service's handlers take."""


@dataclass(frozen=True)
class Published:
    message: Message
    stream: str
    sequence: int


@dataclass
class Bus:
    nc: NATS
    js: JetStreamContext
    services: list[Service]
    deadletters: dict[tuple[str, str, int], DeadLetter] = field(default_factory=dict)
    entry_deadletters: dict[tuple[str, str, int], DeadLetter] = field(default_factory=dict)
    """The record of a batch event's invalid entries (its valid ones are handled): apart, as a whole
    message of the same sequence may still be dead-lettered on its own."""
    deadletter_headers: dict[tuple[str, str, int], dict[str, str]] = field(default_factory=dict)
    _deadletter_cursor: int = 1
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    async def start(cls, url: str, directory: Path, names: Sequence[str] = tuple(SERVICES)) -> Bus:
        nc = await connect(url, "fuzzer", identity="admin")
        js = nc.jetstream()
        await ensure_streams(js)
        services = []
        for name in names:
            settings = {
                "nats_url": url,
                "var_dir": directory / name,
                "instance_id": f"fuzz-{name}",
                "inbox_max_deliver": 2,
                "inbox_retry_backoff_s": 0.02,
                "inbox_retry_backoff_max_s": 0.05,
            }
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(directory / f"{name}.sqlite"),
            }
            app, consumes = SERVICES[name](settings, env)
            runtime = Runtime(app, consumes=witnessed(consumes))
            await runtime.start()
            handles = {c.stream: frozenset(c.handlers) for c in consumes}
            services.append(Service(name, app, runtime, handles))
        return cls(nc, js, services)

    async def stop(self) -> None:
        for service in self.services:
            await service.runtime.stop(grace_s=5)
        await self.nc.close()

    def consumers(self, stream: str) -> list[Service]:
        return [s for s in self.services if stream in s.handles]

    async def publish(self, message: Message) -> Published:
        headers = {"Nats-Msg-Id": f"fuzz:{next(self._ids)}:{uuid4().hex}"}
        ack = await self.js.publish(message.subject, message.data, headers=headers, timeout=10)
        return Published(message, ack.stream, ack.seq)

    async def settle(self, published: Sequence[Published], timeout: float = 60.0) -> None:
        """Wait until every inbox has passed the last published sequence of its stream."""
        last: dict[str, int] = {}
        for p in published:
            last[p.stream] = max(last.get(p.stream, 0), p.sequence)
        deadline = time.monotonic() + timeout
        while True:
            behind = []
            for stream, sequence in last.items():
                for service in self.consumers(stream):
                    position = await asyncio.to_thread(service.app.position, f"inbox:{stream}")
                    if position < sequence:
                        behind.append(f"{service.name} on {stream} at {position} of {sequence}")
            if not behind:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"inboxes stopped consuming: {'; '.join(behind)}")
            await asyncio.sleep(0.05)
        await self._read_deadletters()

    async def _read_deadletters(self) -> None:
        while True:
            try:
                raw = await self.js.get_msg(
                    "DEADLETTER", seq=self._deadletter_cursor, subject="housing.deadletter.>", next=True
                )
            except NotFoundError:
                return
            assert raw.seq is not None
            record = DeadLetter.model_validate_json(raw.data or b"")
            key = (record.service, record.stream, record.stream_sequence)
            headers = dict(raw.headers or {})
            kept = (
                self.entry_deadletters
                if headers.get(MSG_ID_HEADER, "").endswith(":entries")
                else self.deadletters
            )
            assert key not in kept, f"dead-lettered twice: {key}"
            kept[key] = record
            self.deadletter_headers[key] = headers
            self._deadletter_cursor = raw.seq + 1

    async def witnessed(self, service: Service, stream: str) -> dict[int, int]:
        return dict(await asyncio.to_thread(seen, service.app, stream))
