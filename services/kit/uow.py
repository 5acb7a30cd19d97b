"""The unit of work an inbox handler writes through.

An inbox commits many messages in one transaction (that is where its throughput comes from), so a
handler must see what earlier handlers of the same batch did to an aggregate before anything is
stored. The unit of work is that view: loaded and new aggregates, kept until the batch commits with
its tracking record, or discarded whole when a handler fails.

Three batch-level tools, all optional:
- `prefetch(ids)`: one store query for which of many aggregates exist; those that do not are then
  known absent (no query each), e.g. the receipts of a batch of facts (`Inbox` calls a handler's
  `prepare` with the whole batch, where a handler can do this);
- `load(ids)`: one store query for the events of many aggregates, each then projected as `get` would
  (the households a batch of facts is about, rather than a query each);
- `defer(key, work)`: work done once per key just before the commit (`flush`), whatever number of
  messages asked for it, e.g. re-deciding a household once per batch rather than once per fact.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Iterable
from copy import deepcopy
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from services.kit.store import ServiceApplication, event_traces
from services.kit.tracing import current_trace_headers

A = TypeVar("A")
T = TypeVar("T")
PREFETCH_CHUNK = 500


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event `isinstance(…, Protocol)` assertion, which on
    Python 3.11 costs more than applying the event; handlers replay many events per batch."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def existing(app: ServiceApplication, aggregate_ids: Iterable[UUID]) -> set[UUID]:
    """Which of `aggregate_ids` have at least one stored event: one query per 500 ids on SQLite and
    PostgreSQL (one per id on other recorders)."""
    ids = list(dict.fromkeys(aggregate_ids))
    recorder: Any = app.recorder
    found: set[UUID] = set()
    module = type(recorder).__module__
    for start in range(0, len(ids), PREFETCH_CHUNK):
        chunk = ids[start : start + PREFETCH_CHUNK]
        if module == "eventsourcing.sqlite":
            marks = ", ".join("?" for _ in chunk)
            statement = (
                f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608
                f"WHERE originator_id IN ({marks})"
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [i.hex for i in chunk])
                found.update(UUID(str(row["originator_id"])) for row in cursor.fetchall())
        elif module == "eventsourcing.postgres":
            from psycopg.sql import SQL, Identifier

            query = SQL("SELECT DISTINCT originator_id FROM {}.{} WHERE originator_id = ANY(%s)").format(
                Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
            )
            text = recorder.datastore.originator_id_type == "text"
            with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
                cursor.execute(query, [[str(i) for i in chunk] if text else chunk])
                found.update(UUID(str(row["originator_id"])) for row in cursor.fetchall())
        else:
            found.update(i for i in chunk if recorder.select_events(i, limit=1))
    return found


def stored_events(app: ServiceApplication, aggregate_ids: Iterable[UUID]) -> dict[UUID, list[StoredEvent]]:
    """The stored events of many aggregates, in version order, by aggregate: one query per 500 ids on
    SQLite and PostgreSQL (one per id on other recorders)."""
    ids = list(dict.fromkeys(aggregate_ids))
    recorder: Any = app.recorder
    found: dict[UUID, list[StoredEvent]] = {}
    module = type(recorder).__module__
    columns = "originator_id, originator_version, topic, state"
    for start in range(0, len(ids), PREFETCH_CHUNK):
        chunk = ids[start : start + PREFETCH_CHUNK]
        if module == "eventsourcing.sqlite":
            marks = ", ".join("?" for _ in chunk)
            statement = (
                f"SELECT {columns} FROM {recorder.events_table_name} "  # noqa: S608
                f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [i.hex for i in chunk])
                rows = cursor.fetchall()
        elif module == "eventsourcing.postgres":
            from psycopg.sql import SQL, Identifier

            query = SQL(
                "SELECT originator_id, originator_version, topic, state FROM {}.{} "
                "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
            ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
            text = recorder.datastore.originator_id_type == "text"
            with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
                cursor.execute(query, [[str(i) for i in chunk] if text else chunk])
                rows = cursor.fetchall()
        else:
            for i in chunk:
                events = list(recorder.select_events(i))
                if events:
                    found[i] = events
            continue
        for row in rows:
            originator = row["originator_id"]
            aggregate_id = originator if isinstance(originator, UUID) else UUID(str(originator))
            found.setdefault(aggregate_id, []).append(
                StoredEvent(
                    originator_id=aggregate_id,
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            )
    return found


class UnitOfWork:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self._aggregates: dict[UUID, Any] = {}
        self._touched: dict[UUID, Any] = {}
        self._traces: dict[int, dict[str, str]] = {}
        self._absent: set[UUID] = set()
        self._counts: dict[UUID, int] = {}
        self._uncounted: dict[UUID, Any] = {}
        self._deferred: dict[Hashable, tuple[Callable[[UnitOfWork], None], dict[str, str]]] = {}

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        """The aggregate as this batch left it; raises `AggregateNotFoundError`."""
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self._absent:
                raise AggregateNotFoundError(aggregate_id)
            aggregate = self.app.repository.get(aggregate_id, projector_func=project)
            self._aggregates[aggregate_id] = aggregate
        self._touched[aggregate_id] = aggregate
        self._uncounted[aggregate_id] = aggregate
        if not isinstance(aggregate, kind):
            raise TypeError(f"{aggregate_id} is a {type(aggregate).__name__}, not a {kind.__name__}")
        return aggregate

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            return self.get(aggregate_id, kind)
        except AggregateNotFoundError:
            return None

    def reread(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate as the store holds it, not as the cache does, unless this unit of work has
        already changed it (then its copy is the newest there is).

        Why: the library's cache can hand out an older copy than the store's. A read that misses the
        cache rebuilds from the store and puts its copy; if meanwhile another thread saved a newer
        version and the cache evicted it (a cache smaller than a city's aggregates evicts all day),
        the older copy is what later reads get. A handler that only reads, such as one matching a
        peer's answer to the household's current check, would act on it with no write conflict to
        tell it; when what it reads says "ignore this", it rereads first."""
        held = self._aggregates.get(aggregate_id)
        if held is not None and held.pending_events:
            return held if isinstance(held, kind) else None
        self._aggregates.pop(aggregate_id, None)
        self._absent.discard(aggregate_id)
        self.app.evict([held] if held is not None else [])
        events = stored_events(self.app, [aggregate_id]).get(aggregate_id)
        if not events:
            self._absent.add(aggregate_id)
            return None
        aggregate = project(None, (self.app.mapper.to_domain_event(e) for e in events))
        self._aggregates[aggregate_id] = self._touched[aggregate_id] = aggregate
        self._uncounted[aggregate_id] = aggregate
        return aggregate if isinstance(aggregate, kind) else None

    def add(self, aggregate: Any) -> None:
        self._aggregates[aggregate.id] = aggregate
        self._touched[aggregate.id] = aggregate
        self._uncounted[aggregate.id] = aggregate
        self._absent.discard(aggregate.id)

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        """Ask the store once which of `aggregate_ids` exist; `get`/`find` of one that does not then
        answers without a query. Those that exist are loaded as usual, on first `get`."""
        unknown = [i for i in aggregate_ids if i not in self._aggregates]
        if unknown:
            self._absent.update(set(unknown) - existing(self.app, unknown))

    def load(self, aggregate_ids: Iterable[UUID]) -> None:
        """Load those of `aggregate_ids` not yet in this unit of work: from the repository's cache, the
        rest with one store query (per 500); those without events are then known absent. `get`
        answers them without a query."""
        known = self._aggregates.keys() | self._absent
        wanted = [i for i in dict.fromkeys(aggregate_ids) if i not in known]
        repository = self.app.repository
        cache, missing = repository.cache, []
        for aggregate_id in wanted:  # the repository's cache first, as its `get` would
            try:
                cached = cache.get(aggregate_id) if cache is not None else None
            except KeyError:
                cached = None
            if cached is None:
                missing.append(aggregate_id)
            else:
                self._aggregates[aggregate_id] = deepcopy(cached)
        if not missing:
            return
        found = stored_events(self.app, missing)
        to_domain_event = self.app.mapper.to_domain_event
        for aggregate_id in missing:
            events = found.get(aggregate_id)
            if not events:
                self._absent.add(aggregate_id)
                continue
            # Not put in the cache: between this read and a put, another thread may save a newer
            # version and the cache evict it, and the cache would then hand out this older one to
            # every later reader (one that only reads, e.g. to match a peer's answer to the check it
            # answers, would act on it without a write conflict to tell it). Saves refresh the cache.
            self._aggregates[aggregate_id] = project(None, (to_domain_event(e) for e in events))

    def pending_count(self) -> int:
        """Events waiting to be committed.

        Counted again only for aggregates got or added since the last call (handlers reach their
        aggregates through `get`/`add` for each message), so calling it after every message of a batch
        stays linear in the batch.
        """
        uncounted, self._uncounted = self._uncounted, {}
        for aggregate_id, aggregate in uncounted.items():
            self._counts[aggregate_id] = len(aggregate.pending_events)
        return sum(self._counts.values())

    def defer(self, key: Hashable, work: Callable[[UnitOfWork], None]) -> None:
        """Do `work(uow)` once at `flush` (before the commit), however often `key` is deferred. Events
        the work creates carry the trace context of the first `defer` of `key`."""
        if key not in self._deferred:
            self._deferred[key] = (work, current_trace_headers())

    def flush(self) -> None:
        """Run the deferred work, in the order first asked for (work may defer more)."""
        self.capture_traces()
        while self._deferred:
            key = next(iter(self._deferred))
            work, headers = self._deferred.pop(key)
            work(self)
            self._capture(headers)

    def capture_traces(self) -> None:
        """Remember the current trace context for events created since the last call."""
        self._capture(current_trace_headers())

    def _capture(self, headers: dict[str, str]) -> None:
        touched, self._touched = self._touched, {}
        if not headers:
            return
        for aggregate in touched.values():
            for event in aggregate.pending_events:
                self._traces.setdefault(id(event), headers)

    def commit(self, tracking: Tracking | None) -> None:
        """Run the deferred work, then store every pending event and the tracking record atomically."""
        self.flush()
        with event_traces(self._traces):
            self.app.commit(tracking, list(self._aggregates.values()))
        self._aggregates.clear()
        self._touched.clear()
        self._traces.clear()
        self._absent.clear()
        self._counts.clear()
        self._uncounted.clear()


def run_in_unit_of_work(
    app: ServiceApplication,
    work: Callable[[UnitOfWork], T],
    *,
    attempts: int = 5,
    on_conflict: Callable[[], None] | None = None,
) -> T:
    """Run a command: `work` on a fresh unit of work, then commit; on a version conflict (another
    writer saved one of its aggregates first, or created one with the same id; the stale copies are
    evicted from the cache) run it again on fresh state, where it sees what the other writer did.

    Only the store's version check decides who wins, so this holds across replicas; a short random
    pause between attempts keeps two writers from colliding again in step.
    """
    for attempt in range(attempts):
        uow = UnitOfWork(app)
        result = work(uow)
        try:
            uow.commit(None)
        except IntegrityError:
            if on_conflict is not None:
                on_conflict()
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311 (jitter, not crypto)
            continue
        return result
    raise AssertionError("unreachable")
