"""The eventsourcing Application every service runs, wired for our storage and our backbone.

Choices made once here rather than in each service:
- SQLite file under `var/` unless the environment names another persistence module; PostgreSQL gets a
  schema per service (created if missing) so that one database can hold every service's store;
- a *process* recorder, whose tracking table records the outbox relay's position and the inbox's
  (stream, sequence) positions in the same transactions as the events they caused;
- a transcoder that stores the W3C trace context beside each event's state, so that the relay, which
  publishes later and elsewhere, still continues the trace of the request that caused the event;
- `date` values in events (rules, tenancies and notices are dated).
- stored state encoded and decoded with orjson, in exactly the library's JSON (`FastJSONTranscoder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.application import Application, LRUCache, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    Recording,
    StoredEvent,
    Tracking,
    Transcoder,
    Transcoding,
)
from eventsourcing.utils import Environment

from services.kit.clock import Clock, install, now
from services.kit.settings import ServiceSettings
from services.kit.tracing import current_trace_headers

TRACE_KEY = "__trace__"

# The repository hands out deep copies of cached aggregates (so a failed command cannot corrupt the
# cache). `copy.deepcopy` rebuilds UUIDs and datetimes through `__reduce_ex__`, which dominated the
# cost of every inbox message; they are immutable, so sharing them is what a deep copy means anyway.
for _immutable in (UUID, datetime, date):
    copy._deepcopy_dispatch[_immutable] = copy._deepcopy_atomic  # type: ignore[attr-defined]


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class UUIDAsHex(Transcoding):
    """The library's `UUIDAsHex` (same name, same stored form), decoding the hex it wrote without
    `UUID.__init__`'s parsing of other spellings: every stored event names a few UUIDs, and the relay
    and the read models decode each event again."""

    type = UUID
    name = "uuid_hex"

    def encode(self, obj: UUID) -> str:
        return obj.hex

    def decode(self, data: str) -> UUID:
        assert isinstance(data, str)
        if len(data) != 32 or not data.isalnum():  # not what `encode` wrote: let UUID parse or refuse it
            return UUID(data)
        uuid = object.__new__(UUID)
        object.__setattr__(uuid, "int", int(data, 16))  # ValueError for non-hex, as UUID(data) raises
        object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
        return uuid


# Trace context of events created while handling a message, keyed by id(event): events of a whole
# batch are stored in one transaction, after each message's span has ended.
_event_traces: ContextVar[Mapping[int, dict[str, str]] | None] = ContextVar("event_traces", default=None)
_encoding_trace: ContextVar[dict[str, str] | None] = ContextVar("encoding_trace", default=None)


@contextmanager
def event_traces(traces: Mapping[int, dict[str, str]]) -> Iterator[None]:
    """Store events of `traces` with the context they were created in, not the current one."""
    token = _event_traces.set(traces)
    try:
        yield
    finally:
        _event_traces.reset(token)


class TracingMapper(Mapper[UUID]):
    """Mapper that hands each event's trace context to the transcoder while the event is encoded."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        traces = _event_traces.get()
        headers = (traces or {}).get(id(domain_event)) or current_trace_headers()
        token = _encoding_trace.set(headers)
        try:
            return super().to_stored_event(domain_event)
        finally:
            _encoding_trace.reset(token)


class _NotPlain(Exception):
    """The object holds something only the library's own encoder treats exactly as it should."""


_PLAIN = frozenset((str, int, bool, type(None)))


