"""Record requests through the gateway (issue 22), before the real eligibility app (in process, SQLite):
a reviewer asks finance from a case; finance's system, with its own token, finds it in its queue and
civil affairs' does not; civil affairs cannot answer it (403, nothing forwarded); finance's facts answer
it and the household is decided again; an answer speaking for another department is refused at the
gateway; the bureau reads every department's requests, and an estate-scoped reviewer only its estates'."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.tokens import Tokens
from gateway.users import Account
from tests.gateway import behind
from tests.gateway.conftest import bearer
from tests.gateway.test_integration import seed
from tests.support.dates import yesterday

clock, tokens, real = behind.clock, behind.tokens, behind.real  # the gateway before eligibility


def system(tokens: Tokens, account_id: str, department: str) -> dict[str, str]:
    issued = tokens.issue(Account(account_id, "department", "", department=department))
    return {"authorization": f"Bearer {issued['access_token']}"}


async def test_finance_answers_what_it_is_asked_and_only_that(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = real
    seeded = await seed(client, tokens)
    (house, case), (_, other_case) = seeded["Chancheng Garden"], seeded["Nanhai Homes"]
    finance, civil = system(tokens, "dept.finance", "finance"), bearer(tokens, "department")
    ask = {"department": "finance", "kind": "financial_assets", "why": "missing", "note": "deposits, October"}
    asked = await client.post(
        f"/api/cases/{case}/record-requests", json=ask, headers=bearer(tokens, "reviewer")
    )
    assert asked.status_code == 201, asked.text
    request = asked.json()
    await client.post(
        f"/api/cases/{other_case}/record-requests",
        json={**ask, "department": "civil_affairs", "kind": "income", "why": "stale"},
        headers=bearer(tokens, "reviewer"),
    )
    refused = await client.post(
        f"/api/cases/{case}/record-requests", json=ask, headers=bearer(tokens, "auditor")
    )
    assert refused.status_code == 403  # cases:review

    queue = await client.get("/api/department-requests", headers=finance)
    assert queue.status_code == 200, queue.text
    items = queue.json()["items"]
    assert [i["request_id"] for i in items] == [request["request_id"]]
    assert "case_id" not in items[0] and items[0]["note"] == "deposits, October"
    civil_queue = (await client.get("/api/department-requests", headers=civil)).json()["items"]
    assert [i["department"] for i in civil_queue] == ["civil_affairs"]
    nosy = await client.get("/api/department-requests", params={"department": "finance"}, headers=civil)
    assert nosy.status_code == 403
    path = f"/api/department-requests/{request['request_id']}"
    assert (await client.get(path, headers=civil)).status_code == 403

    person = items[0]["persons"][0]
    fact = {
        "department": "finance",
        "reference": "FIN-77",
        "described_on": yesterday(),
        "person_hash": person,
        "fact": {"kind": "financial_assets", "amount": "350000.00"},
    }
    as_civil = await client.post(f"{path}/answer", json={"facts": [fact]}, headers=civil)
    assert as_civil.status_code == 403
    foreign = {**fact, "department": "civil_affairs", "fact": {"kind": "income", "monthly_income": "1.00"}}
    mixed = await client.post(f"{path}/answer", json={"facts": [foreign]}, headers=finance)
    assert mixed.status_code == 403 and mixed.json()["lines"] == [
        {"line": 1, "detail": "department must be finance"}
    ]
    by_reviewer = await client.post(
        f"{path}/answer", json={"facts": [fact]}, headers=bearer(tokens, "reviewer")
    )
    assert by_reviewer.status_code == 403
    answered = await client.post(f"{path}/answer", json={"facts": [fact]}, headers=finance)
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "answered"

    household = (await client.get(f"/api/households/{house}", headers=bearer(tokens, "reviewer"))).json()
    by_rule = {r["rule"]: r["status"] for r in household["decision"]["rules"]}
    assert by_rule["financial_assets"] == "exit"

    every: list[dict[str, Any]] = (
        await client.get(
            "/api/department-requests", params={"state": "all"}, headers=bearer(tokens, "supervisor")
        )
    ).json()["items"]
    assert sorted((i["department"], i["state"]) for i in every) == [
        ("civil_affairs", "open"),
        ("finance", "answered"),
    ]
    scoped = (
        await client.get(
            "/api/department-requests", params={"state": "all"}, headers=bearer(tokens, "reviewer_scoped")
        )
    ).json()["items"]
    assert [i["estate"] for i in scoped] == ["Chancheng Garden"]

    declined = await client.post(
        f"/api/department-requests/{civil_queue[0]['request_id']}/decline",
        json={"outcome": "cannot_verify", "reason": "two records for the same month disagree"},
        headers=civil,
    )
    assert declined.status_code == 200 and declined.json()["state"] == "cannot_verify"
