"""Training on the server's clock (issue 23): attendance only once a session's day has come, and late
only inside the window, with a reason, shown late; completion only when the required sessions were
attended; referrals only of working age on the day; a job's start never in the future; stable work
only once the 6 months are reached by the service's date, whatever date a caller names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.eligibility import Member
from services.training import rules
from services.training.application import CourseSpec, TrainingApp
from tests.training.conftest import OPERATOR, Clock, at, feed, household
from tests.training.conftest import settings as training_settings

SESSIONS = [date(2027, 3, 1), date(2027, 3, 8), date(2027, 3, 15), date(2027, 3, 22)]


async def course_with_trainee(client: httpx.AsyncClient, training: TrainingApp) -> tuple[str, str, str]:
    """A course of four weekly sessions from 1 March, and one enrolled trainee: (course, referral, member)."""
    h = household(ages=(35,))
    feed(training, h)
    member = h.members[0].member_id
    referred = await client.post(
        "/referrals", json={"household_id": str(h.household_id), "member_id": str(member)}, headers=OPERATOR
    )
    assert referred.status_code == 201, referred.text
    body = {
        "code": f"care-{uuid4().hex[:8]}",
        "title": "Elderly care",
        "provider": "Chancheng Community Care Association",
        "estate": "Chancheng Garden",
        "capacity": 5,
        "sessions": [{"on": day.isoformat(), "topic": f"part {n}"} for n, day in enumerate(SESSIONS, 1)],
    }
    course = (await client.post("/courses", json=body, headers=OPERATOR)).json()["course_id"]
    referral = referred.json()["referral_id"]
    enrolled = await client.post(
        f"/courses/{course}/enrolments", json={"referral_id": referral}, headers=OPERATOR
    )
    assert enrolled.status_code == 201, enrolled.text
    return course, referral, str(member)


async def attend(client: httpx.AsyncClient, course: str, session: int, **body: Any) -> httpx.Response:
    return await client.post(f"/courses/{course}/sessions/{session}/attendance", json=body, headers=OPERATOR)


async def test_attendance_waits_for_the_session_s_day_and_is_late_only_inside_the_window_with_a_reason(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    course, _, member = await course_with_trainee(client, training)

    # The case: attendance posted for a session dated 2 March while it is still February.
    early = await attend(client, course, 1, attendees=[member])
    assert early.status_code == 422
    assert early.json()["errors"][0]["location"] == "body.held_on"
    assert "scheduled for 2027-03-01" in early.json()["detail"]

    at(clock, date(2027, 3, 10))
    future = await attend(client, course, 1, attendees=[member], held_on="2027-03-11", reason_late="x")
    assert future.status_code == 422 and "future" in future.json()["detail"]
    before = await attend(client, course, 2, attendees=[member], held_on="2027-03-07", reason_late="moved")
    assert before.status_code == 422 and "scheduled day" in before.json()["detail"]
    silent = await attend(client, course, 1, attendees=[member], held_on="2027-03-01")
    assert silent.status_code == 422 and "reason" in silent.json()["detail"]

    late = await attend(
        client, course, 1, attendees=[member], held_on="2027-03-01", reason_late="register filed on return"
    )
    assert late.status_code == 200, late.text
    assert (late.json()["held_on"], late.json()["recorded_late"]) == ("2027-03-01", True)
    today = await attend(client, course, 2, attendees=[member])  # held (rescheduled) today, on time
    assert (today.json()["held_on"], today.json()["recorded_late"]) == ("2027-03-10", False)
    schedule = (await client.get(f"/courses/{course}")).json()["schedule"]
    assert schedule[0] | {"attendees": 1} == {
        "session": 1,
        "on": "2027-03-01",
        "topic": "part 1",
        "held_on": "2027-03-01",
        "attendees": 1,
        "recorded_late": True,
        "recorded_on": "2027-03-10",
        "late_reason": "register filed on return",
    }
    assert schedule[1]["recorded_late"] is False

    at(clock, date(2027, 4, 22))  # 31 days after session 4's day: outside the 30-day window
    stale = await attend(client, course, 4, attendees=[member], held_on="2027-03-22", reason_late="forgot")
    assert stale.status_code == 422 and "more than 30 days" in stale.json()["detail"]
    assert (
        await attend(client, course, 4, attendees=[member], held_on="2027-03-23", reason_late="forgot")
    ).status_code == 200


async def test_completion_needs_the_required_sessions_of_the_course_not_of_those_held_so_far(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    course, referral, member = await course_with_trainee(client, training)
    at(clock, SESSIONS[0])
    assert (await attend(client, course, 1, attendees=[member])).status_code == 200

    async def finish() -> httpx.Response:
        return await client.post(
            f"/courses/{course}/completions", json={"referral_id": referral}, headers=OPERATOR
        )

    # 1 of 4 sessions held and attended: 100 % of those held, but not a course completed.
    one = await finish()
    assert one.status_code == 409 and "1 of the 3 sessions required" in one.json()["detail"]
    assert (await client.get(f"/referrals/{referral}")).json()["state"] == "enrolled"

    # Missing two of four: the requirement (3) can no longer be met: not completed, before the end.
    for day, n in ((SESSIONS[1], 2), (SESSIONS[2], 3)):
        at(clock, day)
        assert (await attend(client, course, n, attendees=[])).status_code == 200
    done = await finish()
    assert done.status_code == 200, done.text
    assert (done.json()["outcome"], done.json()["sessions_held"], done.json()["sessions_required"]) == (
        "not_completed",
        3,
        3,
    )
    assert (await client.get(f"/referrals/{referral}")).json()["state"] == "not_completed"


async def test_a_completion_recorded_late_cannot_precede_the_last_session_held(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    course, referral, member = await course_with_trainee(client, training)
    for n, day in enumerate(SESSIONS, 1):
        at(clock, day)
        assert (await attend(client, course, n, attendees=[member])).status_code == 200
    at(clock, date(2027, 3, 29))
    url = f"/courses/{course}/completions"
    before = await client.post(
        url, json={"referral_id": referral, "on": "2027-03-21", "reason_late": "x"}, headers=OPERATOR
    )
    assert before.status_code == 422 and "the last session held (2027-03-22)" in before.json()["detail"]
    late = await client.post(
        url,
        json={"referral_id": referral, "on": "2027-03-22", "reason_late": "certificate day"},
        headers=OPERATOR,
    )
    assert late.status_code == 200 and (late.json()["outcome"], late.json()["recorded_late"]) == (
        "completed",
        True,
    )
    household_id = (await client.get(f"/referrals/{referral}")).json()["household_id"]
    summaries = [
        e["summary"] for e in (await client.get(f"/households/{household_id}/timeline")).json()["entries"]
    ]
    assert any(
        s.startswith("course completed: 4 of 4") and "recorded late on 2027-03-29: certificate day" in s
        for s in summaries
    )


async def test_referrals_only_of_working_age_on_the_day_and_dated_late_only_with_a_reason(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    at(clock, date(2027, 6, 1))
    turning = Member(member_id=uuid4(), birth_date=date(1967, 5, 20), disabled=False)  # 60 on 20 May
    eleven = Member(member_id=uuid4(), birth_date=date(2016, 1, 5), disabled=False)
    unborn = Member(member_id=uuid4(), birth_date=date(2027, 9, 1), disabled=False)
    adult = Member(member_id=uuid4(), birth_date=date(1990, 1, 1), disabled=False)
    h = household().model_copy(update={"members": [turning, eleven, unborn, adult]})
    feed(training, h)

    async def refer(member: UUID, **extra: str) -> httpx.Response:
        body = {"household_id": str(h.household_id), "member_id": str(member), **extra}
        return await client.post("/referrals", json=body, headers=OPERATOR)

    for member, words in ((turning.member_id, "is 60 on 2027-06-01"), (eleven.member_id, "is 11")):
        refused = await refer(member)
        assert refused.status_code == 422 and words in refused.json()["detail"], refused.text
    assert "future" in (await refer(unborn.member_id)).json()["detail"]
    # Dated back to when they were 59: allowed inside the window, with a reason.
    assert (await refer(turning.member_id, on="2027-05-19")).status_code == 422  # no reason
    assert (await refer(turning.member_id, on="2027-04-30", reason_late="x")).status_code == 422  # window
    assert (await refer(turning.member_id, on="2027-06-02", reason_late="x")).status_code == 422  # future
    late = await refer(turning.member_id, on="2027-05-19", reason_late="asked at the estate office")
    assert late.status_code == 201, late.text
    referral = (await client.get(f"/referrals/{late.json()['referral_id']}")).json()
    assert referral["referred_on"] == "2027-05-19"
    assert (await refer(adult.member_id)).status_code == 201
    timeline = (await client.get(f"/households/{h.household_id}/timeline")).json()["entries"]
    assert [e["summary"] for e in timeline if "recorded late" in e["summary"]] == [
        "member referred to training by an operator (recorded late on 2027-06-01: asked at the estate office)"
    ]


async def test_a_job_cannot_start_in_the_future_and_stable_work_counts_to_the_service_s_date(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    _, referral, _ = await course_with_trainee(client, training)
    url = f"/referrals/{referral}/employment"
    at(clock, date(2027, 4, 1))
    ahead = await client.post(url, json={"employer": "Midea", "start_date": "2035-01-01"}, headers=OPERATOR)
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["location"] == "body.start_date"
    hired = await client.post(url, json={"employer": "Midea", "start_date": "2027-04-01"}, headers=OPERATOR)
    assert hired.status_code == 201, hired.text

    stable = f"/referrals/{referral}/employment/stable"
    # Six months early: the caller names the day the condition would be met; it has not come.
    named = await client.post(stable, json={"on": "2027-10-01", "basis": "called"}, headers=OPERATOR)
    assert named.status_code == 422 and "future" in named.json()["detail"]
    before_start = await client.post(
        stable, json={"on": "2027-03-31", "basis": "called", "reason_late": "x"}, headers=OPERATOR
    )
    assert before_start.status_code == 422 and "the job's start" in before_start.json()["detail"]
    at(clock, date(2027, 10, 20))
    stale = await client.post(
        stable, json={"on": "2027-09-19", "basis": "called", "reason_late": "on leave"}, headers=OPERATOR
    )
    assert stale.status_code == 422  # 31 days back
    short = await client.post(
        stable, json={"on": "2027-09-30", "basis": "called", "reason_late": "on leave"}, headers=OPERATOR
    )
    assert short.status_code == 409 and "reached on 2027-10-01" in short.json()["detail"]
    late = await client.post(
        stable, json={"on": "2027-10-01", "basis": "called", "reason_late": "on leave"}, headers=OPERATOR
    )
    assert late.json() == {"months": 6, "required_months": 6, "on": "2027-10-01", "recorded_late": True}


@given(
    start=st.dates(date(2027, 1, 1), date(2028, 12, 31)),
    months=st.integers(1, 24),
    offset=st.integers(-400, 400),
)
def test_stable_from_is_the_first_day_the_months_are_whole(start: date, months: int, offset: int) -> None:
    day = start + timedelta(days=offset)
    assert (rules.whole_months(start, day) >= months) == (day >= rules.stable_from(start, months))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(date(2027, 1, 1), date(2028, 6, 30)), days=st.integers(0, 400))
def test_stable_work_is_confirmed_iff_six_months_have_passed_by_the_service_s_date(
    tmp_path: Path, start: date, days: int
) -> None:
    clock = Clock(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / f"{uuid4().hex}.sqlite"),
    }
    app = TrainingApp(training_settings(tmp_path), env, clock=clock)
    try:
        course = app.schedule_course(CourseSpec("c", "Catering", "p", "Nanhai Court", 5, [(start, "")]), "t")
        h = household(ages=(30,))
        feed(app, h)
        at(clock, start)
        referral, _ = app.refer(h.household_id, h.members[0].member_id, None, "t", "")
        app.enrol(course, referral, None, "t")
        app.record_employment(referral, "Midea", start, "t")
        today = at(clock, start + timedelta(days=days))
        try:
            app.confirm_stable(referral, None, "called", "t")
        except ValueError:
            confirmed = False
        else:
            confirmed = True
        assert confirmed == (rules.stable_from(start, 6) <= today)
        stable = app.catch_up().referrals[referral].stable
        assert (stable is not None) == confirmed
    finally:
        app.close()
