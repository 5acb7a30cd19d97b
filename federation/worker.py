"""The outbound worker: finds open checks in the notification log and asks every peer in parallel.

It runs beside the inbox (whose handlers must not do network I/O), under a lease
(`federation.service`): of a city's replicas, one runs it and the others stand by to take over. It
keeps its scan position in the store (tracking name `POSITION`): the position only moves past a
check once every city of it is concluded, so a replica taking over (or a restart) resumes from the
first check still open, not from the start of the log. Concluded cities are skipped, so a resumed
check never asks again a city it already has a verdict from, and a verdict is recorded once even if
two replicas ever ask at the same time (`FederationApp.conclude`).

Every open check is taken up at once, but at most `federation_max_in_flight_queries` of their queries
are in flight (one per check and city, or per batch, its retries and their backoff included); the
others wait their turn. A burst of checks (a sweep, a backlog after a restart) would otherwise ask beyond the
client's connection pool: the requests past it fail for want of a connection, count as the peer's
failures, open its circuit breaker and conclude `unverified` (households sent to manual review) when
the peer was never the problem.

Batching (the sweep): checks of a purpose in `federation_batch_purposes` (default the periodic
sweep's `eligibility-review`: no case is open) are not asked one by one. Their (check, city) asks
are coalesced per city (and purpose and legal basis) into batches of at most
`federation_outbound_batch_max` subjects from several households, each one signed request of its own
case (`sweep-<batch id>`, officer `federation-service`) holding one in-flight slot. A batch is sent
when the next household would not fit (a household is never split: it goes to the next batch) or
`federation_batch_linger_s` after its first household joined it, so a lone check waits that long at
most. Each household's verdict is `combine`d from its own members' answers, mapped back by query id;
a failure of the request is every household's (`unverified`, with the reason). The batch's raw
exchanges are stored once (`BatchExchange`), in the transaction that records its verdicts, each of
which names it. Checks of other purposes (`exit-review`: an open review case) are asked alone, one
request per check and city, under `check-<check id>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from federation import metrics
from federation.application import FederationApp, Verdict
from federation.domain import BatchExchange, CrossRegionCheck
from federation.outbound import Case, HouseholdsOutcome, Outcome, PeerClient, unverified

log = logging.getLogger(__name__)
OPENED_TOPIC = f"{CrossRegionCheck.Opened.__module__}:{CrossRegionCheck.Opened.__qualname__}"
POSITION = "federation.outbound"
OFFICER = "federation-service"


@dataclass
class _Ask:
    """One check's pending city, waiting in a batch: its members' subject hashes for that city."""

    check: CrossRegionCheck
    subjects: list[str]
    done: asyncio.Future[None]


@dataclass
class _Batch:
    """The asks of one city (and purpose and legal basis) gathered for one request."""

    city: str
    purpose: str
    legal_basis: str
    asks: list[_Ask] = field(default_factory=list)
    size: int = 0
    timer: asyncio.TimerHandle | None = None


class OutboundWorker:
    def __init__(self, app: FederationApp, client: PeerClient) -> None:
        self.app, self.client = app, client
        self.position = 0
        """Notifications up to here are scanned (the checks found may still be in flight)."""
        self.recorded = 0
        """Position last recorded in the store: every check opened up to here is concluded."""
        self._wakeup = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._queries = asyncio.Semaphore(client.settings.federation_max_in_flight_queries)
        settings = client.settings
        self.batch_purposes = frozenset(settings.federation_batch_purposes)
        self.batch_max = settings.federation_outbound_batch_max
        self.linger_s = settings.federation_batch_linger_s
        self._gathering: dict[tuple[str, str, str], _Batch] = {}
        """The batch still taking households, per (city, purpose, legal basis)."""
        self._sending: set[asyncio.Task[None]] = set()

    def resume(self) -> None:
        """Start from the recorded position (at start, and when this replica wins the lease)."""
        self.recorded = self.position = self.app.position(POSITION)

    def _open_checks(self) -> list[tuple[int, UUID]]:
        """Checks opened since the last scan, with their notification ids. The scan position moves to
        the log's end even when nothing matched, so a scan costs the new notifications only."""
        end = self.app.process_recorder.max_notification_id() or 0
        found: list[tuple[int, UUID]] = []
        while self.position < end:
            batch = self.app.notification_log.select(
                start=self.position + 1, limit=500, stop=end, topics=[OPENED_TOPIC]
            )
            found.extend((n.id, UUID(str(n.originator_id))) for n in batch)
            self.position = batch[-1].id if len(batch) == 500 else end
        return found

    def _finished(self, notification_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(notification_id, None)
            self._wakeup.set()  # record the position that may now move

        return done

    def safe_position(self) -> int:
        """Every check opened at or before this notification is concluded (or none is open)."""
        return min(self._running) - 1 if self._running else self.position

    def _record(self, position: int) -> None:
        if position <= self.recorded:
            return
        with contextlib.suppress(IntegrityError):  # another replica recorded the same position
            self.app.record_position(POSITION, position)
        self.recorded = position

    async def run(self, stop: asyncio.Event) -> None:
        self.app.wake_on_save(self._wakeup)
        await asyncio.to_thread(self.resume)
        while not stop.is_set():
            await asyncio.sleep(0.02)  # one scan per burst of saves (inbound exchanges save too)
            self._wakeup.clear()
            try:
                for notification_id, aggregate_id in await asyncio.to_thread(self._open_checks):
                    if notification_id not in self._running:
                        task = asyncio.create_task(self.process_until_done(aggregate_id))
                        self._running[notification_id] = task
                        task.add_done_callback(self._finished(notification_id))
                await asyncio.to_thread(self._record, self.safe_position())
            except Exception:
                log.exception("outbound worker: scan failed")
            wake_wait = asyncio.ensure_future(self._wakeup.wait())
            stop_wait = asyncio.ensure_future(stop.wait())
            await asyncio.wait({wake_wait, stop_wait}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            wake_wait.cancel()
            stop_wait.cancel()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=10)
        for task in list(self._running.values()):
            task.cancel()
        self._running.clear()
        for batch in self._gathering.values():
            if batch.timer is not None:
                batch.timer.cancel()
        self._gathering.clear()
        for sending in list(self._sending):
            sending.cancel()

    async def process_until_done(self, aggregate_id: UUID) -> None:
        """`process`, again after a failure (the store unreachable, say): the scan position must not
        move past a check that is still open."""
        delay = 0.5
        while True:
            try:
                await self.process(aggregate_id)
                return
            except Exception:
                log.exception("outbound worker: check %s failed; retrying in %.1f s", aggregate_id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def process(self, aggregate_id: UUID) -> None:
        self.app.evict_id(aggregate_id)  # another replica may have concluded cities of it
        check: CrossRegionCheck = await asyncio.to_thread(self.app.repository.get, aggregate_id)
        case = Case(check.purpose, check.legal_basis, f"check-{check.check_id}", OFFICER)
        batched = check.purpose in self.batch_purposes

        async def one(city: str) -> None:
            subjects = [s["id_hash"] for s in check.subjects_for(city)]
            if batched and subjects and self.client.directory.get(city) is not None:
                await self._join(check, city, subjects)  # concluded with its batch
                return
            try:
                async with self._queries:
                    outcome = await self.client.ask(city, case, subjects)
            except Exception as exc:  # a bug must not turn into silence
                log.exception("outbound: asking %s failed", city)
                outcome = unverified(f"internal error: {type(exc).__name__}")
            await asyncio.to_thread(self._conclude, check.check_id, city, outcome)

        # Every city to its end before a failure is raised (and the check tried again): a city still
        # waiting in a batch must not be asked a second time meanwhile.
        done = await asyncio.gather(*(one(city) for city in check.pending_cities), return_exceptions=True)
        for failure in done:
            if isinstance(failure, BaseException):
                raise failure

    def _join(self, check: CrossRegionCheck, city: str, subjects: list[str]) -> asyncio.Future[None]:
        """Put a check's ask of `city` in the city's batch; done once its verdict is recorded."""
        key = (city, check.purpose, check.legal_basis)
        batch = self._gathering.get(key)
        if batch is not None and batch.size + len(subjects) > self.batch_max:
            self._send(key)  # no room for the whole household: it opens the next batch
            batch = None
        if batch is None:
            batch = self._gathering[key] = _Batch(city, check.purpose, check.legal_basis)
            batch.timer = asyncio.get_running_loop().call_later(self.linger_s, self._send, key, batch)
        ask = _Ask(check, subjects, asyncio.get_running_loop().create_future())
        batch.asks.append(ask)
        batch.size += len(subjects)
        if batch.size >= self.batch_max:
            self._send(key)
        return ask.done

    def _send(self, key: tuple[str, str, str], which: _Batch | None = None) -> None:
        """Close the batch gathering under `key` (only if it is `which`, for its linger timer) and
        send it."""
        batch = self._gathering.get(key)
        if batch is None or (which is not None and batch is not which):
            return
        del self._gathering[key]
        if batch.timer is not None:
            batch.timer.cancel()
        task = asyncio.create_task(self._ask_batch(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _ask_batch(self, batch: _Batch) -> None:
        batch_id = uuid4()
        case = Case(batch.purpose, batch.legal_basis, f"sweep-{batch_id}", OFFICER)
        try:
            try:
                async with self._queries:
                    metrics.OUTBOUND_BATCH.labels(batch.city).observe(batch.size)
                    asked = await self.client.ask_households(
                        batch.city, case, [ask.subjects for ask in batch.asks]
                    )
            except Exception as exc:  # a bug must not turn into silence
                log.exception("outbound: asking %s (batch %s) failed", batch.city, batch_id)
                failed = f"internal error: {type(exc).__name__}"
                asked = HouseholdsOutcome([unverified(failed) for _ in batch.asks])
            await asyncio.to_thread(self._conclude_batch, batch_id, batch, case, asked)
        except BaseException as exc:
            # The store failed (or we are stopping): each check's `process` raises and is tried again.
            for ask in batch.asks:
                if not ask.done.done():
                    if isinstance(exc, asyncio.CancelledError):
                        ask.done.cancel()
                    else:
                        ask.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for ask in batch.asks:
                if not ask.done.done():
                    ask.done.set_result(None)

    def _conclude_batch(self, batch_id: UUID, batch: _Batch, case: Case, asked: HouseholdsOutcome) -> None:
        exchange = None
        if asked.exchanges:  # a request was made (none: the circuit was open, say)
            exchange = BatchExchange(
                batch_id,
                batch.city,
                batch.purpose,
                batch.legal_basis,
                case.case_id,
                [
                    {
                        "check_id": str(ask.check.check_id),
                        "household_id": str(ask.check.household_id),
                        "query_ids": outcome.query_ids,
                    }
                    for ask, outcome in zip(batch.asks, asked.outcomes, strict=True)
                ],
                asked.exchanges,
            )
        verdicts = [
            Verdict(
                ask.check.check_id,
                batch.city,
                outcome.result,
                outcome.categories,
                outcome.reason,
                outcome.query_ids,
                [exchange.reference(outcome.query_ids)] if exchange is not None else [],
            )
            for ask, outcome in zip(batch.asks, asked.outcomes, strict=True)
        ]
        recorded = self.app.conclude_batch(exchange, verdicts)
        for outcome, new in zip(asked.outcomes, recorded, strict=True):
            if new:
                metrics.OUTBOUND_RESULTS.labels(batch.city, outcome.result).inc()

    def _conclude(self, check_id: UUID, city: str, outcome: Outcome) -> None:
        recorded = self.app.conclude(
            check_id,
            city,
            outcome.result,
            outcome.categories,
            outcome.reason,
            outcome.query_ids,
            outcome.exchanges,
        )
        if recorded:
            metrics.OUTBOUND_RESULTS.labels(city, outcome.result).inc()
