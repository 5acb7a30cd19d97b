"""Capacity holds with several replicas on one store (SQLite and PostgreSQL): many threads across three
application instances enrol into one course at once; exactly `capacity` get a seat, every other one is on
the waiting list once, and nobody is both or twice.

Each replica reads the course into its aggregate cache before the race, and the kit does not
fast-forward cached aggregates, so every replica starts from the same stale version: all but one of the
first saves *must* fail the event store's version check, and the commands retry on fresh state. The
test checks that this happened (conflicts were resolved, not avoided)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.training.application import CourseSpec, TrainingApp
from services.training.domain import Course, Referral
from tests.training.conftest import Clock, feed, household, settings

CAPACITY = 5
REPLICAS = 3
PEOPLE = 18


class Replica(TrainingApp):
    """A TrainingApp that counts the version conflicts its saves lost (same name, so same tables)."""

    name = TrainingApp.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conflicts = 0
        self._count_lock = threading.Lock()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        try:
            return super().save(*objs, **kwargs)
        except IntegrityError:
            with self._count_lock:
                self.conflicts += 1
            raise


def test_replicas_never_enrol_beyond_capacity(
    tmp_path: Path, persistence: dict[str, str], clock: Clock
) -> None:
    replicas = [Replica(settings(tmp_path), persistence, clock=clock) for _ in range(REPLICAS)]
    try:
        first = replicas[0]
        course_id = _schedule(first)
        referrals: list[UUID] = []
        for _ in range(PEOPLE // 2):
            h = household(ages=(30, 40))
            feed(first, h)
            for member in h.members:
                referral_id, _ = first.refer(
                    h.household_id, member.member_id, clock().date(), "officer.chen", ""
                )
                referrals.append(referral_id)
        for replica in replicas:  # every replica caches the course (and the referrals) at this version
            replica.repository.get(course_id)
            for referral_id in referrals:
                replica.repository.get(referral_id)

        start = threading.Barrier(PEOPLE)

        def enrol(index: int) -> str:
            replica = replicas[index % REPLICAS]
            start.wait()
            return replica.enrol(course_id, referrals[index], clock().date(), f"operator-{index}")

        with ThreadPoolExecutor(max_workers=PEOPLE) as pool:
            statuses = list(pool.map(enrol, range(PEOPLE)))

        assert Counter(statuses) == {"enrolled": CAPACITY, "wait_listed": PEOPLE - CAPACITY}
        assert sum(r.conflicts for r in replicas) >= REPLICAS - 1

        # What the store holds, read by a fresh instance (no cache shared with the racers).
        reader = TrainingApp(settings(tmp_path), persistence, clock=clock)
        try:
            course: Course = reader.repository.get(course_id)
            assert len(course.seats) == CAPACITY
            assert len(course.waiting) == len(set(course.waiting)) == PEOPLE - CAPACITY
            assert set(course.seats) | set(course.waiting) == set(referrals)
            assert not set(course.seats) & set(course.waiting)
            states: Counter[str] = Counter(reader.repository.get(r).state for r in referrals)
            assert states == {"enrolled": CAPACITY, "wait_listed": PEOPLE - CAPACITY}
            for referral_id in course.seats:
                person: Referral = reader.repository.get(referral_id)
                assert person.course_id == course_id
            view = reader.catch_up().courses[course_id]
            assert (len(view.seats), len(view.waiting)) == (CAPACITY, PEOPLE - CAPACITY)
        finally:
            reader.close()
    finally:
        for replica in replicas:
            replica.close()


def _schedule(app: TrainingApp) -> UUID:
    spec = CourseSpec(
        "elderly-care-race",
        "Elderly care",
        "Chancheng Community Care Association",
        "Chancheng Garden",
        CAPACITY,
        [(date(2027, 4, 6), "Daily care"), (date(2027, 4, 13), "Nutrition")],
    )
    return app.schedule_course(spec, "officer.chen")


def test_a_replica_does_not_refuse_on_a_stale_copy(
    tmp_path: Path, persistence: dict[str, str], clock: Clock
) -> None:
    """Replica B holds a referral cached as `enrolled`; replica A takes it off the course. B's enrolment
    of it elsewhere must see the store (open) rather than refuse on its stale copy."""
    a, b = (TrainingApp(settings(tmp_path), persistence, clock=clock) for _ in range(2))
    try:
        course = _schedule(a)
        other = a.schedule_course(
            CourseSpec(
                "catering-race", "Catering", "Nanhai Skills", "Nanhai Court", 1, [(date(2027, 5, 1), "")]
            ),
            "officer.chen",
        )
        h = household(ages=(30,))
        feed(a, h)
        referral_id, _ = a.refer(h.household_id, h.members[0].member_id, clock().date(), "officer.chen", "")
        assert a.enrol(course, referral_id, clock().date(), "officer.chen") == "enrolled"
        assert b.repository.get(referral_id).state == "enrolled"  # now in B's cache
        a.leave(course, referral_id, clock().date(), "prefers catering", "officer.chen")
        assert b.enrol(other, referral_id, clock().date(), "officer.chen") == "enrolled"
        # A's cache is stale now too; its read model follows the store.
        assert a.catch_up().referrals[referral_id].course_id == other
    finally:
        a.close()
        b.close()
