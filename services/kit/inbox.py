"""Inbox: a durable JetStream pull consumer whose effects happen exactly once.

For each fetched batch, in stream order:
- a message at or below the recorded (stream, sequence) position was already handled: ack, no effect;
- a message that is not a valid contract event, or was delivered `max_deliver` times without being
  acknowledged (it keeps killing the process), goes to the dead-letter subject with its reason;
- the others are handled together: handlers write through one unit of work, committed with the
  tracking record of the batch's last sequence in one transaction, and only then acknowledged
  (a `BatchHandler` first sees all its messages of the batch; work the handlers deferred on the unit
  of work runs just before the commit, in the same transaction).
A handler that raises makes the batch fall back to one message at a time: the messages before it are
committed, the failing one is retried with backoff up to `max_deliver` attempts and then dead-lettered.
Order is kept because the library's tracking record is a high-water mark: nothing is handled past a
message until that message has been handled or dead-lettered.

A high-water mark is only safe if no message is skipped, and JetStream does not promise in-order
delivery: a message in flight when the broker dies is redelivered only after `ack_wait`, after later
ones. So the consumer reads the *whole* stream (messages of types it does not handle are recorded and
skipped), whose sequences are contiguous, and a batch that starts past `position + 1` first reads the
missing sequences straight from the stream. The late redelivery then falls below the mark.

JetStream's own `max_deliver` is left unlimited on purpose: when the server stops delivering a message
it is gone for this consumer, whereas our bound moves it to the dead-letter stream first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import nats.js.errors
from eventsourcing.persistence import IntegrityError, Tracking
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind

from contracts.deadletter import DeadLetter
from contracts.envelope import DEADLETTER_REASON_HEADER, MSG_ID_HEADER
from services.kit import faults
from services.kit.codec import ContractError, Incoming, Rejected, decode, entries
from services.kit.metrics import (
    INBOX_BATCH_SECONDS,
    INBOX_DEADLETTERED,
    INBOX_DUPLICATES,
    INBOX_PROCESSED,
    INBOX_RESUBSCRIBES,
    INBOX_RETRIES,
)
from services.kit.store import ServiceApplication
from services.kit.tracing import span
from services.kit.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, UnitOfWork], None]
T = TypeVar("T")


class BatchHandler(Protocol):
    """A handler that may also look at all its messages of a batch before handling them one by one
    (e.g. to read in one query whether each was received before). `prepare` must not change state
    that the commit stores: it is a head start, skipped when it fails."""

    def __call__(self, incoming: Incoming, uow: UnitOfWork) -> None: ...

    def prepare(self, batch: Sequence[Incoming], uow: UnitOfWork) -> None: ...


def _refusal(handler: Handler, payload: object) -> str | None:
    """Why a handler refuses a valid payload for good (its `refuse(payload)`, when it has one: a fact
    describing a day that has not come yet), or None. Asked when the message is classified, so a
    refused message is dead-lettered at once and a refused entry of a batch event alone, as an
    invalid one is, instead of failing its handler `max_deliver` times."""
    refuse = getattr(handler, "refuse", None)
    return None if refuse is None else refuse(payload)


class GapUnreadable(Exception):
    """A message the consumer skipped cannot be read from the stream now; its batch waits."""


@dataclass(frozen=True)
class _Outcome:
    """What `_apply` did: `items[:committed]` are stored; `failed_at` is the handler that raised."""

    committed: int
    failed_at: int | None = None
    error: BaseException | None = None


def _claims_other(payload: object, tokens: dict[str, str]) -> str | None:
    """What the payload names differently from its subject's tokens (`department=finance` on
    `...fact-reported.civil_affairs`), or None. The bus lets a credential publish only on its own
    tokens (services.kit.busauth), so this is how a consumer knows who really sent a payload."""
    for name, token in tokens.items():
        value = getattr(payload, name, None)
        if value is not None and str(value) != token:
            return f"{name}={value}"
    return None


def deadletter_subject(service: str) -> str:
    return f"housing.deadletter.{service}"


@dataclass
class _Item:
    """A message to handle: delivered by the consumer (`msg`), or read from the stream to fill a gap."""

    sequence: int
    subject: str
    data: bytes
    headers: dict[str, str]
    deliveries: int
    msg: Msg | None = None
    incoming: Incoming | None = None
    parts: list[Incoming] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    reason: str | None = None
    cause: str = ""
    classified: bool = False
    deadlettered: bool = False

    @property
    def work(self) -> list[Incoming]:
        """What handlers take from this message: itself, or each valid entry of a batch event."""
        return [self.incoming] if self.incoming is not None else self.parts

    @classmethod
    def delivered(cls, msg: Msg) -> _Item:
        metadata = msg.metadata
        return cls(
            metadata.sequence.stream,
            msg.subject,
            msg.data,
            dict(msg.headers or {}),
            metadata.num_delivered,
            msg,
        )

    async def in_progress(self) -> None:
        if self.msg is not None:
            with contextlib.suppress(Exception):
                await self.msg.in_progress()

    async def ack(self) -> None:
        if self.msg is not None:
            try:
                await self.msg.ack()
            except Exception as exc:  # the commit stands; a redelivery is acknowledged as duplicate
                log.info("ack of seq %s lost: %r", self.sequence, exc)


class Inbox:
    def __init__(
        self,
        app: ServiceApplication,
        nc: NATS,
        stream: str,
        handlers: Mapping[str, Handler],
        *,
        subjects: Sequence[str],
    ) -> None:
        """`subjects`: all of the stream's subjects (see the module docstring for why)."""
        self.app = app
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.stream = stream
        self.handlers = dict(handlers)
        self.subjects = sorted(subjects)
        self.settings = app.settings
        self.service = app.settings.service_name
        self.durable = f"{self.service}-{stream}".lower()
        self.tracking_name = f"inbox:{stream}"
        self.position = 0
        self._labels = (self.service, stream)

    # -- subscription ---------------------------------------------------------------------------

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.inbox_ack_wait_s,
            max_deliver=-1,
            max_ack_pending=self.settings.inbox_batch_size * 4,
            filter_subjects=self.subjects,
        )

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        try:
            await self.js.consumer_info(self.stream, self.durable)
        except nats.js.errors.NotFoundError:
            await self.js.add_consumer(self.stream, config=self.consumer_config())
        return await self.js.pull_subscribe_bind(
            durable=self.durable,
            stream=self.stream,
            pending_msgs_limit=self.settings.inbox_batch_size * 4,
            pending_bytes_limit=64 * 1024 * 1024,
        )

    async def _stalled(self, sub: JetStreamContext.PullSubscription) -> bool:
        """A pull subscription may not recover after a server restart: messages wait, none arrive."""
        try:
            info = await sub.consumer_info()
        except Exception:
            return True
        return bool(info.num_pending) or bool(info.num_waiting == 0 and info.num_ack_pending)

    # -- main loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch the next batch while the current one is handled (one batch prefetched at most)."""
        self.position = await self._store_retrying(lambda: self.app.position(self.tracking_name), [])
        batches: asyncio.Queue[list[Msg]] = asyncio.Queue(maxsize=1)
        fetcher = asyncio.create_task(self._fetch_loop(stop, batches), name=f"fetch-{self.durable}")
        try:
            # At a stop the fetcher ends after the fetch in flight (at most a second) and hands over
            # what it got: every message delivered to us is handled and acknowledged before we go,
            # rather than left to come back after `ack_wait` behind later ones.
            while not (stop.is_set() and fetcher.done() and batches.empty()):
                try:
                    msgs = await asyncio.wait_for(batches.get(), timeout=0.5)
                except TimeoutError:
                    if fetcher.done() and batches.empty():
                        break
                    continue
                started = time.perf_counter()
                try:
                    await self.process(msgs)
                except Exception:  # a bug: the unacknowledged messages come back after ack_wait
                    log.exception("inbox %s: batch failed", self.durable)
                    await asyncio.sleep(1.0)
                INBOX_BATCH_SECONDS.labels(*self._labels).observe(time.perf_counter() - started)
        finally:
            fetcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetcher

    async def _fetch_loop(self, stop: asyncio.Event, batches: asyncio.Queue[list[Msg]]) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        backoff = 0.1
        last_message = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    if sub is None:
                        sub = await self._subscribe()
                        INBOX_RESUBSCRIBES.labels(*self._labels).inc()
                    msgs = await self._fetch(sub)
                except TimeoutError:
                    if sub is not None and time.monotonic() - last_message > 5.0 and await self._stalled(sub):
                        log.warning("inbox %s: subscription stalled, rebuilding it", self.durable)
                        await self._drop(sub)
                        sub = None
                        last_message = time.monotonic()
                    continue
                except Exception as exc:
                    log.warning(
                        "inbox %s: fetch failed (%r); resubscribing in %.1fs", self.durable, exc, backoff
                    )
                    await self._drop(sub)
                    sub = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                last_message = time.monotonic()
                await batches.put(msgs)
            if sub is not None:
                await self._hand_over_leftovers(sub, batches)
        finally:
            await self._drop(sub)

    async def _hand_over_leftovers(
        self, sub: JetStreamContext.PullSubscription, batches: asyncio.Queue[list[Msg]]
    ) -> None:
        """At a stop: messages the server delivered after a fetch gave up waiting sit in the
        subscription's buffer; handing them over gets them handled and acknowledged now, instead of
        redelivered after `ack_wait` behind the next process's first batch."""
        await asyncio.sleep(0.05)  # what is still on the wire
        while sub.pending_msgs:
            try:
                leftover = await sub.fetch(sub.pending_msgs, timeout=0.05)
            except Exception:
                return
            if not leftover:
                return
            await batches.put(leftover)

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """Long-poll for one message, then take what else is there within a few milliseconds, up to
        `inbox_batch_size` messages and about `inbox_batch_bytes`.

        A single `fetch(batch)` holds a lingering pull open until the batch is full or the timeout
        ends, which adds up to the whole timeout to a trickle's latency.
        """
        msgs = await sub.fetch(1, timeout=1.0)
        # As many more as fit `inbox_batch_bytes` at the first one's size: exports are large.
        fit = self.settings.inbox_batch_bytes // max(len(msgs[0].data), 1)
        more = min(self.settings.inbox_batch_size, fit) - 1
        if more > 0:
            with contextlib.suppress(TimeoutError):
                msgs += await sub.fetch(more, timeout=0.005)
        return msgs

    async def _drop(self, sub: JetStreamContext.PullSubscription | None) -> None:
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:
                log.debug("unsubscribe failed: %r", exc)
        return None

    # -- one batch ------------------------------------------------------------------------------

    async def process(self, msgs: Sequence[Msg]) -> None:
        """Handle a fetched batch; never raises for a message's fault."""
        items: list[_Item] = []
        expected = self.position + 1
        for msg in sorted(msgs, key=lambda m: m.metadata.sequence.stream):
            item = _Item.delivered(msg)
            if item.sequence < expected:
                INBOX_DUPLICATES.labels(*self._labels).inc()
                await msg.ack()
                continue
            if item.sequence > expected:
                items.extend(await self._read_gap(expected, item.sequence))
            self._classify(item)
            items.append(item)
            expected = item.sequence + 1
        for item in items:
            if not item.classified:
                self._classify(item)
        if items:
            await self._handle(items)

    async def _read_gap(self, first: int, end: int) -> list[_Item]:
        """Messages `first`..`end - 1` of the stream, which the consumer has not delivered (yet)."""
        log.warning(
            "inbox %s: sequences %s..%s not delivered, reading them from the stream",
            self.durable,
            first,
            end - 1,
        )
        items = []
        sequence = first
        while sequence < end:
            try:
                raw = await self.js.get_msg(self.stream, seq=sequence)
            except nats.js.errors.NotFoundError:
                # Removed by the stream's limits (below its first sequence): nothing to handle. Anything
                # else "not found" (a server still recovering its stream after a restart answers so) is
                # not a message to skip: the batch fails, and is handled again from the same position.
                info = await self.js.stream_info(self.stream)
                if sequence >= info.state.first_seq:
                    raise GapUnreadable(
                        f"{self.stream} sequence {sequence} not found, first is {info.state.first_seq}"
                    ) from None
                sequence = min(info.state.first_seq, end)
                continue
            headers = {k: v for k, v in (raw.headers or {}).items() if isinstance(v, str)}
            items.append(_Item(sequence, raw.subject or "", raw.data or b"", headers, deliveries=0))
            sequence += 1
        return items

    def _classify(self, item: _Item) -> None:
        """Decide: handle (sets `incoming`, or `parts` for a batch event's valid entries and `rejected`
        for its invalid ones), skip (none set), or dead-letter (sets `reason`)."""
        item.classified = True
        if item.deliveries > self.settings.inbox_max_deliver:
            item.reason = f"delivered {item.deliveries} times without being acknowledged"
            item.cause = "redelivered"
            return
        try:
            envelope, spec, payload = decode(item.data)
            tokens = spec.subject_values(item.subject)
            if tokens is None:
                raise ContractError(f"{spec.type} published on subject {item.subject!r}")
            if (claimed := _claims_other(payload, tokens)) is not None:
                raise ContractError(f"{spec.type} on {item.subject!r} names {claimed}")
        except ContractError as exc:
            item.reason = str(exc)
            item.cause = "contract"
            return
        if spec.type in self.handlers:
            if (refused := _refusal(self.handlers[spec.type], payload)) is not None:
                item.reason, item.cause = f"{spec.type}: {refused}", "refused"
                return
            item.incoming = Incoming(spec, envelope, payload, self.stream, item.sequence, item.headers)
        elif spec.batch_of is not None and spec.batch_of.type in self.handlers:
            handler = self.handlers[spec.batch_of.type]
            for index, entry in enumerate(entries(spec, payload)):
                if not isinstance(entry, Rejected) and (claimed := _claims_other(entry, tokens)):
                    reason = f"{spec.batch_field}[{index}]: published on {item.subject!r} but names {claimed}"
                    entry = Rejected(index, reason)
                if not isinstance(entry, Rejected) and (refused := _refusal(handler, entry)) is not None:
                    entry = Rejected(index, f"{spec.batch_field}[{index}]: {refused}")
                if isinstance(entry, Rejected):
                    item.rejected.append(entry)
                else:
                    part = Incoming(spec.batch_of, envelope, entry, self.stream, item.sequence, item.headers)
                    item.parts.append(part)

    async def _handle(self, items: list[_Item]) -> None:
        for item in items:
            if item.reason is not None and not item.deadlettered:
                await self._deadletter(item, item.reason, item.cause)
            elif item.rejected and not item.deadlettered:  # the valid entries are handled below
                reasons = "; ".join(r.reason for r in item.rejected)
                total = len(item.rejected) + len(item.parts)
                await self._deadletter(item, f"{len(item.rejected)} of {total} entries: {reasons}", "entry")
                item.reason = None
        while items:
            outcome = await self._apply_retrying(items)
            if outcome.committed:
                await self._ack(items[: outcome.committed])
            if outcome.failed_at is None:
                return
            failed_at = outcome.failed_at - outcome.committed
            items = items[outcome.committed :]
            if failed_at == 0:
                await self._retry(items[0], outcome.error)
                items = items[1:]
                continue
            head = await self._apply_retrying(items[:failed_at])  # what came before the failing one
            if head.committed:  # if it failed earlier this time, the next round starts there
                await self._ack(items[: head.committed])
                items = items[head.committed :]

    async def _apply_retrying(self, items: Sequence[_Item]) -> _Outcome:
        """`_apply`, repeated while the store refuses the commit.

        A handler's error is the message's fault and is returned; a commit that fails is not: the store
        is away (retry until it is back, keeping the messages with `in_progress`) or an aggregate was
        changed concurrently (run the handlers again on fresh state). `_apply` skips what an earlier
        try already committed.
        """
        return await self._store_retrying(lambda: self._apply(items), items)

    async def _store_retrying(self, call: Callable[[], T], items: Sequence[_Item]) -> T:
        delay = 0.1
        while True:
            try:
                return await asyncio.to_thread(call)
            except IntegrityError as exc:
                log.info("inbox %s: concurrent write (%r), handling the batch again", self.durable, exc)
            except Exception as exc:
                log.warning("inbox %s: store unavailable (%r), retrying in %.1fs", self.durable, exc, delay)
            for item in items:
                await item.in_progress()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _apply(self, items: Sequence[_Item]) -> _Outcome:
        """Run handlers over `items` in order; commit with the tracking record of the last one handled.

        A unit of work that reaches `inbox_max_events_per_commit` events is committed on the spot (one
        huge transaction stalls PostgreSQL's pipelined insert); the rest of the batch continues in a
        fresh one. On a handler's error, what was committed so far stays and the error is returned.

        Before the handlers run, each handler with a `prepare` method (`BatchHandler`) sees its
        messages of the batch at once (to read in one query what each message needs); work handlers
        deferred on the unit of work (`UnitOfWork.defer`) runs before each commit. If that deferred
        work fails, nobody knows which message caused it: the rest of the batch is handled again one
        message per commit, so the failure lands on one message (retried, then dead-lettered) and
        the others are committed.
        """
        position = self.app.position(self.tracking_name)
        committed = 0
        while committed < len(items) and items[committed].sequence <= position:
            committed += 1  # an earlier try committed these
        if committed == len(items):
            return _Outcome(committed)
        uow = UnitOfWork(self.app)
        self._prepare(items[committed:], uow)
        last = len(items) - 1
        start = committed  # the first message of the current unit of work
        for index in range(committed, len(items)):
            item = items[index]
            if item.work:
                try:
                    self._run_handler(item, uow)
                except Exception as exc:
                    return _Outcome(committed, index, exc)
            if index < last and uow.pending_count() >= self.settings.inbox_max_events_per_commit:
                if not self._flushed(uow):
                    return self._apply_one_by_one(items, start, index + 1)
                uow.commit(Tracking(self.tracking_name, item.sequence))
                committed = start = index + 1
                uow = UnitOfWork(self.app)
                self._prepare(items[start:], uow)
        if not self._flushed(uow):
            return self._apply_one_by_one(items, start, len(items))
        uow.commit(Tracking(self.tracking_name, items[last].sequence))
        return _Outcome(len(items))

    def _prepare(self, items: Sequence[_Item], uow: UnitOfWork) -> None:
        """Show batch-aware handlers their messages; an error here only loses the head start."""
        by_type: dict[str, list[Incoming]] = {}
        for item in items:
            for incoming in item.work:
                by_type.setdefault(incoming.spec.type, []).append(incoming)
        for kind, incomings in by_type.items():
            prepare = getattr(self.handlers[kind], "prepare", None)
            if prepare is None:
                continue
            try:
                prepare(incomings, uow)
            except Exception as exc:
                log.warning("inbox %s: prepare of %s failed (%r)", self.durable, kind, exc)

    def _flushed(self, uow: UnitOfWork) -> bool:
        """Run the unit of work's deferred work; False if it raised (the unit of work is then void)."""
        try:
            uow.flush()
        except Exception as exc:
            log.warning("inbox %s: deferred work of a batch failed (%r)", self.durable, exc)
            return False
        return True

    def _apply_one_by_one(self, items: Sequence[_Item], start: int, end: int) -> _Outcome:
        """Handle `items[start:end]` again, one message per commit; the first failure is returned."""
        for index in range(start, end):
            item = items[index]
            uow = UnitOfWork(self.app)
            if item.work:
                try:
                    self._run_handler(item, uow)
                    uow.flush()
                except Exception as exc:
                    return _Outcome(index, index, exc)
            uow.commit(Tracking(self.tracking_name, item.sequence))
        return self._apply(items) if end < len(items) else _Outcome(end)

    def _run_handler(self, item: _Item, uow: UnitOfWork) -> None:
        """One span per message, a batch event's entries included: one message, one delivery."""
        work = item.work
        incoming = work[0]
        handler = self.handlers[incoming.spec.type]
        batch = {"messaging.batch.message_count": len(work)} if item.incoming is None else {}
        with span(
            f"{item.subject} process",
            SpanKind.CONSUMER,
            parent=incoming.headers,
            **batch,
            **{
                "messaging.system": "nats",
                "messaging.destination.name": item.subject,
                "messaging.message.id": incoming.envelope.id,
                "messaging.consumer.group.name": self.durable,
            },
        ):
            for each in work:
                handler(each, uow)
            uow.capture_traces()

    async def _retry(self, item: _Item, error: BaseException | None) -> None:
        attempts = max(item.deliveries, 1)
        delay = self.settings.inbox_retry_backoff_s
        while True:
            INBOX_RETRIES.labels(*self._labels).inc()
            log.warning(
                "inbox %s: seq %s attempt %s failed: %r", self.durable, item.sequence, attempts, error
            )
            if attempts >= self.settings.inbox_max_deliver:
                await self._deadletter(item, f"handler failed {attempts} times: {error!r}", "handler")
                await asyncio.to_thread(self.app.record_position, self.tracking_name, item.sequence)
                await self._ack([item])
                return
            await item.in_progress()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.inbox_retry_backoff_max_s)
            attempts += 1
            outcome = await self._apply_retrying([item])
            if outcome.failed_at is None:
                await self._ack([item])
                return
            error = outcome.error

    async def _ack(self, items: Sequence[_Item]) -> None:
        self.position = max(self.position, items[-1].sequence)
        faults.hit("inbox.after_commit")
        handled = sum(len(item.work) for item in items if item.reason is None)
        if handled:
            INBOX_PROCESSED.labels(*self._labels).inc(handled)
        for item in items:
            await item.ack()

    async def _deadletter(self, item: _Item, reason: str, cause: str) -> None:
        """Publish the message with its reason to the dead-letter stream; wait for the PubAck."""
        record = DeadLetter(
            service=self.service,
            original_subject=item.subject,
            stream=self.stream,
            stream_sequence=item.sequence,
            deliveries=item.deliveries,
            reason=reason[:2000],
            failed_at=self.app.clock(),
            original_headers=item.headers,
            original_data_b64=base64.b64encode(item.data).decode(),
        )
        headers = {
            # An entry's record has its own id: the whole message may still be dead-lettered later.
            MSG_ID_HEADER: f"deadletter:{self.service}:{self.stream}:{item.sequence}"
            + (":entries" if cause == "entry" else ""),
            DEADLETTER_REASON_HEADER: reason[:200].replace("\n", " "),
        }
        data = record.model_dump_json().encode()
        if len(data) + 1024 > self.nc.max_payload:
            # Too large to carry its original (base64 adds a third): the record points at it instead.
            # Business streams keep their messages, so nothing is lost and replay reads it from there.
            size, at = len(item.data), f"stream {self.stream} at sequence {item.sequence}"
            kept = f" (original of {size} bytes kept in {at})"
            record = record.model_copy(
                update={"original_data_b64": "", "reason": (reason[: 2000 - len(kept)] + kept)}
            )
            data = record.model_dump_json().encode()
        delay = 0.1
        while True:
            try:
                await self.js.publish(deadletter_subject(self.service), data, headers=headers)
                break
            except Exception as exc:  # the record must exist before the message is acknowledged
                log.warning("dead-letter publish failed (%r), retrying", exc)
                await item.in_progress()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        INBOX_DEADLETTERED.labels(self.service, self.stream, cause).inc()
        log.error(
            "dead-lettered %s seq %s: %s",
            item.subject,
            item.sequence,
            reason,
            extra={"stream": self.stream, "sequence": item.sequence},
        )
        item.reason = reason
        item.deadlettered = True
