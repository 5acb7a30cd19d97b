"""Outbox relay: the service's notification log, in order, onto JetStream.

The event store is the outbox: an event is published if and only if it was stored. The relay reads
notifications after its recorded position, translates each domain event into zero or more contract
events, publishes them with `Nats-Msg-Id: <service>:<notification id>` (many in flight), and only
after every PubAck up to a notification records that notification as its position. A crash
anywhere means republishing from the recorded position; JetStream's duplicate window drops the
copies. A failed publish stops the batch at the first failure: nothing is skipped, nothing reordered.
A translator may name the topics it never publishes anything for (`Silent`): those notifications are
passed over undecoded (their position still advances).

The messages of a batch go to JetStream as *atomic batches* (nats-server 2.12+, up to 1,000 messages,
one PubAck for the commit), because the broker syncs every write to disk (`sync_interval: always`)
and an atomic batch is synced once: measured here, 15-23 µs of server CPU a message instead of 73-91.
All of a batch is stored or none of it. Its one weakness is a republish: a message stored before makes
the server refuse the whole batch (error 10201) where a single publish would answer "duplicate". So
after any failure of an atomic batch, the relay republishes from its position a message at a time up
to what it had sent (the duplicate window drops the copies), then goes on in atomic batches. A server
or stream that does not take atomic batches turns them off for the process (`RELAY_ATOMIC_BATCHES`
does it for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

import nats.js.errors
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import Header, PubAck
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from contracts.envelope import MSG_ID_HEADER
from services.kit import faults
from services.kit.codec import Outgoing, encode
from services.kit.metrics import RELAY_DUPLICATES, RELAY_FAILURES, RELAY_LAG, RELAY_POSITION, RELAY_PUBLISHED
from services.kit.store import ServiceApplication, decode_with_trace
from services.kit.tracing import inject, span

log = logging.getLogger(__name__)

Translator = Callable[[DomainEventProtocol[UUID]], Sequence[Outgoing]]


class Silent(Protocol):
    """A translator that also names the stored event topics it never publishes anything for."""

    silent_topics: frozenset[str]

    def __call__(self, event: DomainEventProtocol[UUID]) -> Sequence[Outgoing]: ...


POSITION = "outbox"
MAX_IN_FLIGHT = 4
ATOMIC_MAX = 1_000
"""Messages in one atomic batch: nats-server's limit."""
DUPLICATE_IN_BATCH = 10201
"""JetStream's error code for an atomic batch holding a message it stored before."""
NOT_THIS_TIME = frozenset({DUPLICATE_IN_BATCH, 10175, 10176, 10210})
"""Error codes that refuse one atomic batch, not atomic batches: a duplicate, a sequence missing or a
batch incomplete (a message lost on the wire), too many batches in flight."""

Message = tuple[str, bytes, dict[str, str]]
"""Subject, data, headers."""


@dataclass
class _Step:
    """Publishes that confirm every notification up to `notification_id` once their PubAcks arrive:
    one notification's messages, or an atomic batch of `atomic` messages (one PubAck for all)."""

    notification_id: int
    futures: list[asyncio.Future[PubAck]]
    atomic: int = 0


@dataclass
class _Sent:
    """One batch's publishes, in notification order."""

    items: list[_Step] = field(default_factory=list)
    failure: BaseException | None = None

    @property
    def last_id(self) -> int:
        return self.items[-1].notification_id if self.items else 0

    def cancel(self) -> None:
        for step in self.items:
            for future in step.futures:
                if not future.done():
                    future.cancel()


class AtomicRefused(Exception):
    """The server did not take an atomic batch as one (no atomic batches on this server or stream)."""


class RelayError(Exception):
    """A batch could not be published completely; the relay retries from its recorded position."""


