"""Each lifecycle on SQLite and PostgreSQL, through the HTTP API and the inbox's handlers: referrals from
an exit decision and their withdrawal on appeal; a course from enrolment (seats, waiting list, promotion)
through attendance to completion; employment matched, left for an operator, attributed, and stable work;
the seed catalogue; the figures and the timeline."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx

from contracts.eligibility import HouseholdMembersChanged, Member
from contracts.timeline import Timeline
from services.kit.settings import REPO_ROOT
from services.training.application import TrainingApp
from tests.support.identity import ANONYMOUS, as_operator
from tests.training.conftest import (
    DECIDED_ON,
    OPERATOR,
    Clock,
    appeal,
    at,
    contribution_fact,
    employment_fact,
    exit_decided,
    feed,
    household,
)


async def schedule(client: httpx.AsyncClient, code: str, capacity: int, sessions: int = 4) -> str:
    body = {
        "code": code,
        "title": "Electrician",
        "provider": "Foshan Vocational Skills Institute",
        "estate": "Nanhai Court",
        "capacity": capacity,
        "sessions": [{"on": f"2027-03-{day:02d}", "topic": f"part {day}"} for day in range(1, sessions + 1)],
    }
    created = await client.post("/courses", json=body, headers=OPERATOR)
    assert created.status_code == 201, created.text
    return str(created.json()["course_id"])


async def refer(client: httpx.AsyncClient, household_id: UUID, member_id: UUID) -> str:
    body = {
        "household_id": str(household_id),
        "member_id": str(member_id),
        "note": "asked at the estate office",
    }
    referred = await client.post("/referrals", json=body, headers=OPERATOR)
    assert referred.status_code == 201, referred.text
    return str(referred.json()["referral_id"])


async def enrol(client: httpx.AsyncClient, course_id: str, referral_id: str) -> httpx.Response:
    return await client.post(
        f"/courses/{course_id}/enrolments", json={"referral_id": referral_id}, headers=OPERATOR
    )


async def referral(client: httpx.AsyncClient, referral_id: str) -> dict[str, Any]:
    found = await client.get(f"/referrals/{referral_id}")
    assert found.status_code == 200
    result: dict[str, Any] = found.json()
    return result


async def test_exit_decision_refers_working_age_members_and_an_overturned_appeal_withdraws_them(
    training: TrainingApp, client: httpx.AsyncClient
) -> None:
    h = household(ages=(45, 17, 70, 15, 30))
    adult, youth, elder, child, young = (m.member_id for m in h.members)
    feed(training, h)
    decision = exit_decided(h.household_id)
    assert sorted(map(str, feed(training, decision))) == sorted(map(str, [adult, youth, young]))
    assert feed(training, decision) == []  # the same decision again changes nothing

    listed = (
        await client.get("/referrals", params={"state": "open", "household_id": str(h.household_id)})
    ).json()["items"]
    assert sorted(r["member_id"] for r in listed) == sorted(map(str, [adult, youth, young]))
    assert {(r["source"], r["referred_on"], r["estate"]) for r in listed} == {
        ("exit_decision", DECIDED_ON.isoformat(), "Chancheng Garden")
    }
    by_member = {r["member_id"]: r["referral_id"] for r in listed}

    course = await schedule(client, "electrician-t1", capacity=1)
    assert (await enrol(client, course, by_member[str(adult)])).json()["status"] == "enrolled"
    assert (await enrol(client, course, by_member[str(youth)])).json()["status"] == "wait_listed"

    withdrawn = feed(training, appeal(h.household_id))
    assert sorted(map(str, withdrawn)) == sorted([by_member[str(youth)], by_member[str(young)]])
    assert (await referral(client, by_member[str(adult)]))["state"] == "enrolled"  # keeps the seat
    assert (await referral(client, by_member[str(youth)]))["state"] == "withdrawn"
    assert (await client.get(f"/courses/{course}")).json()["waiting_list"] == []
    assert feed(training, appeal(h.household_id, overturned=False, outcome="exit_required")) == []

    # Operators refer others of working age (not the elder nor the child: 422), and a withdrawn
    # member again.
    for outside in (elder, child):
        body = {"household_id": str(h.household_id), "member_id": str(outside)}
        refused = await client.post("/referrals", json=body, headers=OPERATOR)
        assert refused.status_code == 422 and "working age" in refused.json()["detail"]
    again = await refer(client, h.household_id, young)
    assert again == by_member[str(young)] and (await referral(client, again))["state"] == "open"
    twice = {"household_id": str(h.household_id), "member_id": str(young)}
    assert (await client.post("/referrals", json=twice, headers=OPERATOR)).json()["created"] is False
    body = {"household_id": str(h.household_id), "member_id": str(uuid4())}
    assert (await client.post("/referrals", json=body, headers=OPERATOR)).status_code == 404
    assert (await client.post("/referrals", json=body, auth=ANONYMOUS)).status_code == 401
    made_up = {"X-Operator-Id": "officer.chen", "X-Operator-Role": "supervisor"}  # not read any more
    assert (await client.post("/referrals", json=body, headers=made_up, auth=ANONYMOUS)).status_code == 401
    household_role = as_operator("h1", "household", "training")
    assert (await client.post("/referrals", json=body, headers=household_role)).status_code == 403
    auditor = as_operator("audit.1", "auditor", "training")
    assert (await client.post("/referrals", json=body, headers=auditor)).status_code == 403
    assert child not in {UUID(r["member_id"]) for r in (await client.get("/referrals")).json()["items"]}

    steps = Timeline.model_validate((await client.get(f"/households/{h.household_id}/timeline")).json())
    summaries = [entry.summary for entry in steps.entries]
    assert summaries[0].startswith("exit decided (exit): 3 member(s)")
    assert any("exit overturned on appeal: 2" in s for s in summaries)
    assert any(entry.actor == "officer.chen" for entry in steps.entries)


async def test_the_members_in_force_on_the_decision_are_the_ones_referred(training: TrainingApp) -> None:
    h = household(ages=(45,))
    feed(training, h)
    newcomer = Member(member_id=uuid4(), birth_date=date(2001, 6, 1), disabled=False)
    changed = HouseholdMembersChanged(household_id=h.household_id, members=[*h.members, newcomer])
    assert feed(training, changed) is True
    assert feed(training, HouseholdMembersChanged(household_id=uuid4(), members=h.members)) is False
    referred = feed(training, exit_decided(h.household_id))
    assert set(referred) == {h.members[0].member_id, newcomer.member_id}
    assert feed(training, exit_decided(uuid4())) is None  # a household never registered here


async def test_a_course_from_enrolment_through_attendance_to_completion(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    north, south = (
        household(estate="Chancheng Garden", ages=(30,)),
        household(estate="Nanhai Court", ages=(40, 35)),
    )
    for h in (north, south):
        feed(training, h)
    a = await refer(client, north.household_id, north.members[0].member_id)
    b = await refer(client, south.household_id, south.members[0].member_id)
    c = await refer(client, south.household_id, south.members[1].member_id)
    course = await schedule(client, "electrician-t2", capacity=2)

    assert (await enrol(client, course, a)).json()["status"] == "enrolled"
    assert (await enrol(client, course, b)).json()["status"] == "enrolled"
    assert (await enrol(client, course, c)).json()["status"] == "wait_listed"
    assert (await enrol(client, course, a)).status_code == 409  # the same person twice
    summary = (await client.get(f"/courses/{course}")).json()
    assert (summary["enrolled"], summary["seats_left"], summary["wait_listed"]) == (2, 0, 1)

    left = await client.post(
        f"/courses/{course}/enrolments/{b}/leave", json={"reason": "moved away"}, headers=OPERATOR
    )
    assert left.json()["promoted_referral_id"] == c  # the seat went to the first waiting
    assert (await referral(client, b))["state"] == "open"
    assert (await referral(client, c))["state"] == "enrolled"
    members = {a: str(north.members[0].member_id), c: str(south.members[1].member_id)}

    async def attend(session: int, *who: str) -> httpx.Response:
        body = {"attendees": [members[r] for r in who]}
        return await client.post(
            f"/courses/{course}/sessions/{session}/attendance", json=body, headers=OPERATOR
        )

    early = await attend(1, a, c)  # the session is on 1 March: it has not been held yet
    assert early.status_code == 422 and "scheduled for 2027-03-01" in early.json()["detail"]
    at(clock, date(2027, 3, 1))
    assert (await attend(1, a, c)).status_code == 200
    assert (await attend(1, a)).status_code == 409  # recorded once
    assert (await attend(5, a)).status_code == 404
    at(clock, date(2027, 3, 2))
    stranger = {"attendees": [str(south.members[0].member_id)]}  # left the course
    assert (
        await client.post(f"/courses/{course}/sessions/2/attendance", json=stranger, headers=OPERATOR)
    ).status_code == 422
    assert (await attend(2, a, c)).status_code == 200

    async def finish_now(referral_id: str) -> httpx.Response:
        return await client.post(
            f"/courses/{course}/completions", json={"referral_id": referral_id}, headers=OPERATOR
        )

    # Two of four sessions held, both attended: not a course completed, and still reachable.
    running = await finish_now(a)
    assert running.status_code == 409 and "still running" in running.json()["detail"]
    for session, who in ((3, (a,)), (4, (a,))):
        at(clock, date(2027, 3, session))
        assert (await attend(session, *who)).status_code == 200

    async def finish(referral_id: str) -> dict[str, Any]:
        done = await client.post(
            f"/courses/{course}/completions", json={"referral_id": referral_id}, headers=OPERATOR
        )
        assert done.status_code == 200, done.text
        result: dict[str, Any] = done.json()
        return result

    assert await finish(a) == {
        "outcome": "completed",
        "sessions_attended": 4,
        "sessions_held": 4,
        "sessions_scheduled": 4,
        "sessions_required": 3,
        "min_attendance_share": "0.75",
        "on": "2027-03-04",
        "recorded_late": False,
    }
    assert (await finish(c))["outcome"] == "not_completed"  # 2 of 4 < 75 %
    assert (await referral(client, a))["state"] == "completed"
    assert (await enrol(client, course, b)).status_code == 409  # every session held: the course is over

    detail = (await client.get(f"/courses/{course}")).json()
    assert [s["attendees"] for s in detail["schedule"]] == [2, 2, 1, 1]
    assert {t["referral_id"]: t["outcome"] for t in detail["trainees"]} == {
        a: "completed",
        c: "not_completed",
    }
    figures = (await client.get("/figures")).json()
    assert figures["sessions_held"] == 4
    assert figures["sessions_held_by_course"] == {"electrician-t2": 4}
    assert figures["sessions_held_by_estate"] == {"Nanhai Court": 4}
    assert figures["people_trained"] == 1
    assert figures["people_trained_by_estate"] == {"Chancheng Garden": 1}
    assert figures["referrals_by_state"] == {"completed": 1, "not_completed": 1, "open": 1}
    listed = (await client.get("/courses", params={"estate": "Nanhai Court"})).json()
    assert [c["code"] for c in listed] == ["electrician-t2"]


async def test_employment_matched_by_household_left_for_an_operator_when_ambiguous_and_stable_work(
    training: TrainingApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    h = household(ages=(40, 20))
    feed(training, h)
    feed(training, exit_decided(h.household_id))
    by_member = {r["member_id"]: r["referral_id"] for r in (await client.get("/referrals")).json()["items"]}
    first, second = (by_member[str(m.member_id)] for m in h.members)
    course = await schedule(client, "domestic-t3", capacity=5)
    await enrol(client, course, first)

    # One trainee in the household: the department's employment fact is theirs (once the job began).
    at(clock, date(2027, 5, 20))
    hired = employment_fact(h.household_id, reference="RS-1")
    assert feed(training, hired) == "matched"
    job = (await referral(client, first))["employment"]
    assert (job["employer"], job["start_date"], job["verified_by"]) == (
        "Shunde Electrical Installations Co.",
        "2027-05-15",
        "human_resources",
    )
    assert feed(training, hired) == "duplicate"

    # Two trainees: ambiguous, kept as evidence until an operator attributes it.
    await enrol(client, course, second)
    other_job = employment_fact(h.household_id, employer="Nanhai Home Services", reference="RS-2")
    assert feed(training, other_job) == "unmatched"
    assert feed(training, employment_fact(None, reference="RS-3", person_hash="ab" * 32)) == "unmatched"
    assert feed(training, employment_fact(uuid4(), reference="RS-4")) == "ignored"  # unknown household
    unmatched = (await client.get("/employment-evidence", params={"state": "unmatched"})).json()["items"]
    assert [(e["reference"], e["estate"]) for e in unmatched] == [
        ("RS-2", "Chancheng Garden"),
        ("RS-3", None),
    ]
    assert "ab" * 32 not in str(unmatched)  # training keeps no person hash
    evidence = unmatched[0]["evidence_id"]
    attributed = await client.post(
        f"/employment-evidence/{evidence}/attribute", json={"referral_id": second}, headers=OPERATOR
    )
    assert attributed.status_code == 200
    assert (await referral(client, second))["employment"]["employer"] == "Nanhai Home Services"
    again = await client.post(
        f"/employment-evidence/{evidence}/attribute", json={"referral_id": second}, headers=OPERATOR
    )
    assert again.status_code == 409
    dismissed = await client.post(
        f"/employment-evidence/{unmatched[1]['evidence_id']}/dismiss",
        json={"reason": "not ours"},
        headers=OPERATOR,
    )
    assert dismissed.status_code == 200

    # Stable work: a contribution from the same employer six whole months after the start …
    # (a contribution dated after today shows nothing yet) …
    employer = "Shunde Electrical Installations Co."
    at(clock, date(2027, 11, 14))
    assert feed(training, contribution_fact(h.household_id, employer, date(2027, 11, 14))) == "ignored"
    assert feed(training, contribution_fact(h.household_id, employer, date(2027, 11, 15))) == "ignored"
    assert (await referral(client, first))["employment"]["stable"] is False
    at(clock, date(2027, 11, 15))
    assert feed(training, contribution_fact(h.household_id, employer, date(2027, 11, 15))) == "continuing"
    assert (await referral(client, first))["employment"]["stable_confirmed_on"] == "2027-11-15"

    # … or an operator's check on today's date, which the same rule applies to.
    url = f"/referrals/{second}/employment/stable"
    at(clock, date(2027, 8, 1))
    early = await client.post(url, json={"basis": "phoned the employer"}, headers=OPERATOR)
    assert early.status_code == 409 and "needs 6, reached on 2027-11-15" in early.json()["detail"]
    ahead = await client.post(url, json={"on": "2027-12-01", "basis": "phoned"}, headers=OPERATOR)
    assert ahead.status_code == 422  # a check cannot be dated on a day that has not come
    at(clock, date(2027, 12, 1))
    late = await client.post(url, json={"basis": "phoned the employer"}, headers=OPERATOR)
    assert late.json() == {"months": 6, "required_months": 6, "on": "2027-12-01", "recorded_late": False}

    figures = (await client.get("/figures")).json()
    assert (figures["people_employed"], figures["people_in_stable_work"]) == (2, 2)
    assert figures["people_in_stable_work_by_estate"] == {"Chancheng Garden": 2}
    assert figures["employment_evidence_unmatched"] == 0
    mine = (await client.get(f"/households/{h.household_id}/training")).json()
    assert mine["estate"] == "Chancheng Garden" and len(mine["referrals"]) == 2
    assert len(mine["employment_evidence"]) == 1


async def test_the_seed_catalogue_is_scheduled_once_when_the_service_has_no_course(
    training: TrainingApp, client: httpx.AsyncClient
) -> None:
    seed = REPO_ROOT / "infra" / "training" / "courses.yaml"
    assert training.seed_courses(seed) == 4
    assert training.seed_courses(seed) == 0
    courses = (await client.get("/courses")).json()
    assert {c["title"] for c in courses} >= {"Domestic service", "Electrician", "Elderly care"}
    assert all(c["seats_left"] == c["capacity"] for c in courses)
