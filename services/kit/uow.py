"""The unit of work an inbox handler writes through.

An inbox commits many messages in one transaction (that is where its throughput comes from), so a
handler must see what earlier handlers of the same batch did to an aggregate before anything is
stored. The unit of work is that view: loaded and new aggregates, kept until the batch commits with
its tracking record, or discarded whole when a handler fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from services.kit.store import ServiceApplication, event_traces
from services.kit.tracing import current_trace_headers

A = TypeVar("A")


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event `isinstance(…, Protocol)` assertion, which on
    Python 3.11 costs more than applying the event; handlers replay many events per batch."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class UnitOfWork:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self._aggregates: dict[UUID, Any] = {}
        self._touched: dict[UUID, Any] = {}
        self._traces: dict[int, dict[str, str]] = {}

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        """The aggregate as this batch left it; raises `AggregateNotFoundError`."""
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:
            aggregate = self.app.repository.get(aggregate_id, projector_func=project)
            self._aggregates[aggregate_id] = aggregate
        self._touched[aggregate_id] = aggregate
        if not isinstance(aggregate, kind):
            raise TypeError(f"{aggregate_id} is a {type(aggregate).__name__}, not a {kind.__name__}")
        return aggregate

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            return self.get(aggregate_id, kind)
        except AggregateNotFoundError:
            return None

    def add(self, aggregate: Any) -> None:
        self._aggregates[aggregate.id] = aggregate
        self._touched[aggregate.id] = aggregate

    def pending_count(self) -> int:
        """Events waiting to be committed."""
        return sum(len(aggregate.pending_events) for aggregate in self._aggregates.values())

    def capture_traces(self) -> None:
        """Remember the current trace context for events created since the last call."""
        touched, self._touched = self._touched, {}
        headers = current_trace_headers()
        if not headers:
            return
        for aggregate in touched.values():
            for event in aggregate.pending_events:
                self._traces.setdefault(id(event), headers)

    def commit(self, tracking: Tracking | None) -> None:
        """Store every pending event and the tracking record atomically."""
        with event_traces(self._traces):
            self.app.commit(tracking, list(self._aggregates.values()))
        self._aggregates.clear()
        self._touched.clear()
        self._traces.clear()
