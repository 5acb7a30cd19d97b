"""Outbox relay: the service's notification log, in order, onto JetStream.

The event store is the outbox: an event is published if and only if it was stored. The relay reads
notifications after its recorded position, translates each domain event into zero or more contract
events, publishes them with `Nats-Msg-Id: <service>:<notification id>` (many in flight), and only
after every PubAck up to a notification records that notification as its position. A crash
anywhere means republishing from the recorded position; JetStream's duplicate window drops the
copies. A failed publish stops the batch at the first failure: nothing is skipped, nothing reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry.trace import SpanKind

from contracts.envelope import MSG_ID_HEADER
from services.kit import faults
from services.kit.codec import Outgoing, encode
from services.kit.metrics import RELAY_DUPLICATES, RELAY_FAILURES, RELAY_LAG, RELAY_POSITION, RELAY_PUBLISHED
from services.kit.store import ServiceApplication, trace_headers_of
from services.kit.tracing import inject, span

log = logging.getLogger(__name__)

Translator = Callable[[DomainEventProtocol[UUID]], Sequence[Outgoing]]
POSITION = "outbox"


class RelayError(Exception):
    """A batch could not be published completely; the relay retries from its recorded position."""


class OutboxRelay:
    def __init__(self, app: ServiceApplication, js: JetStreamContext, translate: Translator) -> None:
        self.app = app
        self.js = js
        self.translate = translate
        self.settings = app.settings
        self.service = app.settings.service_name
        self.source = f"/housing/{self.service}"
        self.position = 0
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Called from any thread after a save: publish now rather than at the next poll."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self.app.on_saved(self.wake)
        self.position = await asyncio.to_thread(self.app.position, POSITION)
        backoff = 0.1
        while not stop.is_set():
            self._wakeup.clear()
            batch = await asyncio.to_thread(self._select)
            if not batch:
                await self._idle(stop, self.settings.relay_idle_poll_s)
                continue
            try:
                await self.publish_batch(batch)
                backoff = 0.1
            except RelayError as exc:
                RELAY_FAILURES.labels(self.service).inc()
                log.warning("relay batch incomplete, retrying in %.1fs: %s", backoff, exc)
                await self._idle(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def _idle(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = {asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())}
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    def _select(self) -> Sequence[Notification]:
        batch = self.app.process_recorder.select_notifications(
            start=self.position, limit=self.settings.relay_batch_size, inclusive_of_start=False
        )
        latest = self.app.process_recorder.max_notification_id() or 0
        RELAY_LAG.labels(self.service).set(max(latest - self.position, 0))
        return batch

    async def publish_batch(self, batch: Sequence[Notification]) -> None:
        """Publish a batch, then record the position of the longest fully acknowledged prefix."""
        sent: list[tuple[int, list[asyncio.Future[PubAck]]]] = []
        failure: BaseException | None = None
        for notification in batch:
            try:
                sent.append((notification.id, await self._send(notification)))
            except Exception as exc:  # closed connection, stalled client, untranslatable event
                failure = exc
                break

        acknowledged = self.position
        try:
            for notification_id, futures in sent:
                for future in futures:
                    ack = await asyncio.wait_for(future, self.settings.relay_publish_timeout_s)
                    RELAY_PUBLISHED.labels(self.service).inc()
                    if ack.duplicate:
                        RELAY_DUPLICATES.labels(self.service).inc()
                acknowledged = notification_id
        except Exception as exc:  # timeout, no stream, connection lost while waiting
            failure = failure or exc
        finally:
            for _, futures in sent:
                for future in futures:
                    if not future.done():
                        future.cancel()

        if acknowledged > self.position:
            faults.hit("relay.after_publish")
            await asyncio.to_thread(self.app.record_position, POSITION, acknowledged)
            self.position = acknowledged
            RELAY_POSITION.labels(self.service).set(acknowledged)
        if failure is not None:
            raise RelayError(f"stopped after notification {acknowledged}: {failure!r}") from failure

    async def _send(self, notification: Notification) -> list[asyncio.Future[PubAck]]:
        try:
            event = self.app.mapper.to_domain_event(notification)
            parent = trace_headers_of(self.app.mapper, notification)
            outgoing = self.translate(event)
        except Exception as exc:  # a bug, not bad luck: stay at this notification, loudly
            log.exception("cannot translate notification %s", notification.id)
            raise RelayError(f"notification {notification.id}: {exc!r}") from exc
        occurred = getattr(event, "timestamp", None) or datetime.now(UTC)
        futures = []
        for index, out in enumerate(outgoing):
            msg_id = f"{self.service}:{notification.id}" + (f":{index}" if index else "")
            with span(
                f"{out.spec.subject} publish",
                SpanKind.PRODUCER,
                parent=parent,
                **{
                    "messaging.system": "nats",
                    "messaging.destination.name": out.spec.subject,
                    "messaging.message.id": msg_id,
                },
            ):
                headers = inject({MSG_ID_HEADER: msg_id})
                data = encode(out, event_id=msg_id, source=self.source, time=occurred)
                futures.append(await self.js.publish_async(out.spec.subject, data, headers=headers))
        return futures
