"""The outbound worker: finds open checks in the notification log and asks every peer in parallel.

It runs beside the inbox (whose handlers must not do network I/O), under a lease
(`federation.service`): of a city's replicas, one runs it and the others stand by to take over. It
keeps its scan position in the store (tracking name `POSITION`): the position only moves past a
check once every city of it is concluded, so a replica taking over (or a restart) resumes from the
first check still open, not from the start of the log. Concluded cities are skipped, so a resumed
check never asks again a city it already has a verdict from, and a verdict is recorded once even if
two replicas ever ask at the same time (`FederationApp.conclude`).

Every open check is taken up at once, but at most `federation_max_in_flight_queries` of their queries
are in flight (one per check and city, its retries and their backoff included); the others wait
their turn. A burst of checks (a sweep, a backlog after a restart) would otherwise ask beyond the
client's connection pool: the requests past it fail for want of a connection, count as the peer's
failures, open its circuit breaker and conclude `unverified` (households sent to manual review) when
the peer was never the problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from federation import metrics
from federation.application import FederationApp
from federation.domain import CrossRegionCheck
from federation.outbound import Case, Outcome, PeerClient, unverified

log = logging.getLogger(__name__)
OPENED_TOPIC = f"{CrossRegionCheck.Opened.__module__}:{CrossRegionCheck.Opened.__qualname__}"
POSITION = "federation.outbound"


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
        case = Case(check.purpose, check.legal_basis, f"check-{check.check_id}", "federation-service")

        async def one(city: str) -> None:
            subjects = [s["id_hash"] for s in check.subjects_for(city)]
            try:
                async with self._queries:
                    outcome = await self.client.ask(city, case, subjects)
            except Exception as exc:  # a bug must not turn into silence
                log.exception("outbound: asking %s failed", city)
                outcome = unverified(f"internal error: {type(exc).__name__}")
            await asyncio.to_thread(self._conclude, check.check_id, city, outcome)

        await asyncio.gather(*(one(city) for city in check.pending_cities))

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
