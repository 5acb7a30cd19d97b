"""The review paths that used to end in a dead end (issue 23), through eligibility's HTTP API on the
real stores: a third-party assessment requested, listed by its assessor, reported back (only by the
assessor it was assigned to) and the case reviewable again; an appeal against an exit decision lodged
and decided by a supervisor under the four-eyes rule; both deadlines escalated on the queue once the
injected clock passes them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from contracts.catalogue import EVENTS_BY_TYPE
from services.eligibility.application import EligibilityApp
from services.eligibility.translate import make_translator
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import ID_1, ID_2, REVIEWER, SUPERVISOR, failing_household
from tests.support.identity import as_operator

ASSESSOR = as_operator("assessor.zhou", "assessor", "eligibility")
OTHER_ASSESSOR = as_operator("assessor.qian", "assessor", "eligibility")
SUPERVISOR_WANG = as_operator("supervisor.wang", "supervisor", "eligibility")
SUPERVISOR_LIU = as_operator("supervisor.liu", "supervisor", "eligibility")
FINDING = {"findings": "income confirmed", "proposed_outcome": "exit_required", "reason_code": "INC"}


async def ask_assessor(client: httpx.AsyncClient, case: str, days: int = 14) -> dict[str, Any]:
    deadline = (date(2026, 11, 27) + timedelta(days=days)).isoformat()
    body = {"assessor_id": "assessor.zhou", "deadline": deadline, "reason": "is the income seasonal?"}
    response = await client.post(f"/cases/{case}/assessment-requests", json=body, headers=REVIEWER)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def queue(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    states = ["open", "proposed", "assessment", "appealed"]
    found = await client.get("/cases", params={"status": states, **params}, headers=SUPERVISOR)
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


async def test_the_assessment_goes_to_its_assessor_and_back_to_the_reviewer(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    household, case = await failing_household(client)
    assert (await ask_assessor(client, case))["status"] == "assessment"
    blocked = await client.post(f"/cases/{case}/findings", json=FINDING, headers=REVIEWER)
    assert blocked.status_code == 409  # with the assessor: no findings until the report is in

    mine = (await client.get("/assessments", headers=ASSESSOR)).json()["items"]
    assert [(a["case_id"], a["household_id"], a["state"]) for a in mine] == [(case, household, "pending")]
    (item,) = mine
    assert item["estate"] == "Chancheng Garden" and item["question"] == "is the income seasonal?"
    assert item["deadline"] == "2026-12-11" and item["overdue"] is False and item["can_report"] is True
    assert (await client.get("/assessments", headers=OTHER_ASSESSOR)).json()["items"] == []
    nosy = await client.get("/assessments", params={"assessor_id": "assessor.zhou"}, headers=OTHER_ASSESSOR)
    assert nosy.status_code == 403
    by_reviewer = await client.get("/assessments", params={"assessor_id": "assessor.zhou"}, headers=REVIEWER)
    assert [a["case_id"] for a in by_reviewer.json()["items"]] == [case]
    household_role = as_operator("household.a1", "household", "eligibility")
    assert (await client.get("/assessments", headers=household_role)).status_code == 403

    report = {"report": "income is seasonal, above the limit all year", "recommendation": "transition"}
    other = await client.post(f"/cases/{case}/assessment-reports", json=report, headers=OTHER_ASSESSOR)
    assert other.status_code == 403
    # a reviewer named in no assessment cannot file one either, whatever the subject
    as_reviewer = as_operator("assessor.zhou", "reviewer", "eligibility")
    assert (
        await client.post(f"/cases/{case}/assessment-reports", json=report, headers=as_reviewer)
    ).status_code == 403
    empty = await client.post(
        f"/cases/{case}/assessment-reports", json={**report, "report": ""}, headers=ASSESSOR
    )
    assert empty.status_code == 422

    clock.now += timedelta(days=2)
    filed = await client.post(f"/cases/{case}/assessment-reports", json=report, headers=ASSESSOR)
    assert filed.status_code == 200, filed.text
    assert filed.json()["status"] == "open"  # back with the reviewer
    again = await client.post(f"/cases/{case}/assessment-reports", json=report, headers=ASSESSOR)
    assert again.status_code == 409
    assert (await client.get("/assessments", headers=ASSESSOR)).json()["items"] == []
    done = (await client.get("/assessments", params={"state": "reported"}, headers=ASSESSOR)).json()
    assert [(a["recommendation"], a["can_report"]) for a in done["items"]] == [("transition", False)]

    proposed = await client.post(f"/cases/{case}/findings", json=FINDING, headers=REVIEWER)
    assert proposed.json()["status"] == "proposed"
    decided = await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)
    assert decided.json()["status"] == "decided"


async def test_an_overdue_assessment_is_escalated_on_the_queue(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    _, late = await failing_household(client)
    _, fine = await failing_household(client, ID_2)
    await ask_assessor(client, late, days=3)
    await ask_assessor(client, fine, days=30)
    assert [c["case_id"] for c in await queue(client, escalated="true")] == []

    clock.now += timedelta(days=4)  # the city's date is now past the first deadline
    escalated = await queue(client, escalated="true")
    assert [c["case_id"] for c in escalated] == [late]
    assert escalated[0]["escalations"] == [
        {"kind": "assessment_overdue", "due": "2026-11-30", "assessor_id": "assessor.zhou"}
    ]
    assert [c["case_id"] for c in await queue(client, escalated="false")] == [fine]
    (item,) = [
        a for a in (await client.get("/assessments", headers=ASSESSOR)).json()["items"] if a["overdue"]
    ]
    assert item["case_id"] == late

    report = {"report": "late but done", "recommendation": "retain"}
    assert (
        await client.post(f"/cases/{late}/assessment-reports", json=report, headers=ASSESSOR)
    ).status_code == 200
    assert await queue(client, escalated="true") == []


async def decided_exit(client: httpx.AsyncClient) -> tuple[str, str]:
    """A case decided `exit_required`: proposed by reviewer.li, approved by supervisor.chen."""
    household, case = await failing_household(client)
    await client.post(f"/cases/{case}/findings", json=FINDING, headers=REVIEWER)
    decided = await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)
    assert decided.json()["final_outcome"] == "exit_required"
    return household, case


async def test_an_exit_decision_appeal_is_decided_by_a_third_pair_of_eyes(
    client: httpx.AsyncClient, clock: Clock, eligibility: EligibilityApp
) -> None:
    household, case = await decided_exit(client)
    no_grounds = await client.post(f"/cases/{case}/appeals", json={"reason": ""}, headers=SUPERVISOR_WANG)
    assert no_grounds.status_code == 422
    clock.now += timedelta(days=5)
    lodged = await client.post(
        f"/cases/{case}/appeals", json={"reason": "lost her job last month"}, headers=SUPERVISOR_WANG
    )
    assert lodged.status_code == 200, lodged.text
    body = lodged.json()
    assert body["status"] == "appealed"
    assert body["appeals"][0]["decide_by"] == "2027-01-31" and body["appeals"][0]["overdue"] is False
    assert (await client.get(f"/households/{household}")).json()["open_case"] == case

    decision = {"decision": "overturned", "reason": "the job loss is documented"}
    by_reviewer = await client.post(f"/cases/{case}/appeal-decision", json=decision, headers=REVIEWER)
    assert by_reviewer.status_code == 403
    by_approver = await client.post(f"/cases/{case}/appeal-decision", json=decision, headers=SUPERVISOR)
    assert by_approver.status_code == 403
    assert by_approver.json()["title"] == "Four-eyes principle"
    assert "approved the exit decision" in by_approver.json()["detail"]
    by_lodger = await client.post(f"/cases/{case}/appeal-decision", json=decision, headers=SUPERVISOR_WANG)
    assert by_lodger.status_code == 403 and "lodged this appeal" in by_lodger.json()["detail"]
    unknown = await client.post(f"/cases/{case}/appeal-decision", json={**decision, "decision": "x"})
    assert unknown.status_code == 422
    no_reason = await client.post(
        f"/cases/{case}/appeal-decision", json={**decision, "reason": ""}, headers=SUPERVISOR_LIU
    )
    assert no_reason.status_code == 422

    decided = await client.post(f"/cases/{case}/appeal-decision", json=decision, headers=SUPERVISOR_LIU)
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "decided" and body["final_outcome"] == "retain"
    appeal = body["appeals"][0]
    assert (appeal["decision"], appeal["decided_by"], appeal["overturned"]) == (
        "overturned",
        "supervisor.liu",
        True,
    )
    assert body["trail"][-1]["action"] == "appeal_decided"
    assert body["trail"][-1]["actor"] == "supervisor.liu"
    assert (await client.get(f"/households/{household}")).json()["open_case"] is None
    twice = await client.post(f"/cases/{case}/appeal-decision", json=decision, headers=SUPERVISOR_LIU)
    assert twice.status_code == 409

    timeline = (await client.get(f"/households/{household}/timeline")).json()["entries"]
    summaries = [e["summary"] for e in timeline]
    assert "Appeal lodged" in summaries
    assert "Appeal decided: the exit decision is overturned, the household keeps its home" in summaries

    translate = make_translator(eligibility.config, EVENTS_BY_TYPE)
    published = [
        (out.spec.name, json.loads(out.payload.model_dump_json()))
        for stored in eligibility.recorder.select_events(UUID(case))
        for out in translate(eligibility.mapper.to_domain_event(stored))
    ]
    resolved = dict(published)["appeal-resolved"]
    assert (resolved["outcome"], resolved["overturned"], resolved["resolved_on"]) == (
        "retain",
        True,
        "2026-12-02",
    )


async def test_an_upheld_appeal_keeps_the_exit_and_an_undecided_one_escalates(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    _, case = await decided_exit(client)
    await client.post(f"/cases/{case}/appeals", json={"reason": "we disagree"}, headers=REVIEWER)
    clock.now += timedelta(days=60)
    assert await queue(client, escalated="true") == []  # day 60: still within the time to decide
    clock.now += timedelta(days=1)
    (escalated,) = await queue(client, escalated="true")
    assert escalated["case_id"] == case and escalated["escalations"][0]["kind"] == "appeal_overdue"
    assert escalated["appeals"][0]["overdue"] is True

    upheld = {"decision": "upheld", "reason": "income above the limit for a year"}
    decided = await client.post(f"/cases/{case}/appeal-decision", json=upheld, headers=SUPERVISOR_WANG)
    assert decided.status_code == 200, decided.text
    assert decided.json()["final_outcome"] == "exit_required"
    assert decided.json()["appeals"][0]["overturned"] is False
    assert await queue(client, escalated="true") == []


async def test_the_appeal_window_and_what_is_appealed_come_from_the_case(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    _, case = await failing_household(client, ID_1)
    await client.post(
        f"/cases/{case}/findings", json={**FINDING, "proposed_outcome": "retain"}, headers=REVIEWER
    )
    await client.post(f"/cases/{case}/approval", json={"reason": "keeps it"}, headers=SUPERVISOR)
    await client.post(f"/cases/{case}/appeals", json={"reason": "a neighbour objects"}, headers=REVIEWER)
    not_exit = await client.post(
        f"/cases/{case}/appeal-decision", json={"decision": "upheld", "reason": "x"}, headers=SUPERVISOR_WANG
    )
    assert not_exit.status_code == 409 and "not an exit" in not_exit.json()["detail"]

    _, other = await failing_household(client, ID_2)
    await client.post(f"/cases/{other}/findings", json=FINDING, headers=REVIEWER)
    await client.post(f"/cases/{other}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)
    clock.now += timedelta(days=31)
    late = await client.post(f"/cases/{other}/appeals", json={"reason": "too late"}, headers=REVIEWER)
    assert late.status_code == 409 and "appeal window closed" in late.json()["detail"]


async def test_the_appeal_window_and_the_assessment_deadline_are_counted_in_foshans_days(
    client: httpx.AsyncClient, clock: Clock, eligibility: EligibilityApp
) -> None:
    """A decision at 23:30 UTC is made on Foshan's next day; the window's last day is counted from it
    and lasts until midnight in Foshan (16:00 UTC), not until the UTC date changes."""
    clock.now = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # 07:30 on the 28th in Foshan
    _, case = await failing_household(client)
    await client.post(f"/cases/{case}/findings", json=FINDING, headers=REVIEWER)
    await client.post(f"/cases/{case}/approval", json={"reason": "agreed"}, headers=SUPERVISOR)
    window = eligibility.config.appeal_window_days
    last_day = date(2026, 11, 28) + timedelta(days=window)
    clock.now = datetime(last_day.year, last_day.month, last_day.day, 16, 0, tzinfo=UTC)  # 00:00 next day
    late = await client.post(f"/cases/{case}/appeals", json={"reason": "late"}, headers=REVIEWER)
    assert late.status_code == 409 and f"closed on {last_day}" in late.json()["detail"]
    clock.now -= timedelta(minutes=1)  # 23:59 on the last day in Foshan
    lodged = await client.post(f"/cases/{case}/appeals", json={"reason": "in time"}, headers=REVIEWER)
    assert lodged.status_code == 200, lodged.text

    _, other = await failing_household(client, ID_2)
    clock.now = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 December in Foshan
    body = {"assessor_id": "assessor.zhou", "deadline": "2026-12-02", "reason": "seasonal?"}
    today = await client.post(f"/cases/{other}/assessment-requests", json=body, headers=REVIEWER)
    assert today.status_code == 409 and "after today (2026-12-02)" in today.json()["detail"]
