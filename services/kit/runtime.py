"""One service process: its Application, its NATS connection, its relay and its inboxes.

Start and stop are the only lifecycle the HTTP app needs: start connects and launches the background
loops; stop lets in-flight batches finish (their commits and acks), then drains the connection so
nothing acknowledged is left unsent. Each loop runs under a lease (`services.kit.lease`), so replicas
of a service on one store share the loops between them and take over those of a replica that dies.

`SERVICE_LOOPS` chooses which loops a process bids for at all (`ServiceSettings.runs`): one service
can run as several processes on one store, e.g. HTTP and the inboxes in one and the relay in another,
each on its own core instead of all of them sharing one interpreter lock. A process without `http`
runs headless (`run_without_http`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from nats.aio.client import Client as NATS
from pydantic import BaseModel

from contracts.catalogue import EVENTS_BY_TYPE, STREAMS
from services.kit.bus import connect_as
from services.kit.codec import Incoming
from services.kit.inbox import Handler, Inbox
from services.kit.lease import Lease, lease_bucket, run_leased
from services.kit.relay import OutboxRelay, Translator
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumes:
    """The handlers of one stream, keyed by contract event type."""

    stream: str
    handlers: Mapping[str, Handler]

    def subjects(self) -> list[str]:
        """The whole stream: the inbox needs contiguous sequences (see `services.kit.inbox`)."""
        known = {spec.type for spec in EVENTS_BY_TYPE.values()}
        unknown = set(self.handlers) - known
        if unknown:
            raise ValueError(f"handlers for event types not in the catalogue: {sorted(unknown)}")
        return [subject for spec in STREAMS if spec.name == self.stream for subject in spec.subjects]


P = TypeVar("P", bound=BaseModel)


class NotYetKnown(LookupError):
    """A message about something this service has not heard of yet (a household whose registration,
    published on another stream, has not arrived). Raised by a handler, it makes the inbox retry with
    backoff (the other stream catches up meanwhile) and, if it never does, dead-letter the message for
    an operator to replay."""


def on(
    payload: type[P],
    act: Callable[[UnitOfWork, P], object],
    *,
    unknown: Literal["handled", "ignore", "retry"] = "handled",
) -> Handler:
    """The inbox handler that hands `act` the unit of work and the message's payload.

    `unknown` says what an answer of False or None from `act` ("I do not know this household") means:
    `handled` (the default) ignores the answer, `ignore` logs and drops the message, `retry` raises
    `NotYetKnown` so the inbox tries again later.
    """

    def handle(incoming: Incoming, uow: UnitOfWork) -> None:
        message = incoming.payload
        if not isinstance(message, payload):
            raise TypeError(f"{incoming.spec.type} carries {type(message).__name__}, not {payload.__name__}")
        answer = act(uow, message)
        if unknown == "handled" or (answer is not None and answer is not False):
            return
        if unknown == "retry":
            raise NotYetKnown(f"{incoming.spec.type} about {incoming.envelope.subject}, not known here yet")
        log.warning("%s about %s, not known here: ignored", incoming.spec.type, incoming.envelope.subject)

    return handle


@dataclass
class Runtime:
    app: ServiceApplication
    translate: Translator | None = None
    consumes: tuple[Consumes, ...] = ()
    nc: NATS | None = None
    relay: OutboxRelay | None = None
    inboxes: list[Inbox] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def service(self) -> str:
        return self.app.settings.service_name

    @property
    def instance(self) -> str:
        settings = self.app.settings
        return settings.instance_id or f"{socket.gethostname()}:{settings.http_port}"

    async def start(self) -> None:
        settings = self.app.settings
        self.nc = await connect_as(settings, f"housing-{self.service}")
        loops: list[tuple[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]]] = []
        if self.translate is not None and settings.runs("relay"):
            self.relay = OutboxRelay(self.app, self.nc, self.translate)
            loops.append(("relay", self.relay.run))
        for consumes in self.consumes:
            if not settings.runs(f"inbox.{consumes.stream}"):
                continue
            inbox = Inbox(self.app, self.nc, consumes.stream, consumes.handlers, subjects=consumes.subjects())
            self.inboxes.append(inbox)
            loops.append((f"inbox.{consumes.stream}", inbox.run))
        if loops:
            kv = await lease_bucket(self.nc.jetstream(), settings.lease_ttl_s, settings.stream_replicas)
            for name, loop in loops:
                lease = Lease(kv, f"{self.service}.{name}", self.instance, settings.lease_ttl_s)
                task = run_leased(lease, loop, self._stop, service=self.service)
                self._tasks.append(asyncio.create_task(task, name=name))
        log.info(
            "%s started as %s (%s): relay=%s inboxes=%s",
            self.service,
            self.instance,
            settings.service_loops,
            bool(self.relay),
            len(self.inboxes),
        )

    async def stop(self, grace_s: float = 15.0) -> None:
        self._stop.set()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("%s ended with %r", task.get_name(), task.exception())
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        self.app.close()
        log.info("%s stopped", self.service)

    async def readiness(self) -> dict[str, bool]:
        """Store and bus reachable, background loops alive."""
        try:
            await asyncio.to_thread(self.app.process_recorder.max_notification_id)
            store = True
        except Exception:
            store = False
        bus = self.nc is not None and self.nc.is_connected
        loops = all(not task.done() for task in self._tasks)
        return {"store": store, "nats": bus, "loops": loops}


async def run_without_http(runtime: Runtime) -> None:
    """A process that serves no HTTP (`SERVICE_LOOPS` without `http`): its loops, until SIGTERM or
    SIGINT, then the same graceful stop as the HTTP app's shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await runtime.start()
    try:
        await stop.wait()
    finally:
        await runtime.stop()
