"""The review paths of issue 23 through the gateway, before the real eligibility app (in process,
SQLite, no bus): an assessment requested, listed by the assessor it was assigned to (and only by it),
reported back through the gateway (another assessor 403, nothing forwarded), the case back with the
reviewer and decided; an appeal against the exit decision lodged by a reviewer and decided by a third
pair of eyes (the approver 403, naming the rule); an overdue assessment escalated on the supervisors'
queue once the injected clock has moved (gateway and eligibility share it: no sleeps)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from gateway.tokens import Tokens
from gateway.users import Account
from services.kit.clock import ManualClock
from tests.gateway import behind
from tests.gateway.conftest import bearer
from tests.gateway.test_integration import FINDING, seed

clock, tokens, real = behind.clock, behind.tokens, behind.real  # the gateway before eligibility


def token(tokens: Tokens, account_id: str, role: str) -> dict[str, str]:
    issued = tokens.issue(Account(account_id, role, ""))  # type: ignore[arg-type]
    return {"authorization": f"Bearer {issued['access_token']}"}


async def test_assessment_round_trip_and_escalation(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock
) -> None:
    client = real
    seeded = await seed(client, tokens)
    (house, case), (_, other_case) = seeded["Chancheng Garden"], seeded["Nanhai Homes"]
    deadline = (clock.now.date() + timedelta(days=3)).isoformat()
    request = {"assessor_id": "assessor.zhao", "deadline": deadline, "reason": "is the income seasonal?"}
    asked = await client.post(
        f"/api/cases/{case}/assessment-requests", json=request, headers=bearer(tokens, "reviewer")
    )
    assert asked.status_code == 200 and asked.json()["status"] == "assessment", asked.text
    later = {**request, "deadline": (clock.now.date() + timedelta(days=30)).isoformat()}
    clock.advance(minutes=1)  # requested after the first: listed after it
    await client.post(
        f"/api/cases/{other_case}/assessment-requests", json=later, headers=bearer(tokens, "reviewer")
    )

    assessor = bearer(tokens, "assessor")
    mine = await client.get("/api/assessments", headers=assessor)
    assert mine.status_code == 200, mine.text
    items = mine.json()["items"]
    assert [(a["case_id"], a["estate"], a["question"], a["deadline"], a["overdue"]) for a in items] == [
        (case, "Chancheng Garden", "is the income seasonal?", deadline, False),
        (other_case, "Nanhai Homes", "is the income seasonal?", later["deadline"], False),
    ]
    assert "4200.00" not in mine.text  # an assessor holds no personal:read
    stranger = token(tokens, "assessor.qian", "assessor")
    assert (await client.get("/api/assessments", headers=stranger)).json()["items"] == []
    # an assessor reads no case, queue or household
    assert (await client.get(f"/api/cases/{case}", headers=assessor)).status_code == 403
    assert (await client.get("/api/review-queue", headers=assessor)).status_code == 403
    assert (await client.get(f"/api/households/{house}", headers=assessor)).status_code == 403
    assert (await client.get("/api/assessments", headers=bearer(tokens, "reviewer"))).status_code == 403

    # past the first deadline: the supervisor's queue shows it as an escalation, and only it
    clock.advance(days=4)
    supervisor = bearer(tokens, "supervisor")
    queue = (await client.get("/api/review-queue", headers=supervisor)).json()["items"]
    marks = {c["case_id"]: c["escalated"] for c in queue}
    assert marks == {case: True, other_case: False}
    escalated = (
        await client.get("/api/review-queue", params={"escalated": "true"}, headers=supervisor)
    ).json()["items"]
    assert [(c["case_id"], [e["kind"] for e in c["escalations"]]) for c in escalated] == [
        (case, ["assessment_overdue"])
    ]
    overdue = (await client.get("/api/assessments", headers=bearer(tokens, "assessor"))).json()["items"]
    assert [a["overdue"] for a in overdue] == [True, False]

    report = {"report": "income is seasonal, above the limit all year", "recommendation": "transition"}
    stranger = token(tokens, "assessor.qian", "assessor")  # the first token expired while days passed
    refused = await client.post(f"/api/cases/{case}/assessment-reports", json=report, headers=stranger)
    assert refused.status_code == 403 and "not requested from you" in refused.json()["detail"]
    by_reviewer = await client.post(
        f"/api/cases/{case}/assessment-reports", json=report, headers=bearer(tokens, "reviewer")
    )
    assert by_reviewer.status_code == 403
    filed = await client.post(
        f"/api/cases/{case}/assessment-reports", json=report, headers=bearer(tokens, "assessor")
    )
    assert filed.status_code == 200, filed.text
    assert filed.json()["status"] == "open" and "trail" not in filed.json()
    again = await client.post(
        f"/api/cases/{case}/assessment-reports", json=report, headers=bearer(tokens, "assessor")
    )
    assert again.status_code == 409

    supervisor = bearer(tokens, "supervisor")
    assert (await client.get("/api/review-queue", params={"escalated": "true"}, headers=supervisor)).json()[
        "items"
    ] == []
    view = (await client.get(f"/api/cases/{case}", headers=bearer(tokens, "reviewer"))).json()
    assert view["status"] == "open" and view["assessments"][0]["recommendation"] == "transition"
    assert [s["action"] for s in view["trail"]][-2:] == ["assessment_requested", "assessment_received"]
    assert view["trail"][-1]["actor"] == "assessor.zhao"

    proposed = await client.post(
        f"/api/cases/{case}/findings", json=FINDING, headers=bearer(tokens, "reviewer")
    )
    assert proposed.json()["status"] == "proposed"
    approved = await client.post(f"/api/cases/{case}/approval", json={"reason": "agreed"}, headers=supervisor)
    assert approved.json()["status"] == "decided"


async def test_exit_decision_appeal_with_four_eyes(real: httpx.AsyncClient, tokens: Tokens) -> None:
    client = real
    seeded = await seed(client, tokens)
    house, case = seeded["Chancheng Garden"]
    reviewer, supervisor = bearer(tokens, "reviewer"), bearer(tokens, "supervisor")
    await client.post(f"/api/cases/{case}/findings", json=FINDING, headers=reviewer)
    decided = await client.post(f"/api/cases/{case}/approval", json={"reason": "agreed"}, headers=supervisor)
    assert decided.json()["final_outcome"] == "exit_required"

    grounds = {"reason": "lost his job last month"}
    assert (
        await client.post(f"/api/cases/{case}/appeals", json={"reason": ""}, headers=reviewer)
    ).status_code == 422
    assert (
        await client.post(f"/api/cases/{case}/appeals", json=grounds, headers=bearer(tokens, "auditor"))
    ).status_code == 403
    lodged = await client.post(f"/api/cases/{case}/appeals", json=grounds, headers=reviewer)
    assert lodged.status_code == 200, lodged.text
    assert lodged.json()["status"] == "appealed" and lodged.json()["appeals"][0]["lodged_by"] == "reviewer.he"
    assert lodged.json()["appeals"][0]["decide_by"]

    decision = {"decision": "overturned", "reason": "the job loss is documented"}
    assert (
        await client.post(f"/api/cases/{case}/appeal-decision", json=decision, headers=reviewer)
    ).status_code == 403
    by_approver = await client.post(f"/api/cases/{case}/appeal-decision", json=decision, headers=supervisor)
    assert by_approver.status_code == 403
    assert by_approver.json()["title"] == "Four-eyes principle"
    assert "approved the exit decision" in by_approver.json()["detail"]
    bad = await client.post(
        f"/api/cases/{case}/appeal-decision", json={**decision, "decision": "maybe"}, headers=supervisor
    )
    assert bad.status_code == 422

    overturned = await client.post(
        f"/api/cases/{case}/appeal-decision", json=decision, headers=bearer(tokens, "supervisor2")
    )
    assert overturned.status_code == 200, overturned.text
    body = overturned.json()
    assert body["status"] == "decided" and body["final_outcome"] == "retain"
    assert body["appeals"][0]["decided_by"] == "supervisor.wang" and body["appeals"][0]["overturned"] is True
    again = await client.post(
        f"/api/cases/{case}/appeal-decision", json=decision, headers=bearer(tokens, "supervisor2")
    )
    assert again.status_code == 409

    timeline = (await client.get(f"/api/households/{house}/timeline", headers=reviewer)).json()
    summaries = [e["summary"] for e in timeline["entries"]]
    assert "Appeal lodged" in summaries
    assert any(s.startswith("Appeal decided: the exit decision is overturned") for s in summaries)


async def test_the_console_pages_of_the_assessor_and_the_appeal(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock
) -> None:
    from tests.gateway.test_console import hidden_csrf, log_in
    from tests.gateway.test_console_pages import unreadable

    client = real
    seeded = await seed(client, tokens)
    _, case = seeded["Chancheng Garden"]
    deadline = (clock.now.date() + timedelta(days=2)).isoformat()
    request = {"assessor_id": "assessor.zhao", "deadline": deadline, "reason": "is the income seasonal?"}
    await client.post(
        f"/api/cases/{case}/assessment-requests", json=request, headers=bearer(tokens, "reviewer")
    )
    clock.advance(days=3)

    await log_in(client, "assessor.zhao")
    start = await client.get("/console/dashboard")
    assert start.status_code == 303 and start.headers["location"] == "/console/assessments"
    for lang, words in (("zh", ("我的评估任务", "已逾期")), ("en", ("My assessments", "Overdue"))):
        page = await client.get("/console/assessments", params={"lang": lang})
        assert page.status_code == 200 and all(w in page.text for w in words), page.text[-2000:]
        assert "is the income seasonal?" in page.text
        assert unreadable(page.text, lang) == []
    form = await client.post(
        f"/console/assessments/{case}/report",
        data={"csrf": hidden_csrf(page.text), "report": "seasonal income", "recommendation": "transition"},
    )
    assert form.status_code == 303, form.text
    assert "report-form" not in (await client.get("/console/assessments")).text

    await log_in(client, "supervisor.chen")
    queue = await client.get("/console/queue", params={"lang": "en"})
    assert queue.status_code == 200 and "Escalations only" in queue.text
    await client.post(f"/api/cases/{case}/findings", json=FINDING, headers=bearer(tokens, "reviewer"))
    page = await client.get(f"/console/cases/{case}")
    await client.post(
        f"/console/cases/{case}/approval", data={"csrf": hidden_csrf(page.text), "reason": "ok"}
    )

    await log_in(client, "reviewer.he")
    page = await client.get(f"/console/cases/{case}", params={"lang": "en"})
    assert "appeal-form" in page.text and "Lodge the household" in page.text
    lodged = await client.post(
        f"/console/cases/{case}/appeals", data={"csrf": hidden_csrf(page.text), "reason": "lost his job"}
    )
    assert lodged.status_code == 303, lodged.text

    await log_in(client, "supervisor.chen")  # approved the decision: told why, offered no form
    page = await client.get(f"/console/cases/{case}", params={"lang": "en"})
    assert "own-appeal" in page.text and "appeal-decision-form" not in page.text
    await log_in(client, "supervisor.wang")
    page = await client.get(f"/console/cases/{case}", params={"lang": "zh"})
    assert "撤销原退出决定" in page.text and unreadable(page.text, "zh") == []
    decided = await client.post(
        f"/console/cases/{case}/appeal-decision",
        data={"csrf": hidden_csrf(page.text), "decision": "overturned", "reason": "job loss documented"},
    )
    assert decided.status_code == 303, decided.text
    view = (await client.get(f"/api/cases/{case}", headers=bearer(tokens, "reviewer"))).json()
    assert view["final_outcome"] == "retain" and view["appeals"][0]["decided_by"] == "supervisor.wang"
