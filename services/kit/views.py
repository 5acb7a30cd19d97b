"""Read models folded from a service's own notification log.

Every service keeps in-memory views (queues, boards, figures) of what its store holds, and brings them
up to date by applying what was stored since it last looked, whichever process wrote it. The loop
that does so lives here once; what each view does with an event is the service's business.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import Recording

from services.kit.store import ServiceApplication

BATCH = 1000
"""Notifications read from the store per query."""

HELD = 50_000
"""Events a tail holds for its view between two catch-ups; past that it lets them go, and the view
reads them back from the store (a view nobody asks for costs no more memory than this)."""


class Tail:
    """A view's position in its service's notification log, fed by what this process commits.

    A read model kept by the process that writes (eligibility's population during a bulk
    registration: half a million events) used to read back and decode every event it had just
    stored, about a seventh of the writer's time. The tail is handed each commit's recordings (the
    domain events as committed, and their positions) and applies them where they continue the view's
    position; any gap (another process's commit, one handed over late, or too many held) is read from
    the store, so the view ends where `follow` would, whoever wrote. Positions count every notification,
    of any topic: a commit of other aggregates still moves the view on.
    """

    def __init__(self, app: ServiceApplication, topics: Sequence[str] = (), held: int = HELD) -> None:
        self.app, self.topics, self.held = app, tuple(topics), held
        self._wanted = frozenset(topics)
        self._lock = threading.Lock()
        self._commits: list[tuple[int, int, list[Any]]] = []
        self._count = 0
        app.on_recorded(self._take)

    def _take(self, recordings: Sequence[Recording[Any]]) -> None:
        ids = [r.notification.id for r in recordings]
        wanted = self._wanted
        events = [r.domain_event for r in recordings if not wanted or r.notification.topic in wanted]
        with self._lock:
            if self._count + len(events) > self.held:
                self._commits.clear()  # read back from the store instead
                self._count = 0
                return
            self._commits.append((min(ids), max(ids), events))
            self._count += len(events)

    def follow(self, position: int, apply: Callable[[Any], None], *, batch: int = BATCH) -> int:
        """Apply every domain event (of the tail's topics) stored after `position` and return the
        position the view has reached. Call it under the view's lock."""
        with self._lock:
            commits, self._commits, self._count = self._commits, [], 0
        for first, last, events in sorted(commits, key=lambda commit: commit[0]):
            if last <= position:
                continue  # already read from the store
            if first > position + 1:
                position = self._read(position, apply, batch, stop=first - 1)
            if first != position + 1:
                break  # overlaps what was read: the store has it all
            for domain_event in events:
                apply(domain_event)
            position = last
        return self._read(position, apply, batch)

    def _read(self, position: int, apply: Callable[[Any], None], batch: int, stop: int | None = None) -> int:
        """Read from the store after `position` up to `stop` (the log's end when None); returns the
        position reached, which counts notifications of other topics too."""
        recorder = self.app.process_recorder
        top = (recorder.max_notification_id() or 0) if stop is None else stop
        while position < top:
            notifications = recorder.select_notifications(
                start=position, limit=batch, stop=top, topics=self.topics, inclusive_of_start=False
            )
            for notification in notifications:
                apply(self.app.mapper.to_domain_event(notification))
            if len(notifications) < batch:
                return top
            position = notifications[-1].id
        return max(position, top)
