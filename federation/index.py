"""The event-fed part of the answering read model: who is in our registers, by each peer's hash.

Built from our own store: each `RegisterEntry.Updated` (from eligibility's
`cross-region-register-updated`) gives a household's members' hashes per peer city, under every
linkage key a peer may ask with, and what holds for them here (housed, subsidised, property over
the threshold). An update replaces the household's previous hashes. The index follows the
notification log (new notifications only) and is rebuilt from it at start.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from federation.application import FederationApp
from federation.domain import RegisterEntry
from federation.readmodel import Status, StatusBook

log = logging.getLogger(__name__)
TOPICS = [f"{cls.__module__}:{cls.__qualname__}" for cls in (RegisterEntry.Updated,)]


class TenantIndex:
    def __init__(self, app: FederationApp, book: StatusBook) -> None:
        self.app, self.book = app, book
        self.position = 0
        self.subjects: dict[UUID, list[tuple[str, str]]] = {}
        """Per register entry, the (city, hash) keys it holds in the book (dropped on its next update)."""
        self.owners: dict[tuple[str, str], UUID] = {}
        """The entry each key of the book was last set by: only that entry's next update removes it."""
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
        if not isinstance(event, RegisterEntry.Updated):
            return
        key = UUID(str(event.originator_id))
        for old in self.subjects.pop(key, []):
            if self.owners.get(old) == key:  # another entry may hold it since (a member who moved)
                del self.owners[old]
                self.book.register.pop(old, None)
        status: Status = dict(event.categories)
        held = [(subject["city"], subject["id_hash"]) for subject in event.subjects]
        for subject in held:
            self.book.register[subject] = status
            self.owners[subject] = key
        self.subjects[key] = held

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
