"""No unit is ever given to two households, even when several replicas allocate at once.

The guarantee is the event store's optimistic concurrency (an offer is an event at the unit's next
version; a writer with a stale copy is refused), not a lock: the replicas here are separate
application objects, in two OS processes, many threads each, on one store (SQLite file, PostgreSQL
schema).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from services.resettlement.application import ResettlementApp
from services.resettlement.domain import PlacementCase, Unit
from tests.resettlement.concurrent_allocations import run_group
from tests.resettlement.support import DECIDED, decision, foshan, settings, small_pool

REPO = Path(__file__).resolve().parents[2]


def test_a_replica_with_a_stale_copy_of_a_unit_is_refused(
    persistence: dict[str, str], tmp_path: Path
) -> None:
    """The mechanism itself: two replicas read the same free unit, both offer it; the second save is
    refused by the store and its stale copy leaves the cache."""
    first, second = (ResettlementApp(settings(tmp_path), persistence) for _ in range(2))
    try:
        first.add_units(small_pool("transitional", 1))
        (unit_id,) = first.view.free_units("transitional")
        mine: Unit = first.repository.get(unit_id)
        theirs: Unit = second.repository.get(unit_id)
        mine.offer(uuid4(), uuid4(), DECIDED, DECIDED + timedelta(days=14))
        theirs.offer(uuid4(), uuid4(), DECIDED, DECIDED + timedelta(days=14))
        first.save(mine)
        with pytest.raises(IntegrityError):
            second.save(theirs)
        assert second.repository.get(unit_id).state == "offered"  # re-read from the store, not the cache
        assert len(list(second.recorder.select_events(unit_id))) == 2  # Added, one Offered
    finally:
        first.close()
        second.close()


def test_200_concurrent_allocations_at_86_units(persistence: dict[str, str], tmp_path: Path) -> None:
    loader = ResettlementApp(settings(tmp_path), persistence)
    try:
        assert loader.add_units(foshan("transitional")) == 86
    finally:
        loader.close()
    decisions = [decision(low_income=True, decided_on=DECIDED - timedelta(days=i % 40)) for i in range(200)]

    # Half the decisions in a child process (two replicas, ten threads) …
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.resettlement.concurrent_allocations"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    go = tmp_path / "go"
    spec = {
        "var_dir": str(tmp_path),
        "env": persistence,
        "decisions": [d.model_dump(mode="json") for d in decisions[100:]],
        "apps": 2,
        "threads": 10,
        "go": str(go),
    }
    child.stdin.write(json.dumps(spec).encode())
    child.stdin.close()
    try:
        assert child.stdout.readline().strip() == b"ready"
        go.touch()
        # … the other half here at the same time (two more replicas, ten threads).
        here, conflicts_here = run_group(settings(tmp_path), persistence, decisions[:100], apps=2, threads=10)
        result = json.loads(child.stdout.readline())
        assert child.wait(timeout=120) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert len(here) == 100 and len(result["cases"]) == 100
    print(f"races lost and retried: {conflicts_here} here, {result['conflicts']} in the child process")

    checker = ResettlementApp(settings(tmp_path), persistence)
    try:
        cases = checker.cases()
        assert len(cases) == 200
        offered = [c for c in cases if c["state"] == "offered"]
        waiting = [c for c in cases if c["state"] == "waitlisted"]
        assert (len(offered), len(waiting)) == (86, 114)
        assert checker.pools()[0]["states"]["offered"] == 86 and checker.pools()[0]["states"]["free"] == 0

        # Distinct households on distinct units, and each side agrees with the other.
        units = checker.units("transitional")
        holders = [u["household_id"] for u in units]
        assert len(units) == 86 and None not in holders and len(set(holders)) == 86
        assert {c["unit_id"] for c in offered} == {u["unit_id"] for u in units}
        by_unit = {u["unit_id"]: u["household_id"] for u in units}
        assert all(by_unit[c["unit_id"]] == c["household_id"] for c in offered)

        # Each unit's history, from the store: added once, offered once, never released.
        for unit in units:
            stored = [
                checker.mapper.to_domain_event(s)
                for s in checker.recorder.select_events(UUID(unit["unit_id"]))
            ]
            assert [type(e).__qualname__ for e in stored] == ["Unit.Added", "Unit.Offered"]
            assert str(getattr(stored[1], "household_id")) == unit["household_id"]  # noqa: B009
        # Each case was offered at most one unit.
        for case in cases:
            stored = [
                checker.mapper.to_domain_event(s)
                for s in checker.recorder.select_events(PlacementCase.create_id(UUID(case["household_id"])))
            ]
            offers = sum(isinstance(e, PlacementCase.Offered) for e in stored)
            assert offers == (1 if case["state"] == "offered" else 0)

        # The waitlist is in the stated priority order: same class here, so by decision date.
        queue = checker.waitlist("transitional")
        assert [w["position"] for w in queue] == list(range(1, 115))
        dates = [w["decided_on"] for w in queue]
        assert dates == sorted(dates)
    finally:
        checker.close()


def test_a_replica_acts_on_what_another_replica_wrote(persistence: dict[str, str], tmp_path: Path) -> None:
    """A case offered by one replica is accepted on another; a unit freed by one is offered by another,
    although each had read the older state before."""
    one, two = (ResettlementApp(settings(tmp_path), persistence) for _ in range(2))
    try:
        one.add_units(small_pool("transitional", 1))
        (unit_id,) = one.view.free_units("transitional")
        first, second, third = uuid4(), uuid4(), uuid4()
        one.exit_decided(decision(first, low_income=True))
        one.exit_decided(decision(second, low_income=True))
        case_of_second = PlacementCase.create_id(second)
        assert two.repository.get(case_of_second).state == "waitlisted"  # replica two has read it
        one.decline(PlacementCase.create_id(first), "officer-chen", "")  # passes the unit to `second`
        two.accept(case_of_second, "officer-chen")
        assert one.placement(second)["state"] == "accepted"

        assert two.repository.get(unit_id).state == "held"  # replica two has read the unit held
        one.withdraw(case_of_second, "officer-chen", "moved abroad")  # frees it; `first` declined it
        assert one.units("transitional")[0]["state"] == "free"
        two.exit_decided(decision(third, low_income=True))
        assert two.placement(third)["state"] == "offered" and two.placement(third)["unit_id"] == str(unit_id)
    finally:
        one.close()
        two.close()
