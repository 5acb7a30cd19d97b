"""A household's timeline from a service's own event store (the `contracts.timeline` HTTP contract).

Every service answers `GET /households/{id}/timeline`; what differs is which aggregates concern the
household and how each domain event reads in words. Both are the service's business (`describe`), the
rest, reading the stored events with the trace context saved beside each, lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts.timeline import TimelineEntry
from services.kit.store import ServiceApplication, decode_with_trace


@dataclass(frozen=True)
class Step:
    """How a service describes one of its domain events on a timeline."""

    summary: str
    actor: str | None = None
    reason: str = ""


Describe = Callable[[DomainEventProtocol[UUID]], Step | None]
"""Words for a domain event, or None to leave it off the timeline."""


def trace_id_from(headers: dict[str, str]) -> str | None:
    """The trace id of a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`), if any."""
    parts = headers.get("traceparent", "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
        return parts[1].lower()
    return None


def timeline(
    app: ServiceApplication, aggregate_ids: Iterable[UUID], describe: Describe
) -> list[TimelineEntry]:
    """Entries for every described event of the given aggregates, oldest first."""
    entries: list[TimelineEntry] = []
    for aggregate_id in aggregate_ids:
        for stored in app.recorder.select_events(aggregate_id):
            event, headers = decode_with_trace(app.mapper, stored)
            step = describe(event)
            if step is None:
                continue
            stamp = getattr(event, "timestamp", None)
            at = stamp if isinstance(stamp, datetime) else app.clock()
            entries.append(
                TimelineEntry(
                    at=at if at.tzinfo else at.replace(tzinfo=UTC),
                    service=app.settings.service_name,
                    type=f"{type(event).__qualname__}"[:64],
                    summary=step.summary,
                    actor=step.actor,
                    reason=step.reason,
                    trace_id=trace_id_from(headers),
                )
            )
    entries.sort(key=lambda entry: entry.at)
    return entries
