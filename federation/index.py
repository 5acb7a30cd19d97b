"""The event-fed part of the answering read model: who is housed here, by each peer's hash.

Built from our own store: `Tenancy.Registered` (from eligibility's `HouseholdRegistered`) says a
household holds a unit here; `HouseholdSubjects.Recorded` gives its members' hashes per peer city.
A member of a registered household is answered `holds_subsidised_housing: true` to that peer. The
index follows the notification log (new notifications only) and is rebuilt from it at start.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from federation.application import FederationApp
from federation.domain import HouseholdSubjects, Tenancy
from federation.readmodel import HOUSED, StatusBook

log = logging.getLogger(__name__)
TOPICS = [f"{cls.__module__}:{cls.__qualname__}" for cls in (Tenancy.Registered, HouseholdSubjects.Recorded)]


class TenantIndex:
    def __init__(self, app: FederationApp, book: StatusBook) -> None:
        self.app, self.book = app, book
        self.position = 0
        self.registered: set[UUID] = set()  # HouseholdSubjects ids of registered households
        self.subjects: dict[UUID, list[dict[str, str]]] = {}
        self._wakeup = asyncio.Event()

    def catch_up(self) -> int:
        """Apply notifications since the last call; return how many were relevant."""
        end = self.app.process_recorder.max_notification_id() or 0
        seen = 0
        while self.position < end:
            batch = self.app.notification_log.select(
                start=self.position + 1, limit=500, stop=end, topics=TOPICS
            )
            for notification in batch:
                self._apply(self.app.mapper.to_domain_event(notification))
                seen += 1
            self.position = batch[-1].id if len(batch) == 500 else end
        return seen

    def _apply(self, event: object) -> None:
        if isinstance(event, Tenancy.Registered):
            key = HouseholdSubjects.create_id(event.household_id)
            self.registered.add(key)
            self._index(key, self.subjects.get(key, []), [])
        elif isinstance(event, HouseholdSubjects.Recorded):
            key = UUID(str(event.originator_id))
            old = self.subjects.get(key, [])
            self.subjects[key] = list(event.subjects)
            self._index(key, event.subjects, old)

    def _index(self, key: UUID, subjects: list[dict[str, str]], old: list[dict[str, str]]) -> None:
        for subject in old:
            self.book.tenants.pop((subject["city"], subject["id_hash"]), None)
        if key in self.registered:
            for subject in subjects:
                self.book.tenants[(subject["city"], subject["id_hash"])] = HOUSED

    async def run(self, stop: asyncio.Event) -> None:
        self.app.wake_on_save(self._wakeup)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.catch_up)
            except Exception:
                log.exception("tenant index: catch-up failed")
            await asyncio.sleep(0.05)
            self._wakeup.clear()
            wake_wait = asyncio.ensure_future(self._wakeup.wait())
            stop_wait = asyncio.ensure_future(stop.wait())
            await asyncio.wait({wake_wait, stop_wait}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            wake_wait.cancel()
            stop_wait.cancel()
