"""Stored events name their class by topic (`module:qualname`). `Tenancy` moved from
`services.penalties.domain` to `services.penalties.tenancy`: events stored before the move, under
`services.penalties.domain:Tenancy...`, still resolve and still rebuild the aggregate. The aggregates
that stayed keep their topics."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from services.penalties import domain
from services.penalties.domain import Appeal, Notice, Sanction, Subsidy, Tenancy
from tests.penalties.support import exit_decision, feed, make_app, registered_household, violation

OLD, NEW = "services.penalties.domain:", "services.penalties.tenancy:"

TENANCY_EVENTS = (
    "Event",
    "Created",
    "Registered",
    "ExitDecisionRecorded",
    "ViolationRecorded",
    "TransitionStarted",
    "TransitionClosed",
    "Adjusted",
    "AdjustmentEnded",
    "AdjustmentCancelled",
    "HoldPlaced",
    "HoldReleased",
    "VoluntaryExitApplied",
    "PurchaseHelpFlagged",
    "SanctionLinked",
    "NoticeLinked",
    "AppealLinked",
    "ExitCompleted",
)


def test_the_old_topics_of_tenancy_and_of_each_of_its_events_resolve() -> None:
    assert resolve_topic(f"{OLD}Tenancy") is Tenancy
    for name in TENANCY_EVENTS:
        event_class = getattr(Tenancy, name)
        assert resolve_topic(f"{OLD}Tenancy.{name}") is event_class
        assert resolve_topic(f"{NEW}Tenancy.{name}") is event_class
    assert domain.Tenancy is Tenancy


def test_the_aggregates_that_stayed_keep_their_topics() -> None:
    for aggregate in (Sanction, Appeal, Notice, Subsidy):
        assert get_topic(aggregate) == f"{OLD}{aggregate.__qualname__}"
        for attribute in vars(aggregate).values():
            if isinstance(attribute, type) and issubclass(attribute, aggregate.Event):
                assert get_topic(attribute) == f"{OLD}{attribute.__qualname__}"
                assert resolve_topic(get_topic(attribute)) is attribute


def _as_stored_before_the_move(app: Any, stored: StoredEvent) -> StoredEvent:
    """The record as it was written while `Tenancy` lived in `services.penalties.domain`."""
    event = app.mapper.to_domain_event(stored)
    if getattr(event, "originator_topic", None) is not None:
        event = dataclasses.replace(event, originator_topic=event.originator_topic.replace(NEW, OLD))
    again = app.mapper.to_stored_event(event)
    assert again.topic.startswith(NEW)
    return StoredEvent(
        originator_id=again.originator_id,
        originator_version=again.originator_version,
        topic=again.topic.replace(NEW, OLD),
        state=again.state,
    )


def test_tenancy_events_stored_under_the_old_topic_are_read_back(tmp_path: Path) -> None:
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    writer = make_app(tmp_path / "before")
    household_id = registered_household(writer)
    feed(writer, "on_exit_decided", exit_decision(household_id))
    written = writer.recorder.select_events(household_id)
    assert written and all(s.topic.startswith(f"{NEW}Tenancy.") for s in written)
    expected: Tenancy = writer.repository.get(household_id)

    reader = make_app(tmp_path / "after")
    reader.recorder.insert_events([_as_stored_before_the_move(writer, s) for s in written])
    stored = reader.recorder.select_events(household_id)
    assert stored and all(s.topic.startswith(f"{OLD}Tenancy.") for s in stored)

    events = [reader.mapper.to_domain_event(s) for s in stored]
    assert [type(e) for e in events] == [type(e) for e in writer.repository.event_store.get(household_id)]
    assert getattr(events[0], "originator_topic") == f"{OLD}Tenancy"  # noqa: B009 (not on the protocol)

    tenancy: Tenancy = reader.repository.get(household_id)
    assert isinstance(tenancy, Tenancy)
    assert tenancy.version == expected.version
    assert tenancy.transition == expected.transition
    assert tenancy.adjustments == expected.adjustments
    first, last = date(2027, 1, 1), date(2027, 9, 1)
    assert tenancy.statement(first, last) == expected.statement(first, last)

    # A tenancy read from old-topic events takes new commands (stored under the new topic).
    feed(reader, "on_violation_confirmed", violation(household_id))
    after: Tenancy = reader.repository.get(household_id)
    assert after.version > expected.version and after.warnings
    newest = reader.recorder.select_events(household_id)[-1]
    assert newest.topic.startswith(f"{NEW}Tenancy.")
