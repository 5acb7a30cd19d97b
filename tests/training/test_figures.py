"""Foshan's programme at full size (BRIEF item 12: 16 sessions, 210 members of exiting households
trained, 156 in stable jobs), run through the service's own commands and handlers, and read back as the
bureau's figures by course and by estate."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

from contracts.eligibility import HouseholdRegistered
from services.training.application import CourseSpec, TrainingApp
from tests.training.conftest import (
    Clock,
    at,
    contribution_fact,
    employment_fact,
    exit_decided,
    feed,
    household,
    settings,
)

COURSES = ("domestic-service", "electrician", "elderly-care", "catering")
ESTATES = ("Chancheng Garden", "Nanhai Court", "Shunde Terrace")


def test_foshan_sixteen_sessions_210_trained_156_in_stable_work(tmp_path: Path, clock: Clock) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "figures.sqlite")}
    app = TrainingApp(settings(tmp_path), env, clock=clock)
    try:
        first_day = date(2027, 3, 1)
        course_ids = [
            app.schedule_course(
                CourseSpec(
                    code,
                    code.replace("-", " ").capitalize(),
                    "Foshan Human Resources Training Centre",
                    ESTATES[i % 2],
                    60,
                    [(first_day + timedelta(days=7 * s + i), f"part {s + 1}") for s in range(4)],
                ),
                "officer.chen",
            )
            for i, code in enumerate(COURSES)
        ]
        # 220 exiting households with one member of working age each (the other is 70): 220 referrals.
        trainees: list[tuple[int, HouseholdRegistered, UUID]] = []  # (course index, household, referral)
        for n in range(220):
            h = household(estate=ESTATES[n % 3], ages=(35, 70))
            feed(app, h)
            feed(app, exit_decided(h.household_id))
            referral_id, created = app.refer(h.household_id, h.members[0].member_id, None, "x", "")
            assert not created  # already referred by the exit decision
            app.enrol(course_ids[n % 4], referral_id, None, "officer.chen")
            trainees.append((n % 4, h, referral_id))
        # Four sessions per course, each recorded on its day; ten people (the last ten) attend only
        # the first one.
        for session in range(1, 5):
            for index, course_id in enumerate(course_ids):
                members = [h.members[0].member_id for i, h, _ in trainees if i == index]
                regulars = [
                    h.members[0].member_id for n, (i, h, _) in enumerate(trainees) if i == index and n < 210
                ]
                at(clock, first_day + timedelta(days=7 * (session - 1) + index))
                app.hold_session(course_id, session, None, members if session == 1 else regulars, "t")
        at(clock, date(2027, 4, 1))
        outcomes = Counter(app.finish(course_ids[i], r, None, "t")["outcome"] for i, _, r in trainees)
        assert outcomes == {"completed": 210, "not_completed": 10}
        # 166 of those trained found a job (the human-resources department reports it); 156 of them
        # still pay contributions with that employer six months on, ten only three months on.
        start = at(clock, date(2027, 5, 3))
        for n, (_, h, _) in enumerate(trainees[:166]):
            employer = f"Employer {n % 7}"
            assert (
                feed(app, employment_fact(h.household_id, employer, start, described_on=start)) == "matched"
            )
        at(clock, start + timedelta(days=184))
        for n, (_, h, _) in enumerate(trainees[:166]):
            later = start + timedelta(days=184 if n < 156 else 92)
            feed(app, contribution_fact(h.household_id, employer=f"Employer {n % 7}", described_on=later))

        figures = app.catch_up().figures()
        assert figures["sessions_held"] == 16
        assert figures["sessions_held_by_course"] == dict.fromkeys(sorted(COURSES), 4)
        assert figures["sessions_held_by_estate"] == {"Chancheng Garden": 8, "Nanhai Court": 8}
        assert figures["people_trained"] == 210
        assert figures["people_trained_by_course"] == {
            "catering": 52,
            "domestic-service": 53,
            "elderly-care": 52,
            "electrician": 53,
        }
        assert figures["people_trained_by_estate"] == {
            "Chancheng Garden": 70,
            "Nanhai Court": 70,
            "Shunde Terrace": 70,
        }
        assert (figures["people_employed"], figures["people_in_stable_work"]) == (166, 156)
        assert sum(figures["people_in_stable_work_by_course"].values()) == 156
        assert sum(figures["people_in_stable_work_by_estate"].values()) == 156
        assert figures["referrals_by_state"] == {"completed": 210, "not_completed": 10}
    finally:
        app.close()
