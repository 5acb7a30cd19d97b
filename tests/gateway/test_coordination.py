"""The coordination register through the gateway (issue 22), before the real eligibility app (in
process, SQLite): a supervisor raises a cross-department problem with the record request that shows
it, assigns and resolves it; a reviewer adds the joint meeting's note but cannot resolve; an auditor
reads the register but cannot raise; a department system does not read it; the dashboard's figures
count it."""

from __future__ import annotations

import httpx

from gateway.tokens import Tokens
from services.kit.clock import ManualClock
from tests.gateway import behind
from tests.gateway.conftest import bearer
from tests.gateway.test_integration import seed

clock, tokens, real = behind.clock, behind.tokens, behind.real  # the gateway before eligibility


async def test_supervisors_raise_and_resolve_reviewers_discuss_auditors_read(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock
) -> None:
    client = real
    supervisor, reviewer, auditor = (bearer(tokens, r) for r in ("supervisor", "reviewer", "auditor"))
    (_, case) = (await seed(client, tokens))["Chancheng Garden"]
    ask = {"department": "civil_affairs", "kind": "income", "why": "conflict"}
    request = (await client.post(f"/api/cases/{case}/record-requests", json=ask, headers=reviewer)).json()
    body = {
        "title": "Civil affairs and human resources report different incomes",
        "description": "Same members, same months, different wages.",
        "kind": "data_conflict",
        "departments": ["civil_affairs", "human_resources"],
        "record_requests": [request["request_id"]],
    }
    by_auditor = await client.post("/api/coordination-problems", json=body, headers=auditor)
    assert by_auditor.status_code == 403 and by_auditor.json()["scope"] == "cases:approve"
    by_reviewer = await client.post("/api/coordination-problems", json=body, headers=reviewer)
    assert by_reviewer.status_code == 403
    raised = await client.post("/api/coordination-problems", json=body, headers=supervisor)
    assert raised.status_code == 201, raised.text
    problem = raised.json()
    path = f"/api/coordination-problems/{problem['problem_id']}"
    assert problem["raised_by"] == "supervisor.chen" and problem["state"] == "open"

    assign = {"department": "human_resources", "owner": "reviewer.he"}
    assert (await client.post(f"{path}/assignment", json=assign, headers=reviewer)).status_code == 403
    assigned = await client.post(f"{path}/assignment", json=assign, headers=supervisor)
    assert assigned.status_code == 200 and assigned.json()["lead"] == "human_resources"

    clock.advance(days=3)  # the meeting's minutes written up three days later, with fresh tokens
    supervisor, reviewer, auditor = (bearer(tokens, r) for r in ("supervisor", "reviewer", "auditor"))
    note = {"note": "HR sends gross wages, civil affairs net", "meeting_on": problem["raised_on"]}
    assert (await client.post(f"{path}/discussion", json=note, headers=auditor)).status_code == 403
    discussed = await client.post(f"{path}/discussion", json=note, headers=reviewer)
    assert discussed.status_code == 200, discussed.text
    assert discussed.json()["discussions"][0]["by"] == "reviewer.he"

    listed = await client.get("/api/coordination-problems", headers=auditor)
    assert listed.status_code == 200, listed.text
    assert [p["problem_id"] for p in listed.json()["items"]] == [problem["problem_id"]]
    assert (await client.get(path, headers=auditor)).json()["meetings"] == [problem["raised_on"]]
    assert (await client.get(path, headers=bearer(tokens, "department"))).status_code == 403  # cases:read

    resolution = {"resolution": "both departments send net wages"}
    assert (await client.post(f"{path}/resolution", json=resolution, headers=reviewer)).status_code == 403
    resolved = await client.post(f"{path}/resolution", json=resolution, headers=supervisor)
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    assert resolved.json()["days_to_solve"] == 3
    twice = await client.post(f"{path}/resolution", json=resolution, headers=supervisor)
    assert twice.status_code == 409  # eligibility's refusal, passed on

    figures = (await client.get("/api/figures", headers=auditor)).json()
    counted = figures["services"]["eligibility"]["coordination"]
    assert (counted["raised"], counted["solved"], counted["open"], counted["meetings"]) == (1, 1, 0, 1)
    assert counted["median_days_to_solve"] == 3
    opened = (await client.get("/api/coordination-problems", headers=auditor)).json()["items"]
    assert opened == []  # open by default: the resolved one is listed under state=resolved
    closed = await client.get("/api/coordination-problems", params={"state": "resolved"}, headers=auditor)
    assert [p["state"] for p in closed.json()["items"]] == ["resolved"]
