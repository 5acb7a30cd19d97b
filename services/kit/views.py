"""Read models folded from a service's own notification log.

Every service keeps in-memory views (queues, boards, figures) of what its store holds, and brings them
up to date by applying what was stored since it last looked, whichever process wrote it. The loop
that does so lives here once; what each view does with an event is the service's business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.kit.store import ServiceApplication

BATCH = 1000


def follow(
    app: ServiceApplication,
    position: int,
    apply: Callable[[Any], None],
    *,
    topics: Sequence[str] = (),
    batch: int = BATCH,
) -> int:
    """Apply every domain event stored after `position` (only those of `topics` when given) and return
    the position of the last one applied. Call it under the view's lock; an event that fails to apply
    raises with the position of the one before it already returned by the previous call."""
    recorder = app.process_recorder
    while True:
        notifications = recorder.select_notifications(
            start=position, limit=batch, topics=topics, inclusive_of_start=False
        )
        for notification in notifications:
            apply(app.mapper.to_domain_event(notification))
            position = notification.id
        if len(notifications) < batch:
            # a topic filter skips other notifications: the next call starts after the last applied
            return position