class FastJSONTranscoder(JSONTranscoder):
    """The library's JSON, byte for byte, written and read by orjson.

    The stdlib `json` module behind `JSONTranscoder` cost the inbox ~8 % of its CPU per fact. orjson
    cannot be handed the library's object hook, and it writes UUIDs natively (as strings, not the
    library's `{"_type_": "uuid_hex", ...}`), so registered types are turned into their
    `{"_type_": name, "_data_": ...}` form first, in one pass that is cheaper than the stdlib encoder's
    callbacks, and turned back in one pass after parsing. Anything that pass does not know exactly as
    the stdlib encoder would write it (a subclass of str or dict, a non-string key, a float orjson
    formats differently: NaN, infinities) goes to the library's encoder instead; anything orjson parses
    other than the stdlib would (a float: orjson reads integers beyond 64 bits as floats; NaN) is read
    by the library's decoder. Stores written by either read the same (tests/kit/test_transcoder.py).
    """

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._plain(obj))
        except (_NotPlain, orjson.JSONEncodeError):  # e.g. an int beyond 64 bits, a lone surrogate
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            obj = orjson.loads(data)
            kind = type(obj)
            if kind is dict:
                return self._typed_dict(obj)
            if kind is list:
                return self._typed_list(obj)
            if kind is float:
                raise _NotPlain
            return obj
        except (_NotPlain, orjson.JSONDecodeError):
            return super().decode(data)

    def _plain(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN:
            return obj
        if kind is dict:
            return self._plain_dict(obj)
        if kind is list or kind is tuple:
            return [value if type(value) in _PLAIN else self._plain(value) for value in obj]
        if kind is float:
            if math.isfinite(obj):
                return obj
            raise _NotPlain
        transcoding = self.types.get(kind)
        if transcoding is None:
            raise _NotPlain
        return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(obj))}

    def _plain_dict(self, obj: dict[Any, Any]) -> dict[str, Any]:
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = value if type(value) in _PLAIN else self._plain(value)
        return out

    def _typed_dict(self, obj: dict[str, Any]) -> Any:
        """`JSONTranscoder._decode_obj` applied bottom-up, as the stdlib decoder's hook is."""
        for key, value in obj.items():
            kind = type(value)
            if kind is dict:
                obj[key] = self._typed_dict(value)
            elif kind is list:
                obj[key] = self._typed_list(value)
            elif kind is float:
                raise _NotPlain
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            return self._decode_obj(obj)
        return obj

    def _typed_list(self, obj: list[Any]) -> list[Any]:
        for index, value in enumerate(obj):
            kind = type(value)
            if kind is dict:
                obj[index] = self._typed_dict(value)
            elif kind is list:
                obj[index] = self._typed_list(value)
            elif kind is float:
                raise _NotPlain
        return obj


class TraceCarryingTranscoder(FastJSONTranscoder):
    """JSON transcoder that adds the event's trace context to its stored state.

    The key is removed again on decoding, so domain events never see it; the last removed context is
    kept per thread for `decode_with_trace`, which saves the relay a second parse of every event.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_trace = threading.local()

    def encode(self, obj: Any) -> bytes:
        headers = _encoding_trace.get()
        if headers and isinstance(obj, dict):
            obj = {**obj, TRACE_KEY: headers}
        return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        obj = super().decode(data)
        headers = obj.pop(TRACE_KEY, None) if isinstance(obj, dict) else None
        self.last_trace.headers = headers if isinstance(headers, dict) else {}
        return obj


def decode_with_trace(
    mapper: Mapper[UUID], stored: StoredEvent
) -> tuple[DomainEventProtocol[UUID], dict[str, str]]:
    """The domain event and the trace context that was current when it was saved (empty if none)."""
    event = mapper.to_domain_event(stored)
    transcoder = mapper.transcoder
    headers = transcoder.last_trace.headers if isinstance(transcoder, TraceCarryingTranscoder) else {}
    return event, dict(headers)


def persistence_env(
    settings: ServiceSettings, app_name: str, overrides: Mapping[str, str] | None
) -> dict[str, str]:
    """The eventsourcing environment for one application: library variables win, defaults fill gaps."""
    env = {**os.environ, **(overrides or {})}
    lookup = Environment(app_name, env)
    extra: dict[str, str] = {}
    module = lookup.get("PERSISTENCE_MODULE") or "eventsourcing.sqlite"
    extra["PERSISTENCE_MODULE"] = module
    if module == "eventsourcing.sqlite" and not lookup.get("SQLITE_DBNAME"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        extra["SQLITE_DBNAME"] = str(settings.var_dir / f"{settings.service_name}.sqlite")
    if module == "eventsourcing.sqlite" and not lookup.get("SQLITE_LOCK_TIMEOUT"):
        extra["SQLITE_LOCK_TIMEOUT"] = "10"
    if not lookup.get("AGGREGATE_CACHE_MAXSIZE"):
        # Inbox handlers load the same households again and again; replaying every event each
        # time costs more than the rest of the pipeline.
        extra["AGGREGATE_CACHE_MAXSIZE"] = "10000"
    if not lookup.get("AGGREGATE_CACHE_FASTFORWARD"):
        # A service's store has one writing process, whose saves refresh the cache, so asking the
        # store for newer events on every read (a query per aggregate per message, which halved the
        # inbox's rate) buys nothing. Writes stay safe with several writers: a stale aggregate fails
        # its save on the version check and is evicted (`ServiceApplication.save`/`commit`). Set
        # AGGREGATE_CACHE_FASTFORWARD=y when replicas must also *read* each other's latest writes.
        extra["AGGREGATE_CACHE_FASTFORWARD"] = "n"
    if module == "eventsourcing.postgres":
        # A PostgreSQL identifier takes no hyphen ("federation-cn-gz" is a service name in the stack).
        schema = lookup.get("POSTGRES_SCHEMA") or settings.service_name.replace("-", "_")
        extra["POSTGRES_SCHEMA"] = schema
        ensure_postgres_schema(Environment(app_name, {**env, **extra}), schema)
    return {**(overrides or {}), **extra}


def _postgres(env: Environment) -> Any:
    """A connection of its own (autocommit) to the store's database, for what precedes the library's."""
    import psycopg

    return psycopg.connect(
        dbname=env.get("POSTGRES_DBNAME"),
        host=env.get("POSTGRES_HOST"),
        port=env.get("POSTGRES_PORT") or "5432",
        user=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD") or None,
        autocommit=True,
    )


def ensure_postgres_schema(env: Environment, schema: str) -> None:
    """Create the service's schema; the library creates tables but expects the schema to exist."""
    import psycopg
    from psycopg import sql

    # Another process of the service creating it at the same moment makes PostgreSQL refuse this
    # one with a duplicate `pg_namespace` row, despite IF NOT EXISTS: it exists, as wanted.
    with _postgres(env) as conn, contextlib.suppress(psycopg.errors.UniqueViolation):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