class _Acks:
    """JetStream publishes with their PubAcks as futures: what `JetStreamContext.publish_async` does,
    less its per-message costs that the relay does not need.

    `publish_async` draws two random bytes from the OS for every message's reply token (a system call,
    4 % of the eligibility pipeline's CPU when profiled), waits on a pending-publish semaphore and hangs
    a clean-up callback on every future. The relay bounds what it has in flight itself (`MAX_IN_FLIGHT`
    batches) and drops everything pending when it starts over (`reset`), so a counter names the replies.
    The wire protocol is the same: a publish with a reply subject, answered by the stream's PubAck.
    """

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self._prefix = ""
        self._tokens = itertools.count(1)
        self._pending: dict[str, asyncio.Future[PubAck]] = {}

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> asyncio.Future[PubAck]:
        if not self._prefix:
            prefix = f"{self.nc.new_inbox()}."
            await self.nc.subscribe(f"{prefix}*", cb=self._on_reply)
            self._prefix = prefix
        token = str(next(self._tokens))
        future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        try:
            await self.nc.publish(subject, data, reply=self._prefix + token, headers=headers)
        except BaseException:
            del self._pending[token]
            raise
        return future

    async def _on_reply(self, msg: Msg) -> None:
        future = self._pending.pop(msg.subject[len(self._prefix) :], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get(Header.STATUS) == "503":  # no stream listens on the subject
            future.set_exception(nats.js.errors.NoStreamResponseError())
            return
        try:
            response = json.loads(msg.data)
        except ValueError as exc:
            future.set_exception(exc)
            return
        if "error" in response:
            try:  # `from_error` raises the matching APIError
                nats.js.errors.APIError.from_error(response["error"])
            except nats.js.errors.APIError as error:
                future.set_exception(error)
        else:
            future.set_result(PubAck.from_response(response))

    def reset(self) -> None:
        """Forget every publish still waiting for its PubAck (the relay republishes from its position)."""
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.cancel()


class OutboxRelay:
    def __init__(self, app: ServiceApplication, nc: NATS, translate: Translator) -> None:
        self.app = app
        self.acks = _Acks(nc)
        self.translate = translate
        self.settings = app.settings
        self.service = app.settings.service_name
        # Labelled once: `labels()` per published message cost more than publishing's own bookkeeping.
        self._published = RELAY_PUBLISHED.labels(self.service)
        self._duplicates = RELAY_DUPLICATES.labels(self.service)
        self._lag = RELAY_LAG.labels(self.service)
        self.source = f"/housing/{self.service}"
        self.position = 0  # recorded in the store
        self.acknowledged = 0  # confirmed by JetStream, recorded soon
        self._recorded_at = 0.0
        self._wakeup = asyncio.Event()  # set after each save: publish now, not at the next poll
        silent = getattr(translate, "silent_topics", None)
        self._silent: frozenset[str] = frozenset(silent) if silent else frozenset()
        self._atomic = app.settings.relay_atomic_batches
        self._sent_up_to = 0  # the last notification sent, confirmed or not
        self._one_by_one_until = 0  # after a failed atomic batch: republish up to here one by one

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to `MAX_IN_FLIGHT` batches published and unconfirmed; confirm the oldest first.

        Sending the next batch while JetStream is still writing (and syncing) the previous one keeps
        both the relay and the server busy. Positions are still recorded in notification order.
        """
        self.app.wake_on_save(self._wakeup)
        backoff = 0.1
        started = False
        in_flight: deque[_Sent] = deque()
        sent_up_to = 0
        while not stop.is_set():
            self._wakeup.clear()
            try:
                if not started:
                    self.position = await asyncio.to_thread(self.app.position, POSITION)
                    self.acknowledged = sent_up_to = self.position
                    started = True
                batch = (
                    await asyncio.to_thread(self._select, sent_up_to)
                    if len(in_flight) < MAX_IN_FLIGHT
                    else []
                )
                if batch:
                    sent = await self._send_batch(batch)
                    in_flight.append(sent)
                    sent_up_to = sent.last_id
                    if sent.failure is not None:
                        raise RelayError(f"publishing after notification {sent.last_id}: {sent.failure!r}")
                elif in_flight:
                    await self._confirm(in_flight.popleft())
                else:
                    await self._record(force=True)
                    await self._idle(stop, self.settings.relay_idle_poll_s)
                    # Let a burst of saves gather: one larger batch costs the store and the broker
                    # less than many small ones, for a few milliseconds of latency.
                    await asyncio.sleep(self.settings.relay_linger_s)
                backoff = 0.1
            except Exception as exc:  # bus or store away: republish from the recorded position
                for sent in in_flight:
                    sent.cancel()
                in_flight.clear()
                self.acks.reset()
                sent_up_to = self.acknowledged
                RELAY_FAILURES.labels(self.service).inc()
                log.warning("relay stopped at %s, retrying in %.1fs: %r", self.position, backoff, exc)
                await self._idle(stop, backoff)
                backoff = min(backoff * 2, 5.0)
        with contextlib.suppress(Exception):  # a graceful stop records what was acknowledged
            while in_flight:
                await self._confirm(in_flight.popleft())
            await self._record(force=True)

    async def _idle(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = {asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())}
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    def _select(self, after: int) -> Sequence[Notification]:
        limit = self.settings.relay_batch_size
        batch = self.app.process_recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        if len(batch) < limit:  # everything stored was read: no second query for the lag
            latest = batch[-1].id if batch else after
        else:
            latest = self.app.process_recorder.max_notification_id() or 0
        self._lag.set(max(latest - self.position, 0))
        return batch

    async def _send_batch(self, batch: Sequence[Notification]) -> _Sent:
        sent = _Sent()
        atomic = self._atomic and batch[0].id > self._one_by_one_until
        chunk: list[Message] = []
        try:
            for notification in batch:
                messages = self._messages(notification)
                if not atomic:
                    futures = [await self.acks.publish(*message) for message in messages]
                    sent.items.append(_Step(notification.id, futures))
                    continue
                if chunk and len(chunk) + len(messages) > ATOMIC_MAX:
                    sent.items.append(await self._commit(chunk, self._sent_up_to))
                    chunk = []
                chunk += messages
                self._sent_up_to = notification.id
            if atomic:
                sent.items.append(await self._commit(chunk, batch[-1].id))
        except Exception as exc:  # closed connection, stalled client, untranslatable event
            sent.failure = exc
        if sent.items:
            self._sent_up_to = max(self._sent_up_to, sent.last_id)
        return sent

    async def _commit(self, chunk: list[Message], notification_id: int) -> _Step:
        """Publish `chunk` as one atomic batch (a single message as a plain publish, which a republish
        answers with "duplicate" rather than an error)."""
        if not chunk:  # only notifications that publish nothing
            return _Step(notification_id, [])
        if len(chunk) == 1:
            return _Step(notification_id, [await self.acks.publish(*chunk[0])])
        batch_id = uuid.uuid4().hex
        for sequence, (subject, data, headers) in enumerate(chunk[:-1], 1):
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(sequence)
            await self.acks.nc.publish(subject, data, headers=headers)
        subject, data, headers = chunk[-1]
        headers["Nats-Batch-Id"] = batch_id
        headers["Nats-Batch-Sequence"] = str(len(chunk))
        headers["Nats-Batch-Commit"] = "1"
        return _Step(notification_id, [await self.acks.publish(subject, data, headers)], atomic=len(chunk))

    async def _confirm(self, sent: _Sent) -> None:
        """Wait for the PubAcks; the last notification whose messages all arrived is acknowledged."""
        failure: BaseException | None = None
        step: _Step | None = None
        try:
            for step in sent.items:
                for future in step.futures:
                    if future.done():  # the usual case by now: no timer for it
                        ack = future.result()
                    else:
                        ack = await asyncio.wait_for(future, self.settings.relay_publish_timeout_s)
                    if step.atomic and ack.batch_size != step.atomic:
                        raise AtomicRefused(f"{step.atomic} messages sent as a batch, PubAck {ack}")
                    self._published.inc(step.atomic or 1)
                    if ack.duplicate:
                        self._duplicates.inc()
                self.acknowledged = max(self.acknowledged, step.notification_id)
        except Exception as exc:  # timeout, no stream, connection lost while waiting
            failure = exc
            if step is not None and step.atomic:
                self._atomic_failed(exc)
        finally:
            sent.cancel()
        await self._record(force=failure is not None)
        if failure is not None:
            raise RelayError(f"stopped after notification {self.acknowledged}: {failure!r}") from failure

    async def _record(self, *, force: bool) -> None:
        """Store the acknowledged position, at most every `relay_position_interval_s` while busy.

        Each record is a commit (and a sync) in the service's store, which the service's own writes
        wait behind; under load a few per second are enough. Recording less often only means
        republishing a little more after a crash, which the duplicate window absorbs.
        """
        if self.acknowledged <= self.position:
            return
        now = time.monotonic()
        if not force and now - self._recorded_at < self.settings.relay_position_interval_s:
            return
        faults.hit("relay.after_publish")
        await asyncio.to_thread(self.app.record_position, POSITION, self.acknowledged)
        self.position = self.acknowledged
        self._recorded_at = now
        RELAY_POSITION.labels(self.service).set(self.position)

    def _atomic_failed(self, exc: BaseException) -> None:
        """Republish what was sent a message at a time; stop atomic batches if the server refused one."""
        self._one_by_one_until = max(self._one_by_one_until, self._sent_up_to)
        refused = isinstance(exc, nats.js.errors.APIError | AtomicRefused)
        transient = isinstance(exc, nats.js.errors.ServiceUnavailableError) or (
            getattr(exc, "err_code", None) in NOT_THIS_TIME
        )
        if transient or not refused:
            log.info(
                "relay: atomic batch not stored (%r); republishing up to %s one by one", exc, self._sent_up_to
            )
            return
        log.warning("relay: the server refused an atomic batch (%r); publishing a message at a time", exc)
        self._atomic = False

    def _messages(self, notification: Notification) -> list[Message]:
        """The notification's contract events, encoded, each with its id and trace context."""
        if notification.topic in self._silent:
            return []  # the translator makes nothing of this type: not even decoded
        try:
            event, parent = decode_with_trace(self.app.mapper, notification)
            outgoing = self.translate(event)
        except Exception as exc:  # a bug, not bad luck: stay at this notification, loudly
            log.exception("cannot translate notification %s", notification.id)
            raise RelayError(f"notification {notification.id}: {exc!r}") from exc
        occurred = getattr(event, "timestamp", None) or self.app.clock()
        messages = []
        traced = bool(parent) or isinstance(trace.get_tracer_provider(), TracerProvider)
        for index, out in enumerate(outgoing):
            msg_id = f"{self.service}:{notification.id}" + (f":{index}" if index else "")
            data = encode(out, event_id=msg_id, source=self.source, time=occurred)
            if not traced:  # no tracer and no stored context: the span and its headers would be empty
                messages.append((out.nats_subject, data, {MSG_ID_HEADER: msg_id}))
                continue
            # The producer span is the message's creation: its context travels in the headers, and
            # the consumer's span is its child. The bytes leave with the batch, just after.
            with span(
                f"{out.nats_subject} publish",
                SpanKind.PRODUCER,
                parent=parent,
                **{
                    "messaging.system": "nats",
                    "messaging.destination.name": out.nats_subject,
                    "messaging.message.id": msg_id,
                },
            ):
                messages.append((out.nats_subject, data, inject({MSG_ID_HEADER: msg_id})))
        return messages
