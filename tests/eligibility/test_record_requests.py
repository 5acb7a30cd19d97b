"""Record requests to departments (issue 22), through eligibility's HTTP API on the real stores: a
reviewer asks from a case; only the department asked sees and answers it; its facts are recorded on
the household, which is decided again; a request left unanswered escalates on the injected clock,
first on the supervisors' queue and then for the joint meeting; the figures count it all."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx

from services.eligibility.application import EligibilityApp
from services.eligibility.settings import EligibilitySettings
from services.eligibility.translate import make_translator
from services.kit.uow import UnitOfWork
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import (
    ID_1,
    REVIEWER,
    SUPERVISOR,
    assets,
    fact,
    failing_household,
    household_body,
    income,
)
from tests.support.identity import as_operator

FINANCE = as_operator("dept.finance", "department", "eligibility", department="finance")
CIVIL_AFFAIRS = as_operator("dept.civil-affairs", "department", "eligibility", department="civil_affairs")
NAMELESS_DEPARTMENT = as_operator("dept.unknown", "department", "eligibility")


async def ask(client: httpx.AsyncClient, case: str, **body: Any) -> httpx.Response:
    wanted = {"department": "finance", "kind": "financial_assets", "why": "missing", **body}
    return await client.post(f"/cases/{case}/record-requests", json=wanted, headers=REVIEWER)


async def asked(client: httpx.AsyncClient, case: str, **body: Any) -> dict[str, Any]:
    response = await ask(client, case, **body)
    assert response.status_code == 201, response.text
    request: dict[str, Any] = response.json()
    return request


async def queue_of(client: httpx.AsyncClient, headers: Any, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/record-requests", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_request_reaches_the_department_asked_and_its_answer_decides_again(
    client: httpx.AsyncClient, eligibility: EligibilityApp
) -> None:
    household, case = await failing_household(client)
    head = (await client.get(f"/households/{household}")).json()["members"][0]
    request = await asked(client, case, rule="financial_assets", note="deposits at the end of October")
    assert request["department"] == "finance" and request["state"] == "open"
    assert request["persons"] == [head["person_hash"]] and request["asked_by"] == "reviewer.li"
    assert request["asked_on"] == "2026-11-27" and request["due_on"] == "2026-12-12"  # finance: 15 days
    assert ID_1 not in str(request)

    mine = await queue_of(client, FINANCE)
    assert [r["request_id"] for r in mine] == [request["request_id"]]
    assert "case_id" not in mine[0] and "asked_by" not in mine[0]  # what the department needs only
    assert mine[0]["note"] == "deposits at the end of October"
    assert await queue_of(client, CIVIL_AFFAIRS) == []
    path = f"/record-requests/{request['request_id']}"
    assert (await client.get(path, headers=CIVIL_AFFAIRS)).status_code == 403
    nosy = await client.get("/record-requests", params={"department": "finance"}, headers=CIVIL_AFFAIRS)
    assert nosy.status_code == 403
    assert (await client.get("/record-requests", headers=NAMELESS_DEPARTMENT)).status_code == 403

    answer = {
        "facts": [fact(household, "FIN-2026-0042", assets("350000.00"), person_hash=head["person_hash"])]
    }
    assert (await client.post(f"{path}/answer", json=answer, headers=CIVIL_AFFAIRS)).status_code == 403
    assert (await client.post(f"{path}/answer", json=answer, headers=REVIEWER)).status_code == 403
    answered = await client.post(f"{path}/answer", json=answer, headers=FINANCE)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["state"] == "answered" and body["references"] == ["FIN-2026-0042"]
    assert body["facts"] == [{"reference": "FIN-2026-0042", "status": "recorded"}]

    decided = (await client.get(f"/households/{household}")).json()["decision"]
    by_rule = {r["rule"]: r["status"] for r in decided["rules"]}
    assert by_rule["financial_assets"] == "exit"  # the answer's record decides now
    again = await client.post(f"{path}/answer", json=answer, headers=FINANCE)
    assert again.status_code == 409
    assert await queue_of(client, FINANCE) == []
    assert [r["state"] for r in await queue_of(client, FINANCE, state="closed")] == ["answered"]

    seen = (await client.get(f"/cases/{case}", headers=SUPERVISOR)).json()
    assert [(r["department"], r["state"]) for r in seen["record_requests"]] == [("finance", "answered")]
    steps = [e["summary"] for e in (await client.get(f"/households/{household}/timeline")).json()["entries"]]
    assert "Financial assets record requested from finance, due 2026-12-12" in steps
    assert "Record request answered (1 records)" in steps


async def test_what_a_department_cannot_be_asked_or_cannot_answer_is_refused(
    client: httpx.AsyncClient,
) -> None:
    household, case = await failing_household(client)
    assert (await ask(client, case, department="civil_affairs")).status_code == 409  # not its kind
    assert (await ask(client, case, department="police")).status_code == 409
    assert (await ask(client, case, why="curious")).status_code == 422
    assert (await ask(client, case, members=["00000000-0000-4000-8000-000000000000"])).status_code == 409
    household_role = as_operator("household.a1", "household", "eligibility")
    body = {"department": "finance", "kind": "financial_assets", "why": "missing"}
    refused = await client.post(f"/cases/{case}/record-requests", json=body, headers=household_role)
    assert refused.status_code == 403

    request = await asked(client, case)
    path = f"/record-requests/{request['request_id']}/answer"
    other, _ = await failing_household(client, "440604199001010018")
    elsewhere = {"facts": [fact(other, "FIN-9", assets("1.00"))]}
    assert (await client.post(path, json=elsewhere, headers=FINANCE)).status_code == 409
    tomorrow = {"facts": [fact(household, "FIN-10", assets("1.00"), described_on="2026-11-28")]}
    assert (await client.post(path, json=tomorrow, headers=FINANCE)).status_code == 422
    facts_now = (await client.get(f"/households/{household}")).json()["facts"]
    assert "financial_assets" not in facts_now  # nothing of a refused answer was recorded
    assert [r["state"] for r in await queue_of(client, FINANCE)] == ["open"]


async def test_an_unanswered_request_escalates_then_goes_to_the_joint_meeting(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    _, case = await failing_household(client)
    request = await asked(client, case, department="civil_affairs", kind="income", why="stale")

    def escalations(found: list[dict[str, Any]]) -> list[Any]:
        return [
            (e["kind"], e["joint_meeting"]) for c in found for e in c["escalations"] if c["case_id"] == case
        ]

    async def cases() -> list[dict[str, Any]]:
        response = await client.get("/cases", params={"escalated": "true"}, headers=SUPERVISOR)
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    clock.advance(days=15)  # due on 2026-12-12: still in time that day
    assert escalations(await cases()) == []
    clock.advance(days=1)
    assert escalations(await cases()) == [("record_overdue", False)]
    assert [r["request_id"] for r in await queue_of(client, SUPERVISOR, state="overdue")] == [
        request["request_id"]
    ]
    assert await queue_of(client, SUPERVISOR, state="joint_meeting") == []
    clock.advance(days=15)
    assert escalations(await cases()) == [("record_overdue", True)]
    listed = await queue_of(client, SUPERVISOR, state="joint_meeting")
    assert [(r["request_id"], r["escalation"]) for r in listed] == [(request["request_id"], "joint_meeting")]

    figures = (await client.get("/figures")).json()["record_requests"]
    assert figures["asked"] == 1 and figures["open"] == 1 and figures["overdue"] == 1
    assert figures["by_month"] == [
        {
            "month": "2026-11",
            "asked": 1,
            "answered": 0,
            "declined": 0,
            "open": 1,
            "overdue": 1,
            "median_days_to_answer": None,
        }
    ]

    declined = await client.post(
        f"/record-requests/{request['request_id']}/decline",
        json={"outcome": "no_record", "reason": "no income record for this person since 2024"},
        headers=CIVIL_AFFAIRS,
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "no_record"
    assert escalations(await cases()) == []
    figures = (await client.get("/figures")).json()["record_requests"]
    assert (figures["declined"], figures["open"], figures["overdue"]) == (1, 0, 0)
    assert figures["median_days_to_answer"] == 31


async def test_a_declined_answer_says_why(client: httpx.AsyncClient) -> None:
    _, case = await failing_household(client)
    request = await asked(client, case, department="civil_affairs", kind="income", why="conflict")
    path = f"/record-requests/{request['request_id']}/decline"
    blank = await client.post(path, json={"outcome": "cannot_verify", "reason": " "}, headers=CIVIL_AFFAIRS)
    assert blank.status_code == 409
    unknown = await client.post(path, json={"outcome": "maybe", "reason": "x"}, headers=CIVIL_AFFAIRS)
    assert unknown.status_code == 422
    ok = await client.post(
        path, json={"outcome": "cannot_verify", "reason": "records disagree"}, headers=CIVIL_AFFAIRS
    )
    assert ok.json()["state"] == "cannot_verify" and ok.json()["reason"] == "records disagree"


async def test_a_household_the_review_could_not_decide_is_asked_about_without_a_case(
    client: httpx.AsyncClient,
) -> None:
    registered = await client.post("/households", json=household_body(ID_1))
    household = registered.json()["household_id"]
    posted = await client.post("/facts", json=[fact(household, "FIN-1", assets("1000.00"))])
    assert posted.json()["recorded"] == 1  # assets only: the income is missing
    view = (await client.get(f"/households/{household}")).json()
    assert view["open_case"] is None and view["decision"]["outcome"] == "needs_manual"
    body = {"department": "civil_affairs", "kind": "income", "why": "missing", "rule": "income_per_capita"}
    asked = await client.post(f"/households/{household}/record-requests", json=body, headers=REVIEWER)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["case_id"] is None and request["household_id"] == household
    scoped = as_operator("reviewer.ma", "reviewer", "eligibility", estates=["Nanhai Homes"])
    outside = await client.post(f"/households/{household}/record-requests", json=body, headers=scoped)
    assert outside.status_code == 403

    answer = {"facts": [fact(household, "MZ-1", income("1200.00"))]}
    answered = await client.post(
        f"/record-requests/{request['request_id']}/answer", json=answer, headers=CIVIL_AFFAIRS
    )
    assert answered.status_code == 200, answered.text
    decided = (await client.get(f"/households/{household}")).json()["decision"]
    assert decided["outcome"] != "needs_manual"
    listed = await queue_of(client, SUPERVISOR, household_id=household, state="all")
    assert [(r["request_id"], r["state"]) for r in listed] == [(request["request_id"], "answered")]


PUBLIC_SECURITY = as_operator(
    "dept.public-security", "department", "eligibility", department="public_security"
)


async def test_public_security_verifies_a_warned_household_and_the_finding_is_published(
    client: httpx.AsyncClient, eligibility: EligibilityApp
) -> None:
    registered = await client.post("/households", json=household_body(ID_1))
    household = registered.json()["household_id"]
    warning = uuid4()
    uow = UnitOfWork(eligibility)
    eligibility.note_occupancy(uow, UUID(household), warning, "raised", date(2026, 11, 20), "sublet_or_lend")
    uow.commit(None)
    task = {
        "department": "public_security",
        "kind": "registration",
        "why": "doubt",
        "warning_id": str(warning),
    }
    path = f"/households/{household}/record-requests"
    assert (
        await client.post(path, json={**task, "warning_id": str(uuid4())}, headers=REVIEWER)
    ).status_code == 404
    wrong = {**task, "department": "civil_affairs", "kind": "income"}
    assert (await client.post(path, json=wrong, headers=REVIEWER)).status_code == 409
    asked = await client.post(path, json=task, headers=REVIEWER)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["warning_id"] == str(warning)

    inspection = f"/record-requests/{request['request_id']}/inspection"
    finding = {"finding": "sublet", "note": "a tenant pays rent to the household"}
    assert (await client.post(inspection, json=finding, headers=CIVIL_AFFAIRS)).status_code == 403
    with_number = {"finding": "sublet", "note": f"tenant {ID_1}"}
    assert (await client.post(inspection, json=with_number, headers=PUBLIC_SECURITY)).status_code == 422
    inspected = await client.post(inspection, json=finding, headers=PUBLIC_SECURITY)
    assert inspected.status_code == 200, inspected.text
    assert (inspected.json()["state"], inspected.json()["finding"]) == ("inspected", "sublet")
    assert (await client.post(inspection, json=finding, headers=PUBLIC_SECURITY)).status_code == 409

    # what the relay publishes for monitoring, which closes the warning with it
    translate = make_translator(EligibilitySettings())
    events = [
        eligibility.mapper.to_domain_event(n)
        for n in eligibility.notification_log.select(start=1, limit=1000)
    ]
    published = [o for e in events for o in translate(e) if o.spec.name == "residence-verified"]
    (verified,) = published
    assert verified.payload.model_dump(mode="json") == {
        "household_id": household,
        "request_id": request["request_id"],
        "warning_id": str(warning),
        "department": "public_security",
        "finding": "sublet",
        "note": "a tenant pays rent to the household",
        "verified_by": "dept.public-security",
        "verified_on": "2026-11-27",
    }
    figures = (await client.get("/figures")).json()["record_requests"]
    assert (figures["answered"], figures["declined"]) == (1, 0)
