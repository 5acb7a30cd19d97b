"""A read model's tail (`services.kit.views.Tail`) on a real store, SQLite and PostgreSQL: what this
process commits is applied as committed, without reading it back; what another process commits, a gap,
or more than the tail holds is read from the store; either way the view sees every event of its
topics once, in the log's order, and its position counts notifications of other topics too."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from services.kit.settings import ServiceSettings
from services.kit.views import Tail
from tests.kit.sample import FactReport, Feed, Tally


class View:
    """What a view applies, and how many of those events were decoded from the store."""

    def __init__(self, app: Feed, topics: tuple[str, ...] = (), held: int = 1000) -> None:
        self.app, self.position, self.applied = app, 0, list[Any]()
        self.decoded = 0
        self.tail = Tail(app, topics, held)
        decode = app.mapper.to_domain_event

        def counted(notification: Any) -> Any:
            self.decoded += 1
            return decode(notification)

        app.mapper.to_domain_event = counted  # type: ignore[method-assign,assignment]

    def catch_up(self) -> None:
        self.position = self.tail.follow(self.position, self.applied.append, batch=2)

    def originators(self) -> list[UUID]:
        return [e.originator_id for e in self.applied]


def _feed(persistence: dict[str, str], tmp_path: Path) -> Feed:
    return Feed(ServiceSettings(service_name="feed", var_dir=tmp_path), persistence)


def _log(app: Feed) -> list[UUID]:
    """Every originator in the store's notification order."""
    notifications = app.process_recorder.select_notifications(start=None, limit=1000)
    return [UUID(str(n.originator_id)) for n in notifications]


def test_what_this_process_commits_is_applied_as_committed(
    persistence: dict[str, str], tmp_path: Path
) -> None:
    app = _feed(persistence, tmp_path)
    view = View(app)
    committed: list[Any] = []
    app.on_recorded(lambda recordings: committed.extend(r.domain_event for r in recordings))
    for number in range(3):
        app.report(f"r{number}", uuid4())
    app.report_many([(f"m{number}", uuid4()) for number in range(4)])

    view.catch_up()

    assert view.decoded == 0
    assert len(view.applied) == 7
    assert all(a is c for a, c in zip(view.applied, committed, strict=True))
    assert view.position == app.process_recorder.max_notification_id()


def test_another_writer_is_read_from_the_store_in_the_log_order(
    persistence: dict[str, str], tmp_path: Path
) -> None:
    app, other = _feed(persistence, tmp_path), _feed(persistence, tmp_path)
    view = View(app)
    app.report("here-1", uuid4())
    other.report_many([("there-1", uuid4()), ("there-2", uuid4())])
    app.report("here-2", uuid4())
    other.report("there-3", uuid4())

    view.catch_up()

    assert view.originators() == _log(app)
    assert view.decoded == 3  # only the other writer's
    app.report("here-3", uuid4())
    view.catch_up()
    assert view.originators() == _log(app)
    assert view.decoded == 3


def test_a_commit_handed_over_late_is_not_applied_twice(persistence: dict[str, str], tmp_path: Path) -> None:
    app = _feed(persistence, tmp_path)
    view = View(app)
    recorded: list[Any] = []
    app.on_recorded(recorded.append)
    app.report("first", uuid4())
    view.position = 0
    view.catch_up()  # applied as committed

    for recordings in recorded:  # handed over again, after the view had read past them
        view.tail._take(recordings)
    app.report("second", uuid4())
    view.catch_up()

    assert view.originators() == _log(app)
    assert view.decoded == 0


def test_more_than_the_tail_holds_is_read_from_the_store(persistence: dict[str, str], tmp_path: Path) -> None:
    app = _feed(persistence, tmp_path)
    view = View(app, held=3)
    app.report_many([(f"m{number}", uuid4()) for number in range(2)])
    app.report_many([(f"n{number}", uuid4()) for number in range(2)])  # past the tail's 3: let go

    view.catch_up()

    assert view.originators() == _log(app)
    assert view.decoded == 4


def test_other_topics_move_the_position_but_are_not_applied(
    persistence: dict[str, str], tmp_path: Path
) -> None:
    app, other = _feed(persistence, tmp_path), _feed(persistence, tmp_path)
    view = View(app, topics=(get_topic(FactReport.Reported),))
    app.report("mine", uuid4())
    app.save(Tally(uuid4()))
    other.save(Tally(uuid4()))
    view.catch_up()

    assert [type(e) for e in view.applied] == [FactReport.Reported]
    assert view.position == app.process_recorder.max_notification_id()
    other.report("theirs", uuid4())
    app.save(Tally(uuid4()))
    view.catch_up()
    assert [e.reference for e in view.applied] == ["mine", "theirs"]
    assert view.position == app.process_recorder.max_notification_id()
