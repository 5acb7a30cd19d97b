"""The outbound worker: finds open checks in the notification log and asks every peer in parallel.

It runs beside the inbox (whose handlers must not do network I/O). On start it scans the log from the
beginning, so checks left open by a crash or restart are resumed; concluded peers are skipped, so a
resumed check never asks twice for a city it already has a verdict from.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from federation import metrics
from federation.application import FederationApp
from federation.domain import CrossRegionCheck
from federation.outbound import Case, Outcome, PeerClient, unverified

log = logging.getLogger(__name__)
OPENED_TOPIC = f"{CrossRegionCheck.Opened.__module__}:{CrossRegionCheck.Opened.__qualname__}"


class OutboundWorker:
    def __init__(self, app: FederationApp, client: PeerClient) -> None:
        self.app, self.client = app, client
        self.position = 0
        self._wakeup = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    def _open_checks(self) -> list[UUID]:
        """Checks opened since the last scan. The position moves to the log's end even when nothing
        matched, so a scan costs the new notifications only, not the whole (exchange-heavy) log."""
        end = self.app.process_recorder.max_notification_id() or 0
        found: list[UUID] = []
        while self.position < end:
            batch = self.app.notification_log.select(
                start=self.position + 1, limit=500, stop=end, topics=[OPENED_TOPIC]
            )
            found.extend(UUID(str(n.originator_id)) for n in batch)
            self.position = batch[-1].id if len(batch) == 500 else end
        return found

    async def run(self, stop: asyncio.Event) -> None:
        self.app.wake_on_save(self._wakeup)
        while not stop.is_set():
            await asyncio.sleep(0.02)  # one scan per burst of saves (inbound exchanges save too)
            self._wakeup.clear()
            try:
                for aggregate_id in await asyncio.to_thread(self._open_checks):
                    task = asyncio.create_task(self.process(aggregate_id))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
            except Exception:
                log.exception("outbound worker: scan failed")
            wake_wait = asyncio.ensure_future(self._wakeup.wait())
            stop_wait = asyncio.ensure_future(stop.wait())
            await asyncio.wait({wake_wait, stop_wait}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            wake_wait.cancel()
            stop_wait.cancel()
        if self._running:
            await asyncio.wait(self._running, timeout=10)

    async def process(self, aggregate_id: UUID) -> None:
        check: CrossRegionCheck = await asyncio.to_thread(self.app.repository.get, aggregate_id)
        case = Case(check.purpose, check.legal_basis, f"check-{check.check_id}", "federation-service")

        async def one(city: str) -> None:
            subjects = [s["id_hash"] for s in check.subjects_for(city)]
            try:
                outcome = await self.client.ask(city, case, subjects)
            except Exception as exc:  # a bug must not turn into silence
                log.exception("outbound: asking %s failed", city)
                outcome = unverified(f"internal error: {type(exc).__name__}")
            await asyncio.to_thread(self._conclude, check.check_id, city, outcome)

        await asyncio.gather(*(one(city) for city in check.pending_cities))

    def _conclude(self, check_id: UUID, city: str, outcome: Outcome) -> None:
        metrics.OUTBOUND_RESULTS.labels(city, outcome.result).inc()
        self.app.conclude(
            check_id,
            city,
            outcome.result,
            outcome.categories,
            outcome.reason,
            outcome.query_ids,
            outcome.exchanges,
        )