@contextmanager
def _creation_lock(env: Environment) -> Iterator[None]:
    """Held while a process creates its store's tables: a PostgreSQL advisory lock on the schema, or
    an exclusive lock on a file beside the SQLite database (none for an in-memory one)."""
    module = env.get("PERSISTENCE_MODULE")
    if module == "eventsourcing.postgres":
        with postgres_lock(env, f"housing:create-tables:{env.get('POSTGRES_SCHEMA')}"):
            yield
        return
    database = env.get("SQLITE_DBNAME") or ""
    if module != "eventsourcing.sqlite" or not database or "memory" in database:
        yield
        return
    import fcntl

    with open(f"{database}.create-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def postgres_lock(env: Environment, name: str) -> Iterator[None]:
    """A PostgreSQL advisory lock on `name`, held by a connection of its own while the block runs."""
    with _postgres(env) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))


class NewestCache(LRUCache[UUID, Any]):
    """The repository's aggregate cache, which never puts an older version over a newer one.

    The library's repository puts what it rebuilt from the store into the cache on a miss. A thread
    that began rebuilding before another thread's save (and its `put` of the saved aggregate) then
    puts the older copy last; with no fast-forward (`AGGREGATE_CACHE_FASTFORWARD=n`) every later
    read gets it. Seen once in the whole-city benchmark: eligibility's inbox read a household
    without its just-requested check and dropped the four peers' answers to it as answers to an old
    check. Puts take turns (`_puts`) so that comparing and putting is one step.
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self._puts = threading.Lock()

    def put(self, key: UUID, value: Any | None) -> Any | None:
        with self._puts:
            link = self.cache.get(key)
            held = None if link is None else link[self.RESULT]
            newer = getattr(held, "version", None)
            if newer is not None and value is not None and newer > getattr(value, "version", newer):
                return None
            return super().put(key, value)


class ServiceApplication(Application[UUID]):
    """Base of every service's Application: storage wiring, tracking positions, save listeners."""

    log_section_size = 1000
    uncached: tuple[type, ...] = ()
    """Aggregates written once and then only asked whether they exist (receipts of facts and
    registrations): kept out of the aggregate cache on save, where they would push out the aggregates
    that are read again and again (at a city's scale, a batch of facts saves a receipt per fact)."""

    def __init__(
        self, settings: ServiceSettings, env: Mapping[str, str] | None = None, clock: Clock | None = None
    ) -> None:
        """`clock`, when given, becomes the process's clock (`services.kit.clock.install`), which also
        stamps the events; without one the application follows whatever clock the process has."""
        if clock is not None:
            install(clock)
        self.clock: Clock = clock or now
        self.settings = settings
        self._listeners: list[Callable[[], None]] = []
        self._recorded: list[Callable[[list[Recording[UUID]]], None]] = []
        self._listeners_lock = threading.Lock()
        super().__init__(env=persistence_env(settings, self.name, env))
        cache = self.repository.cache
        if isinstance(cache, LRUCache) and not isinstance(cache, NewestCache):
            self.repository.cache = NewestCache(cache.maxsize)

    def today(self) -> date:
        """Today in the city's local time (`CITY_TIME_ZONE`): every service dates things alike."""
        return self.settings.local_date(self.clock())

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def construct_recorder(self) -> ProcessRecorder:
        """The recorder, its tables created (and the library's table migrations recorded) if missing.

        Two processes of one service starting together on one new store (replicas, or a service
        split with `SERVICE_LOOPS`) would race in that creation: PostgreSQL refuses the loser
        ("tuple concurrently updated", "relation already exists"), and on either backend both may
        record the same migration ("Failed to record tracking for __migration__ 1"). This once
        stopped a split eligibility from starting. A lock per store makes them take turns.
        """
        with _creation_lock(Environment(self.name, self.env)):
            return self.factory.process_recorder()

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=TracingMapper)

    def construct_transcoder(self) -> Transcoder:
        transcoder = TraceCarryingTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(UUIDAsHex())  # in place of the library's, under the same name
        transcoder.register(DateAsISO())

    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every save in this process (the relay wakes up instead of polling)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def on_recorded(self, listener: Callable[[list[Recording[UUID]]], None]) -> None:
        """Hand `listener` what every save in this process recorded (`services.kit.views.Tail`)."""
        with self._listeners_lock:
            self._recorded.append(listener)

    def wake_on_save(self, event: asyncio.Event) -> None:
        """Set `event` after every save in this process, whichever thread saves.

        Call it from the event loop whose tasks wait on `event`: loops that follow the store (the
        relay, read models, workers) then react at once instead of at their next poll.
        """
        loop = asyncio.get_running_loop()

        def wake() -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

        self.on_saved(wake)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if recordings:
            for take in list(self._recorded):
                take(recordings)
            for listener in list(self._listeners):
                listener()

    def save(
        self, *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None, **kwargs: Any
    ) -> list[Recording[UUID]]:
        try:
            return super().save(*objs, **kwargs)
        except IntegrityError:
            self.evict(obj for obj in objs if obj is not None and not isinstance(obj, DomainEventProtocol))
            raise

    def evict(self, aggregates: Iterable[Any]) -> None:
        """Drop aggregates from the cache after a failed save: the next read comes from the store."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate in aggregates:
            with contextlib.suppress(KeyError):
                cache.get(aggregate.id, evict=True)

    def position(self, name: str) -> int:
        """Last position recorded under `name` (0 when none): the relay's or an inbox stream's."""
        return self.process_recorder.max_tracking_id(name) or 0

    def record_position(self, name: str, position: int) -> None:
        """Record a position with no events (a relay batch, or a message that changed nothing)."""
        self.process_recorder.insert_tracking(Tracking(name, position))

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """The library's `_record` (eventsourcing 9.5), without caching the `uncached` kinds."""
        recordings = self.events.put(
            processing_event.events, tracking=processing_event.tracking, **processing_event.saved_kwargs
        )
        cache = self.repository.cache
        if cache and not self.repository.fastforward:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                if not isinstance(aggregate, self.uncached):
                    cache.put(aggregate_id, aggregate)
        return recordings

    def commit(self, tracking: Tracking | None, aggregates: Sequence[Aggregate]) -> list[Recording[UUID]]:
        """Store the aggregates' pending events and the tracking record in one transaction."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent(tracking)
        for aggregate in aggregates:  # `collect_events` without its per-object Protocol isinstance checks
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        if not processing_event.events:
            if tracking is not None:
                self.record_position(tracking.application_name, tracking.notification_id)
            return []
        try:
            recordings = self._record(processing_event)
        except IntegrityError:
            self.evict(aggregates)
            raise
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings
