"""The coordination register (issue 22, the seed's mechanism 9), through eligibility's HTTP API on the
real stores: a supervisor raises a cross-department problem with the record request that shows it,
assigns it, the joint meetings discuss it and a supervisor resolves it; the figures per month and the
count of meetings follow the injected clock; the roles and the states refuse what they must."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import httpx

from services.eligibility.application import EligibilityApp
from services.eligibility.projection import Population
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import REVIEWER, SUPERVISOR, failing_household
from tests.eligibility.test_record_requests import asked
from tests.support.identity import as_operator

AUDITOR = as_operator("auditor.sun", "auditor", "eligibility")
OTHER_SUPERVISOR = as_operator("supervisor.wang", "supervisor", "eligibility")
NANHAI_SUPERVISOR = as_operator("supervisor.ma", "supervisor", "eligibility", estates=["Nanhai Homes"])
CIVIL_AFFAIRS = as_operator("dept.civil-affairs", "department", "eligibility", department="civil_affairs")


def problem_body(**body: Any) -> dict[str, Any]:
    return {
        "title": "Incomes of civil affairs and human resources disagree",
        "description": "For the same members and months, the two departments report different wages.",
        "kind": "data_conflict",
        "departments": ["civil_affairs", "human_resources"],
        **body,
    }


async def raised(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/coordination-problems", json=problem_body(**body), headers=SUPERVISOR)
    assert response.status_code == 201, response.text
    problem: dict[str, Any] = response.json()
    return problem


async def step(
    client: httpx.AsyncClient, problem: str, name: str, headers: Any, **body: Any
) -> httpx.Response:
    return await client.post(f"/coordination-problems/{problem}/{name}", json=body, headers=headers)


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/coordination-problems", params=params, headers=AUDITOR)
    assert response.status_code == 200, response.text
    return [p["problem_id"] for p in response.json()["items"]]


async def test_a_problem_is_raised_assigned_discussed_at_two_meetings_and_resolved(
    client: httpx.AsyncClient, clock: Clock, eligibility: EligibilityApp
) -> None:
    _, case = await failing_household(client)
    request = await asked(client, case, department="civil_affairs", kind="income", why="conflict")
    problem = await raised(client, record_requests=[request["request_id"]])
    pid = problem["problem_id"]
    assert problem["state"] == "open" and problem["raised_by"] == "supervisor.chen"
    assert problem["raised_on"] == "2026-11-27" and problem["record_requests"] == [request["request_id"]]
    assert problem["lead"] is None and problem["discussions"] == []

    assigned = await step(
        client, pid, "assignment", SUPERVISOR, department="human_resources", owner="reviewer.li"
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["lead"], assigned.json()["owner"]) == ("human_resources", "reviewer.li")

    clock.advance(days=10)  # 2026-12-07: the minutes of the meeting of 4 December are written up
    first = await step(
        client, pid, "discussion", REVIEWER, note="HR sends gross wages", meeting_on="2026-12-04"
    )
    assert first.status_code == 200, first.text
    clock.advance(days=30)  # 2027-01-06: the next meeting, recorded the same day
    second = await step(client, pid, "discussion", SUPERVISOR, note="both send net wages from January")
    assert second.status_code == 200, second.text
    assert second.json()["meetings"] == ["2026-12-04", "2027-01-06"]
    assert [(d["by"], d["meeting_on"]) for d in second.json()["discussions"]] == [
        ("reviewer.li", "2026-12-04"),
        ("supervisor.chen", "2027-01-06"),
    ]

    resolved = await step(client, pid, "resolution", OTHER_SUPERVISOR, resolution="net wages agreed")
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["state"] == "resolved" and body["resolved_by"] == "supervisor.wang"
    assert body["resolved_on"] == "2027-01-06" and body["days_to_solve"] == 40
    stored = (await client.get(f"/coordination-problems/{pid}", headers=AUDITOR)).json()
    projected = (await client.get("/coordination-problems", params={"state": "resolved"})).json()["items"]
    assert stored == body and projected == [body]  # the store and the read model agree
    rebuilt = Population(eligibility)  # a new process's read model, from the log alone
    rebuilt.catch_up()
    again = rebuilt.problems[UUID(pid)]
    assert again.record_requests == (UUID(request["request_id"]),)
    assert again.meetings == (date(2026, 12, 4), date(2027, 1, 6)) and again.days_to_resolve() == 40

    # a resolved problem is closed to every further step
    assert (await step(client, pid, "resolution", SUPERVISOR, resolution="again")).status_code == 409
    assert (await step(client, pid, "discussion", REVIEWER, note="one more")).status_code == 409
    reassigned = await step(client, pid, "assignment", SUPERVISOR, department="civil_affairs", owner="x")
    assert reassigned.status_code == 409


async def test_figures_per_month_and_meetings_follow_the_clock(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    november = (await raised(client))["problem_id"]  # 2026-11-27
    clock.advance(days=10)  # 2026-12-07
    december = (await raised(client, kind="no_answer", departments=["tax"]))["problem_id"]
    clock.advance(minutes=1)
    quick = (await raised(client, kind="other", departments=["finance"]))["problem_id"]
    await step(client, november, "discussion", REVIEWER, note="seen", meeting_on="2026-12-04")
    await step(client, december, "discussion", REVIEWER, note="tax promises an answer")  # 2026-12-07
    clock.advance(days=5)  # 2026-12-12
    assert (await step(client, quick, "resolution", SUPERVISOR, resolution="done")).status_code == 200
    clock.advance(days=25)  # 2027-01-06
    await step(client, december, "discussion", SUPERVISOR, note="still nothing", meeting_on="2026-12-07")
    await step(client, november, "discussion", SUPERVISOR, note="agreed")  # 2027-01-06
    await step(client, november, "resolution", SUPERVISOR, resolution="net wages")

    figures = (await client.get("/figures")).json()["coordination"]
    assert figures["by_month"] == [
        {"month": "2026-11", "raised": 1, "solved": 1, "open": 0, "median_days_to_solve": 40},
        {"month": "2026-12", "raised": 2, "solved": 1, "open": 1, "median_days_to_solve": 5},
    ]
    assert (figures["raised"], figures["solved"], figures["open"]) == (3, 2, 1)
    assert figures["median_days_to_solve"] == 22.5
    assert figures["meetings"] == 3  # 4 and 7 December, 6 January: one meeting's two notes count once
    assert figures["oldest_open_days"] == 30
    assert "record_requests" in (await client.get("/figures")).json()  # beside, not instead

    assert await listed(client) == [december]
    assert await listed(client, state="resolved") == [november, quick]
    assert await listed(client, state="all", department="tax") == [december]
    walked: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"state": "all", "limit": 1, "cursor": cursor}
        page = (await client.get("/coordination-problems", params=params, headers=AUDITOR)).json()
        walked += [p["problem_id"] for p in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert walked == [november, december, quick]


async def test_only_a_supervisor_raises_assigns_and_resolves(client: httpx.AsyncClient) -> None:
    refused = await client.post("/coordination-problems", json=problem_body(), headers=REVIEWER)
    assert refused.status_code == 403
    assert (
        await client.post("/coordination-problems", json=problem_body(), headers=AUDITOR)
    ).status_code == 403
    pid = (await raised(client))["problem_id"]
    by_reviewer = await step(
        client, pid, "assignment", REVIEWER, department="civil_affairs", owner="reviewer.li"
    )
    assert by_reviewer.status_code == 403
    assert (await step(client, pid, "resolution", REVIEWER, resolution="fixed")).status_code == 403
    assert (await step(client, pid, "discussion", AUDITOR, note="I was there")).status_code == 403
    assert (await client.get("/coordination-problems", headers=CIVIL_AFFAIRS)).status_code == 403
    assert (await client.get(f"/coordination-problems/{pid}", headers=CIVIL_AFFAIRS)).status_code == 403
    assert (await client.get(f"/coordination-problems/{pid}", headers=AUDITOR)).status_code == 200
    problem = (await client.get(f"/coordination-problems/{pid}")).json()
    assert problem["assignments"] == [] and problem["state"] == "open"  # nothing refused was recorded


async def test_invalid_problems_and_steps_are_refused(client: httpx.AsyncClient) -> None:
    post = client.post
    assert (
        await post("/coordination-problems", json=problem_body(title="  "), headers=SUPERVISOR)
    ).status_code == 409
    assert (
        await post("/coordination-problems", json=problem_body(departments=["police"]), headers=SUPERVISOR)
    ).status_code == 409
    assert (
        await post("/coordination-problems", json=problem_body(departments=[]), headers=SUPERVISOR)
    ).status_code == 422
    assert (
        await post("/coordination-problems", json=problem_body(kind="weather"), headers=SUPERVISOR)
    ).status_code == 422
    unknown = problem_body(record_requests=["00000000-0000-4000-8000-000000000000"])
    assert (await post("/coordination-problems", json=unknown, headers=SUPERVISOR)).status_code == 404

    household, case = await failing_household(client)
    finance = await asked(client, case)  # addressed to finance, not among the departments involved
    elsewhere = problem_body(record_requests=[finance["request_id"]])
    assert (await post("/coordination-problems", json=elsewhere, headers=SUPERVISOR)).status_code == 409
    outside = problem_body(departments=["finance"], record_requests=[finance["request_id"]])
    assert (await post("/coordination-problems", json=outside, headers=NANHAI_SUPERVISOR)).status_code == 403

    pid = (await raised(client))["problem_id"]
    not_involved = await step(
        client, pid, "assignment", SUPERVISOR, department="finance", owner="reviewer.li"
    )
    assert not_involved.status_code == 409
    assert (
        await step(client, pid, "assignment", SUPERVISOR, department="civil_affairs", owner=" ")
    ).status_code == 409
    assert (await step(client, pid, "discussion", REVIEWER, note="   ")).status_code == 409
    assert (await step(client, pid, "resolution", SUPERVISOR, resolution="\t")).status_code == 409
    assert (await step(client, household, "resolution", SUPERVISOR, resolution="x")).status_code == 404
    assert (await client.get(f"/coordination-problems/{household}")).status_code == 404


async def test_a_meeting_day_in_the_future_or_before_the_problem_is_refused(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    pid = (await raised(client))["problem_id"]  # 2026-11-27
    clock.advance(days=3)  # 2026-11-30
    future = await step(client, pid, "discussion", REVIEWER, note="next week", meeting_on="2026-12-01")
    assert future.status_code == 422 and future.json()["title"] == "Date not allowed"
    assert future.json()["errors"][0]["location"] == "body.meeting_on"
    before = await step(client, pid, "discussion", REVIEWER, note="last month", meeting_on="2026-11-26")
    assert before.status_code == 422 and "before the problem was raised" in before.json()["detail"]
    same_day = await step(
        client, pid, "discussion", REVIEWER, note="raised and taken up", meeting_on="2026-11-27"
    )
    assert same_day.status_code == 200 and same_day.json()["meetings"] == ["2026-11-27"]
