"""One clock: what an application is given is what it reads, down to the timestamps the library stores
with each event, on both backends; and no aggregate of ours is stamped by the wall clock."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate as LibraryAggregate

import federation
import services
from services.kit import clock
from services.kit.clock import Aggregate, ManualClock
from services.kit.settings import ServiceSettings
from tests.kit.sample import FactReport, Feed

FAR = datetime(2031, 5, 17, 23, 30, tzinfo=UTC)  # 07:30 on the 18th in Foshan


def test_events_are_stamped_by_the_application_clock(tmp_path: Path, persistence: dict[str, str]) -> None:
    moved = ManualClock(FAR)
    feed = Feed(ServiceSettings(service_name="feed", var_dir=tmp_path), persistence, clock=moved)
    try:
        first = feed.report("R-1", uuid4())
        moved.advance(days=400)
        stored: FactReport = feed.repository.get(first)
        assert stored.created_on == FAR, "stamped when it happened, by the clock given"
        second = feed.report("R-2", uuid4())
        assert feed.repository.get(second).created_on == FAR + timedelta(days=400)
        assert feed.today() == (FAR + timedelta(days=400, hours=8)).date(), "the city's day, by that clock"
        notifications = feed.notification_log.select(start=1, limit=10)
        stamps = [getattr(feed.mapper.to_domain_event(n), "timestamp", None) for n in notifications]
        assert stamps == [FAR, FAR + timedelta(days=400)]
    finally:
        feed.close()


def test_an_application_without_a_clock_follows_the_process_clock(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="feed", var_dir=tmp_path)
    feed = Feed(
        settings, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "f")}
    )
    try:
        clock.install(ManualClock(FAR))
        assert feed.clock() == FAR
        assert FactReport("R", uuid4(), Decimal("1.00")).created_on == FAR
    finally:
        feed.close()


def test_a_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ManualClock(datetime(2031, 1, 1))  # noqa: DTZ001 (the point of the test)


def _our_modules() -> list[str]:
    names = []
    for package in (services, federation):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return names


def test_every_aggregate_of_ours_is_stamped_by_the_clock() -> None:
    wall_clocked, ours = [], []
    for name in _our_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, LibraryAggregate) and value.__module__ == name:
                ours.append(value)
                if not issubclass(value, Aggregate):
                    wall_clocked.append(f"{name}.{value.__qualname__}")
    assert len(ours) > 20, "the walk found the services' aggregates"
    assert wall_clocked == [], "derive from services.kit.clock.Aggregate"
