"""The kit's event store wiring, on SQLite and on PostgreSQL (the `persistence` fixture)."""

from __future__ import annotations

import base64
import os
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from opentelemetry.trace import SpanKind

from services.kit.settings import ServiceSettings
from services.kit.store import NewestCache, decode_with_trace
from services.kit.tracing import setup_tracing, span, trace_id_of
from services.kit.uow import UnitOfWork
from tests.kit.sample import FactReport, Feed, Tally, TallyApp


def settings(tmp_path: Path, name: str = "feed") -> ServiceSettings:
    return ServiceSettings(service_name=name, var_dir=tmp_path)


def test_saves_and_reloads_with_money_as_decimal(tmp_path: Path, persistence: dict[str, str]) -> None:
    feed = Feed(settings(tmp_path), persistence)
    household = uuid4()
    report_id = feed.report("ref-1", household, Decimal("3960.01"))
    report: FactReport = feed.repository.get(report_id)
    assert report.monthly_income == Decimal("3960.01")
    assert isinstance(report.monthly_income, Decimal)
    assert report.household_id == household
    feed.close()


def test_positions_are_high_water_marks(tmp_path: Path, persistence: dict[str, str]) -> None:
    app = TallyApp(settings(tmp_path, "tally"), persistence)
    assert app.position("inbox:DEPARTMENT") == 0
    app.record_position("inbox:DEPARTMENT", 7)
    app.record_position("outbox", 3)
    assert app.position("inbox:DEPARTMENT") == 7
    assert app.position("outbox") == 3
    with pytest.raises(IntegrityError):
        app.record_position("inbox:DEPARTMENT", 7)
    app.close()


