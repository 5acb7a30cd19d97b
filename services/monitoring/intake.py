"""Signal intake: the SIGNALS stream folded into the occupancy book, checkpointed, then acknowledged.

Why not the kit's inbox. The inbox gives exactly-once *effects in the event store*: one transaction per
batch with a tracking record, and aggregates loaded per message. Raw door openings have no effect in the
event store (they are counted, not stored), and at 10,000 a second a store transaction per batch, a
tracking row and a unit of work would be most of the cost. What the intake needs is exactly-once
*folding into memory*, which a position does as well as a tracking table does:

- the book (`OccupancyBook`) and the register live in memory; the book is written, with the last stream
  sequence folded into it, to a checkpoint file (`<var>/monitoring-occupancy.json.gz`, atomically
  replaced) every `SIGNALS_CHECKPOINT_S` seconds or `SIGNALS_CHECKPOINT_MESSAGES` messages, and when the
  process stops;
- the durable pull consumer (`monitoring-signals`, ack policy *all*) is acknowledged up to the
  checkpointed message only after the file is on disk: JetStream's view of progress never runs ahead of
  what would survive a crash;
- at start the checkpoint is loaded and the consumer is recreated to start at the next sequence, so a
  crash replays exactly the signals folded since the last checkpoint (seconds of them). Sequences at or
  below the folded position are skipped; a gap (a delivery lost in flight) is read from the stream, as
  the kit's inbox does. Without a checkpoint (first start, lost disk) the book is rebuilt from the
  stream, which keeps the raw signals: the projection can always be dropped and rebuilt.

A message is one signal (a JSON object) or many (a JSON array): estates' gateways batch. A signal that
is not valid, is dated in the future (a reader's clock), or names an estate or unit no registered
household holds, is counted
(`housing_monitoring_signals_total{outcome}`) and dead-lettered on `housing.deadletter.monitoring`
with its reason; the batch goes on. Detection runs after each batch for the units it touched (sublet),
and for every unit every `DETECTION_SWEEP_S` (vacancy is an *absence* of signals).
Measured (`bench/monitoring.py`, 12,300 units, two cores, detection and checkpoints included): about
40,000 signals/s when gateways send arrays of 500, about 10,000/s when every signal is its own NATS
message (then JetStream's own ingest with `sync_interval: always`, 3,000-5,000 messages/s here, is the
limit, so gateways should batch); folding alone runs at ~90,000/s. A day of the city (50,000) takes
seconds. The kit's inbox was not used here: its per-batch store transaction and unit of work are the
right price for business events and the wrong one for counters.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Gauge
from pydantic import TypeAdapter, ValidationError

from contracts.deadletter import DeadLetter
from contracts.envelope import DEADLETTER_REASON_HEADER, MSG_ID_HEADER
from contracts.monitoring import DoorAccess, UtilityReading
from services.kit.inbox import deadletter_subject
from services.monitoring.application import MonitoringApp
from services.monitoring.domain import OccupancyBook, UnitRef
from services.monitoring.handlers import DOOR_ACCESS
from services.monitoring.settings import MonitoringSettings

log = logging.getLogger(__name__)

STREAM = "SIGNALS"
DURABLE = "monitoring-signals"
CHECKPOINT_FILE = "monitoring-occupancy.json.gz"

SIGNALS = Counter("housing_monitoring_signals_total", "Signals taken in, by outcome", ["outcome"])
POSITION = Gauge("housing_monitoring_signals_position", "Last SIGNALS sequence folded into the book")
CHECKPOINTED = Gauge("housing_monitoring_signals_checkpointed", "Last SIGNALS sequence checkpointed")

_DOORS: TypeAdapter[list[DoorAccess]] = TypeAdapter(list[DoorAccess])
_DOOR: TypeAdapter[DoorAccess] = TypeAdapter(DoorAccess)
_READINGS: TypeAdapter[list[UtilityReading]] = TypeAdapter(list[UtilityReading])
_READING: TypeAdapter[UtilityReading] = TypeAdapter(UtilityReading)


@dataclass
class Rejected:
    """A signal refused at intake, with what an operator needs to see and replay it."""

    subject: str
    sequence: int
    index: int
    data: bytes
    reason: str
    outcome: str


def _parse(
    subject: str, data: bytes
) -> tuple[list[DoorAccess | UtilityReading], list[tuple[int, bytes, str]]]:
    """The valid signals of one message, and the invalid ones as (index, raw item, reason).

    A whole array is validated in one call (pydantic's core, fast); only when that fails is it taken
    apart, so one bad item costs its neighbours nothing.
    """
    door = subject == DOOR_ACCESS.subject
    many, one = (_DOORS, _DOOR) if door else (_READINGS, _READING)
    stripped = data.lstrip()
    try:
        if stripped.startswith(b"["):
            return list(many.validate_json(data)), []
        return [one.validate_json(data)], []
    except ValidationError:
        pass
    try:
        raw = json.loads(data)
    except ValueError as exc:
        return [], [(0, data, f"not JSON: {exc}")]
    items = raw if isinstance(raw, list) else [raw]
    good: list[DoorAccess | UtilityReading] = []
    bad: list[tuple[int, bytes, str]] = []
    for index, item in enumerate(items):
        try:
            good.append(one.validate_python(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            bad.append((index, json.dumps(item).encode(), f"invalid signal: {where}: {first['msg']}"))
    return good, bad


class SignalIntake:
    def __init__(self, app: MonitoringApp, settings: MonitoringSettings) -> None:
        self.app = app
        self.settings = settings
        self.path = Path(settings.var_dir) / CHECKPOINT_FILE
        self.position = 0
        self.checkpointed = 0
        self.idle = asyncio.Event()
        self._last_msg: Msg | None = None
        self._since_checkpoint = 0
        self._checkpoint_at = time.monotonic()
        self._sweep_at = time.monotonic()
        self.ready = asyncio.Event()  # set once the book and register are loaded and fetching begins
        self.ready_at: float | None = None

    # -- one batch, no I/O but dead letters ---------------------------------------------------------

    def fold(self, subject: str, sequence: int, data: bytes) -> tuple[set[UnitRef], list[Rejected]]:
        """Fold one message into the book; return the units touched and the refused signals."""
        signals, bad = _parse(subject, data)
        rejected = [Rejected(subject, sequence, i, raw, reason, "malformed") for i, raw, reason in bad]
        touched: set[UnitRef] = set()
        register, book = self.app.register, self.app.book
        by_unit, hasher = register.by_unit, self.app.hasher
        latest = self.app.clock() + timedelta(seconds=self.settings.signals_max_clock_skew_s)
        unlet = 0
        for index, signal in enumerate(signals):
            unit = UnitRef(signal.estate, signal.building, signal.unit)
            if isinstance(signal, DoorAccess) and signal.at > latest:
                # A reader whose clock runs in the future would move its estate's clock with it
                # and make every quiet flat there look vacant.
                reason = f"from the future: {signal.at.isoformat()} (reader clock?)"
                rejected.append(
                    Rejected(subject, sequence, index, signal.model_dump_json().encode(), reason, "future")
                )
                continue
            household = by_unit.get(unit)
            if household is None and unit not in register.units:
                outcome = "unknown_unit" if signal.estate in register.estates else "unknown_estate"
                reason = f"{outcome}: {'/'.join(unit)} is held by no registered household"
                rejected.append(
                    Rejected(subject, sequence, index, signal.model_dump_json().encode(), reason, outcome)
                )
                continue
            if isinstance(signal, DoorAccess):
                # Only the keyed digest of the credential goes further (memory, checkpoint, evidence).
                key = hasher.key(signal.credential_kind, signal.credential_id)
                book.record_access(register, unit, household, key, signal.at)
            else:
                book.record_utilities(unit, signal.month, signal.water_m3, signal.electricity_kwh)
            if household is None:
                unlet += 1  # a flat held before and let to nobody now: counted, never judged
            else:
                touched.add(unit)
        applied = len(signals) - sum(1 for r in rejected if r.outcome != "malformed") - unlet
        counts = book.signals
        if applied:
            SIGNALS.labels("applied").inc(applied)
            counts["applied"] = counts.get("applied", 0) + applied
        if unlet:
            SIGNALS.labels("unlet").inc(unlet)
            counts["unlet"] = counts.get("unlet", 0) + unlet
        for r in rejected:
            SIGNALS.labels(r.outcome).inc()
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        return touched, rejected

    def fold_many(self, items: list[tuple[str, int, bytes]]) -> tuple[set[UnitRef], list[Rejected]]:
        touched: set[UnitRef] = set()
        rejected: list[Rejected] = []
        with self.app.lock:
            for subject, sequence, data in items:
                if sequence <= self.position:
                    continue  # folded before (a redelivery)
                units, refused = self.fold(subject, sequence, data)
                touched |= units
                rejected.extend(refused)
                self.position = sequence
        POSITION.set(self.position)
        return touched, rejected

    # -- checkpoint ---------------------------------------------------------------------------------

    def load(self) -> None:
        if not self.path.exists():
            log.info("no occupancy checkpoint at %s: rebuilding from the SIGNALS stream", self.path)
            return
        with gzip.open(self.path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        if data.get("credential_key") != self.app.hasher.fingerprint:
            # Written under another key (or, before credentials were hashed, with clear tokens): its
            # strangers would never match again. Rebuild from the stream and overwrite it.
            log.warning("occupancy checkpoint made under another credential key: rebuilding from SIGNALS")
            return
        with self.app.lock:
            self.app.book.load_json(data["book"])
            self.position = self.checkpointed = int(data["sequence"])
        log.info("occupancy checkpoint loaded at SIGNALS sequence %s", self.position)

    def save(self) -> int:
        """Write the book and its position atomically; return the position written."""
        with self.app.lock:
            self.app.book.prune()
            payload = json.dumps(
                {
                    "sequence": self.position,
                    "credential_key": self.app.hasher.fingerprint,
                    "book": self.app.book.to_json(),
                },
                separators=(",", ":"),
            )
            position = self.position
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as f:
            f.write(payload)
            f.flush()
        with open(tmp, "rb") as raw:
            os.fsync(raw.fileno())
        os.replace(tmp, self.path)
        return position

    async def checkpoint(self) -> None:
        position = await asyncio.to_thread(self.save)
        self.checkpointed = position
        CHECKPOINTED.set(position)
        self._since_checkpoint = 0
        self._checkpoint_at = time.monotonic()
        last, self._last_msg = self._last_msg, None
        if last is not None:
            with contextlib.suppress(Exception):  # a lost ack: the next one covers it (ack policy all)
                await last.ack()

    # -- the loop -----------------------------------------------------------------------------------

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=DURABLE,
            name=DURABLE,
            ack_policy=AckPolicy.ALL,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.position + 1,
            ack_wait=self.settings.signals_ack_wait_s,
            max_deliver=-1,
            max_ack_pending=max(self.settings.signals_checkpoint_messages * 2, 10_000),
            filter_subject="housing.signals.>",
        )

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        """(Re)create the durable consumer at the next sequence to fold: the checkpoint decides."""
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(STREAM, DURABLE)
        await js.add_consumer(STREAM, config=self.consumer_config())
        return await js.pull_subscribe_bind(
            durable=DURABLE,
            stream=STREAM,
            pending_msgs_limit=self.settings.signals_batch_size * 4,
            pending_bytes_limit=64 * 1024 * 1024,
        )

    async def run(self, nc: NATS, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self.load)
        await asyncio.to_thread(self.app.catch_up)
        js = nc.jetstream()
        await self._check_stream(js)
        sub: JetStreamContext.PullSubscription | None = None
        backoff = 0.1
        self.ready_at = time.monotonic()
        self.ready.set()
        try:
            while not stop.is_set():
                try:
                    if sub is None:
                        sub = await self._subscribe(js)
                    msgs = await self._fetch(sub)
                except TimeoutError:
                    self.idle.set()
                    await self._housekeeping(force_checkpoint=self._last_msg is not None)
                    continue
                except Exception as exc:  # server restart, stalled subscription: rebuild from our position
                    log.warning("signal intake: fetch failed (%r); resubscribing in %.1fs", exc, backoff)
                    with contextlib.suppress(Exception):
                        if sub is not None:
                            await sub.unsubscribe()
                    sub = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                self.idle.clear()
                await self.process(js, msgs)
                await self._housekeeping(force_checkpoint=False)
        finally:
            with contextlib.suppress(Exception):
                await self.checkpoint()
            with contextlib.suppress(Exception):
                if sub is not None:
                    await sub.unsubscribe()

    async def _check_stream(self, js: JetStreamContext) -> None:
        """A stream behind the checkpoint was recreated (its store lost): its sequences are new
        signals, which the checkpoint's position would skip. Start the book again from them."""
        try:
            info = await js.stream_info(STREAM)
        except Exception as exc:  # not there yet: the subscription retries until it is
            log.warning("signal intake: SIGNALS stream not readable (%r)", exc)
            return
        if info.state.last_seq < self.position:
            log.warning(
                "signal intake: SIGNALS ends at %s, before the checkpoint's %s; rebuilding the book",
                info.state.last_seq,
                self.position,
            )
            with self.app.lock:
                self.app.book = OccupancyBook(self.settings.zone, self.settings.retention_days)
                self.position = self.checkpointed = 0

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """Long-poll for one message, then take what else is waiting within a few milliseconds: a
        single `fetch(batch)` would hold the pull open until the batch is full or the timeout ends."""
        msgs = await sub.fetch(1, timeout=0.5)
        if self.settings.signals_batch_size > 1:
            with contextlib.suppress(TimeoutError):
                msgs += await sub.fetch(self.settings.signals_batch_size - 1, timeout=0.005)
        return msgs

    async def process(self, js: JetStreamContext, msgs: list[Msg]) -> None:
        items: list[tuple[str, int, bytes]] = []
        expected = self.position + 1
        for msg in sorted(msgs, key=lambda m: m.metadata.sequence.stream):
            sequence = msg.metadata.sequence.stream
            if sequence < expected:
                continue
            if sequence > expected:
                items.extend(await self._read_gap(js, expected, sequence))
            items.append((msg.subject, sequence, msg.data))
            expected = sequence + 1
            self._last_msg = msg
        if not items:
            return
        # Households registered or credentials enrolled since the last batch must be known before
        # their first signals are judged "unknown unit".
        await asyncio.to_thread(self.app.catch_up)
        touched, rejected = self.fold_many(items)
        self._since_checkpoint += len(items)
        if rejected:
            await self._deadletter(js, rejected)
        if touched:
            await asyncio.to_thread(self.app.detect, touched)

    async def _read_gap(self, js: JetStreamContext, first: int, end: int) -> list[tuple[str, int, bytes]]:
        log.warning(
            "signal intake: sequences %s..%s not delivered, reading them from the stream", first, end - 1
        )
        found = []
        for sequence in range(first, end):
            try:
                raw = await js.get_msg(STREAM, seq=sequence)
            except nats.js.errors.NotFoundError:
                continue
            found.append((raw.subject or "", sequence, raw.data or b""))
        return found

    async def _housekeeping(self, *, force_checkpoint: bool) -> None:
        now = time.monotonic()
        if self._last_msg is not None and (
            force_checkpoint
            or self._since_checkpoint >= self.settings.signals_checkpoint_messages
            or now - self._checkpoint_at >= self.settings.signals_checkpoint_s
        ):
            await self.checkpoint()
        if now - self._sweep_at >= self.settings.detection_sweep_s:
            self._sweep_at = now
            await asyncio.to_thread(self.app.detect)

    async def _deadletter(self, js: JetStreamContext, rejected: list[Rejected]) -> None:
        for item in rejected:
            record = DeadLetter(
                service=self.settings.service_name,
                original_subject=item.subject,
                stream=STREAM,
                stream_sequence=item.sequence,
                deliveries=1,
                reason=item.reason[:2000],
                failed_at=self.app.clock(),
                original_headers={},
                original_data_b64=base64.b64encode(item.data).decode(),
            )
            service = self.settings.service_name
            headers = {
                MSG_ID_HEADER: f"deadletter:{service}:{STREAM}:{item.sequence}:{item.index}",
                DEADLETTER_REASON_HEADER: item.reason[:200].replace("\n", " "),
            }
            try:
                await js.publish(
                    deadletter_subject(self.settings.service_name),
                    record.model_dump_json().encode(),
                    headers=headers,
                )
            except Exception as exc:  # counted already; the signal stays in SIGNALS for diagnosis
                log.warning("dead-letter of SIGNALS seq %s failed: %r", item.sequence, exc)


def publishable(items: list[dict[str, Any]], chunk: int = 500) -> list[bytes]:
    """Signals as JSON arrays of at most `chunk` items: one NATS message per chunk."""
    return [
        json.dumps(items[i : i + chunk], separators=(",", ":")).encode() for i in range(0, len(items), chunk)
    ]
