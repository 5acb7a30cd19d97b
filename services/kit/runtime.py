"""One service process: its Application, its NATS connection, its relay and its inboxes.

Start and stop are the only lifecycle the HTTP app needs: start connects and launches the background
loops; stop lets in-flight batches finish (their commits and acks), then drains the connection so
nothing acknowledged is left unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS

from contracts.catalogue import EVENTS_BY_TYPE, STREAMS
from services.kit.bus import connect
from services.kit.inbox import Handler, Inbox
from services.kit.relay import OutboxRelay, Translator
from services.kit.store import ServiceApplication

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

    async def start(self) -> None:
        self.nc = await connect(self.app.settings.nats_url, f"housing-{self.service}")
        if self.translate is not None:
            self.relay = OutboxRelay(self.app, self.nc.jetstream(), self.translate)
            self._tasks.append(asyncio.create_task(self.relay.run(self._stop), name="relay"))
        for consumes in self.consumes:
            inbox = Inbox(self.app, self.nc, consumes.stream, consumes.handlers, subjects=consumes.subjects())
            self.inboxes.append(inbox)
            self._tasks.append(asyncio.create_task(inbox.run(self._stop), name=f"inbox-{consumes.stream}"))
        log.info("%s started: relay=%s inboxes=%s", self.service, bool(self.relay), len(self.inboxes))

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