def test_events_and_tracking_commit_together_or_not_at_all(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    app = TallyApp(settings(tmp_path, "tally"), persistence)
    household = uuid4()
    first = UnitOfWork(app)
    tally = Tally(household)
    first.add(tally)
    tally.count("a")
    first.commit(Tracking("inbox:DEPARTMENT", 1))

    # The same message again (a redelivery racing a commit): its tracking record is refused,
    # and so are the events that came with it.
    again = UnitOfWork(app)
    again.get(tally.id, Tally).count("a")
    with pytest.raises(IntegrityError):
        again.commit(Tracking("inbox:DEPARTMENT", 1))
    assert app.references(household) == ["a"]
    assert app.position("inbox:DEPARTMENT") == 1
    app.close()


def test_unit_of_work_shows_a_batch_its_own_changes(tmp_path: Path, persistence: dict[str, str]) -> None:
    app = TallyApp(settings(tmp_path, "tally"), persistence)
    household = uuid4()
    uow = UnitOfWork(app)
    tally = Tally(household)
    uow.add(tally)
    uow.get(tally.id, Tally).count("a")
    uow.get(tally.id, Tally).count("b")
    assert uow.find(uuid4(), Tally) is None
    uow.commit(Tracking("inbox:DEPARTMENT", 2))
    assert app.references(household) == ["a", "b"]
    app.close()


def test_trace_context_is_stored_beside_the_event_not_in_it(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    setup_tracing("test", None)
    feed = Feed(settings(tmp_path), persistence)
    with span("request", SpanKind.SERVER) as s:
        report_id = feed.report("traced", uuid4())
        trace_id = trace_id_of(s)
    notification = feed.notification_log.select(start=1, limit=10)[-1]
    event, headers = decode_with_trace(feed.mapper, notification)
    assert headers["traceparent"].split("-")[1] == trace_id
    assert "__trace__" not in vars(event)
    assert feed.repository.get(report_id).reference == "traced"
    feed.close()


def test_cipher_and_compression_from_the_environment(tmp_path: Path, persistence: dict[str, str]) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    env = {**persistence, "CIPHER_KEY": key, "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    feed = Feed(settings(tmp_path), env)
    report_id = feed.report("secret-reference", uuid4())
    stored = feed.recorder.select_events(report_id)[0]
    assert b"secret-reference" not in stored.state
    assert feed.repository.get(report_id).reference == "secret-reference"
    notification = feed.notification_log.select(start=1, limit=1)[0]
    assert decode_with_trace(feed.mapper, notification)[1] == {}
    feed.close()


def test_a_stale_cached_aggregate_fails_its_save_and_is_reloaded(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    """Two writers on one store (replicas): the cache does not fast-forward, the version check holds."""
    first = TallyApp(settings(tmp_path, "tally"), persistence)
    second = TallyApp(settings(tmp_path, "tally"), persistence)
    household = uuid4()
    tally = Tally(household)
    first.save(tally)
    first.repository.get(tally.id)  # now cached in `first`

    theirs: Tally = second.repository.get(tally.id)
    theirs.count("from-second")
    second.save(theirs)

    stale: Tally = first.repository.get(tally.id)
    assert stale.references == []  # the cache does not know what `second` wrote
    stale.count("from-first")
    with pytest.raises(IntegrityError):
        first.save(stale)
    fresh: Tally = first.repository.get(tally.id)
    assert fresh.references == ["from-second"]
    fresh.count("from-first")
    first.save(fresh)
    assert first.references(household) == ["from-second", "from-first"]
    # Reads are another matter: `second` still holds its own version until its next failed save.
    # That is the documented price of AGGREGATE_CACHE_FASTFORWARD=n with several writers.
    assert second.references(household) == ["from-second"]
    first.close()
    second.close()


def test_processes_starting_together_on_one_new_store_all_start(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    """Replicas, or a service split with `SERVICE_LOOPS`, create the same tables at the same moment;
    PostgreSQL can refuse the loser of that race ("tuple concurrently updated"), which once stopped a
    split eligibility from starting. Eight at once, each with its own connections, all start."""
    import threading

    barrier = threading.Barrier(8)
    started: list[Feed] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            started.append(Feed(settings(tmp_path), persistence))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(started) == 8
    started[0].report("ref-1", uuid4())
    for feed in started:
        feed.close()


def test_a_copy_rebuilt_before_a_save_never_replaces_the_saved_one_in_the_cache(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    """A reader that missed the cache rebuilds the aggregate from the store; a writer saves a newer
    version meanwhile and puts it in the cache; the reader's put of its older copy comes last. The
    cache keeps the newer one, so later reads see the save (the lost answers of the city benchmark)."""
    app = TallyApp(settings(tmp_path, "tally"), persistence)
    tally = Tally(uuid4())
    app.save(tally)
    rebuilt_before_the_save: Tally = app.repository.get(tally.id)  # version 1, as a slow reader has it
    tally.count("ref-1")
    app.save(tally)  # version 2 in the store and in the cache
    assert app.repository.cache is not None
    app.repository.cache.put(tally.id, rebuilt_before_the_save)  # the slow reader's put, last
    assert app.repository.get(tally.id).version == 2
    assert app.repository.get(tally.id).references == ["ref-1"]
    app.close()


def test_load_reads_many_aggregates_at_once_as_get_would(tmp_path: Path, persistence: dict[str, str]) -> None:
    """`UnitOfWork.load`: the aggregates of one query are those `get` rebuilds one by one, those with
    no events are known absent, and a loaded aggregate is the unit of work's own (changing it changes
    nothing stored or cached until the commit)."""
    app = TallyApp(settings(tmp_path, "tally"), persistence)
    households = [uuid4() for _ in range(3)]
    setup = UnitOfWork(app)
    for n, household in enumerate(households):
        tally = Tally(household)
        for i in range(n + 1):
            tally.count(f"r{i}")
        setup.add(tally)
    setup.commit(None)
    app.repository.cache = NewestCache(10)  # empty: `load` must read the store
    ids = [Tally.create_id(h) for h in households]
    nobody = Tally.create_id(uuid4())

    uow = UnitOfWork(app)
    uow.load([*ids, nobody])
    loaded = [uow.get(i, Tally) for i in ids]
    assert [t.version for t in loaded] == [app.repository.get(i).version for i in ids] == [2, 3, 4]
    assert uow.find(nobody, Tally) is None
    loaded[0].count("extra")  # not saved: the store and the cache still hold version 2
    assert app.repository.get(ids[0]).version == 2
    uow.commit(None)
    assert app.repository.get(ids[0]).version == 3
    app.close()


def test_uncached_kinds_are_not_kept_in_the_aggregate_cache(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    class Receipts(TallyApp):
        uncached = (FactReport,)

    app = Receipts(settings(tmp_path, "tally"), persistence)
    assert app.repository.cache is not None
    uow = UnitOfWork(app)
    report, tally = FactReport("ref-1", uuid4(), Decimal("1.00")), Tally(uuid4())
    uow.add(report)
    uow.add(tally)
    uow.commit(None)
    with pytest.raises(KeyError):
        app.repository.cache.get(report.id)
    assert app.repository.cache.get(tally.id).version == tally.version
    assert app.repository.get(report.id).reference == "ref-1"  # still stored, read from the store
    app.close()


def test_reread_takes_the_store_over_an_older_copy_in_the_cache(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    """The race the cache allows (a rebuilt copy put after a newer save was evicted) leaves an older
    copy there; `reread` answers the store's version, and keeps this unit of work's own changes."""
    app = TallyApp(settings(tmp_path, "tally"), persistence)
    tally = Tally(uuid4())
    first = UnitOfWork(app)
    first.add(tally)
    first.commit(None)
    old: Tally = app.repository.get(tally.id)
    second = UnitOfWork(app)
    second.get(tally.id, Tally).count("r1")
    second.commit(None)
    assert app.repository.cache is not None
    app.repository.cache.get(tally.id, evict=True)
    app.repository.cache.put(tally.id, old)  # the older copy, as the race leaves it

    uow = UnitOfWork(app)
    assert uow.get(tally.id, Tally).version == old.version  # what the cache says
    fresh = uow.reread(tally.id, Tally)
    assert fresh is not None and fresh.version == old.version + 1
    fresh.count("r2")
    assert uow.reread(tally.id, Tally) is fresh  # changed here: this copy is the newest
    assert uow.reread(uuid4(), Tally) is None
    app.close()
