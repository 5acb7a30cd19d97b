"""The console's record requests (issue 22), before the real eligibility app (in process, SQLite, on a
test clock): a reviewer asks finance from the case page's form; finance's operator, logged in to the
console, finds it on its page (and only that page in its menu) and answers it with one fact typed as
¥ text, and the household is decided again on it; civil affairs' operator does not see it and cannot
answer it (an error page saying whom it is addressed to); the bureau lists every department's, by state
and department, with overdue and joint-meeting requests marked as the clock passes their day. Every
page is words: no JSON literal, no code without words, in Chinese no raw code; the 中文 pages say the
new words. The demo accounts file carries departments' operators who log in with a password and hold
only `requests:answer`."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway import console_requests, wording
from gateway.settings import DEMO_USERS_FILE, GatewaySettings
from gateway.tokens import Tokens
from gateway.users import Account, Directory, demo_password
from services.kit.clock import ManualClock
from tests.gateway import behind
from tests.gateway.conftest import ACCOUNTS, bearer
from tests.gateway.test_console import hidden_csrf, log_in
from tests.gateway.test_console_pages import keep, unreadable
from tests.gateway.test_integration import seed
from tests.support.dates import yesterday

REQUEST_ID = re.compile(r'data-request="([0-9a-f-]{36})"')
CLERKS = {
    "clerk.finance": "finance",
    "clerk.civil-affairs": "civil_affairs",
}


clock, tokens, real = behind.clock, behind.tokens, behind.real  # the gateway before eligibility


@pytest.fixture
def directory(password_hash: str) -> Directory:
    """The test accounts, and two departments' operators (a `users:` entry with `department:`)."""
    accounts = [
        Account(a.id, a.role, password_hash, estates=a.estates, department=a.department)
        for a in ACCOUNTS.values()
    ]
    accounts += [Account(c, "department", password_hash, department=d, clerk=True) for c, d in CLERKS.items()]
    return Directory(accounts, allow_demo=False)


async def page(client: httpx.AsyncClient, path: str, lang: str, **params: str) -> str:
    """A console page that must read as words (kept under var/test-artifacts for a reader)."""
    response = await client.get(path, params={**params, "lang": lang})
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    where = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "one", path.strip("/").replace("/", "-"))
    keep(f"requests-{lang}-{where}-{'-'.join(params.values())}", response.text)
    assert not unreadable(response.text, lang), (path, lang, unreadable(response.text, lang))
    return response.text


def rows(html: str, table: str) -> list[str]:
    """The rows of one table of the page, as text without tags."""
    body = re.search(rf'<table class="grid" id="{table}">(.*?)</table>', html, re.S)
    assert body is not None, f"no table {table}"
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", "<tr" + r)).strip() for r in body[1].split("<tr")[2:]]


async def test_a_reviewer_asks_finance_whose_operator_answers_and_civil_affairs_sees_nothing(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = real
    wording.forget_unworded()
    house, case = (await seed(client, tokens))["Chancheng Garden"]

    # the reviewer asks from the case page: departments and records in words, a record the
    # department does not keep refused in words before anything is sent
    await log_in(client, "reviewer.he")
    form = await page(client, f"/console/cases/{case}", "en")
    assert 'id="ask-department-form"' in form and '<option value="finance">Finance</option>' in form
    assert '<optgroup label="Finance" data-department="finance">' in form
    assert '<option value="doubt">The reviewer doubts it</option>' in form
    wrong = await client.post(
        f"/console/cases/{case}/record-requests",
        data={"csrf": hidden_csrf(form), "department": "finance", "kind": "income", "why": "missing"},
    )
    assert wrong.status_code == 422 and "text/html" in wrong.headers["content-type"]
    assert "Finance does not keep that record (Income), only: Financial assets" in wrong.text
    asked = await client.post(
        f"/console/cases/{case}/record-requests",
        data={
            "csrf": hidden_csrf(form),
            "department": "finance",
            "kind": "financial_assets",
            "why": "missing",
            "note": "deposits, October",
        },
    )
    assert asked.status_code == 303 and asked.headers["location"].startswith(f"/console/cases/{case}")
    listed = rows(await page(client, f"/console/cases/{case}", "en"), "case-record-requests")
    assert len(listed) == 1 and listed[0].startswith("Finance Financial assets The record is missing")
    assert "deposits, October" in listed[0] and "reviewer.he" in listed[0]
    assert listed[0].endswith("Awaiting the answer")
    zh = rows(await page(client, f"/console/cases/{case}", "zh"), "case-record-requests")
    assert zh[0].startswith("金融监管部门 金融资产 缺少该记录") and zh[0].endswith("待答复")

    # finance's operator: its page is its start and its only menu item
    await log_in(client, "clerk.finance")
    start = await client.get("/console/dashboard")
    assert start.status_code == 303 and start.headers["location"] == "/console/record-requests"
    own = await page(client, "/console/record-requests", "en")
    assert re.findall(r"<nav>\s*(.*?)\s*</nav>", own, re.S)[0].count("<a ") == 1
    assert 'href="/console/record-requests"' in own and "(Finance" in own
    [row] = rows(own, "record-requests")
    assert row.startswith("Financial assets") and "deposits, October" in row and "Member 1" in row
    assert "Financial assets in total (¥)" in own and "Answer without a record" in own
    request_id = REQUEST_ID.findall(own)[0]
    zh_own = await page(client, "/console/record-requests", "zh")
    assert "部门核查请求" in zh_own and "报送记录作答" in zh_own and "答复无记录" in zh_own
    refused = await client.get("/console/queue", params={"lang": "en"})
    assert refused.status_code == 403 and "read review cases (cases:read)" in refused.text

    # civil affairs' operator neither sees it nor answers it
    await log_in(client, "clerk.civil-affairs")
    civil = await page(client, "/console/record-requests", "en")
    assert request_id not in civil and 'id="no-requests"' in civil
    fact = {"reference": "FIN-77", "described_on": yesterday(), "about": "", "amount": "¥350,000.00"}
    foreign = await client.post(
        f"/console/record-requests/{request_id}/answer", data={"csrf": hidden_csrf(civil), **fact}
    )
    assert foreign.status_code == 403 and "This one is addressed to Finance" in foreign.text
    assert re.search(r"Who may act:</b>\s*An operator of Finance\.", foreign.text)
    foreign_zh = await client.post(
        f"/console/record-requests/{request_id}/answer?lang=zh", data={"csrf": hidden_csrf(civil), **fact}
    )
    assert "该请求发给金融监管部门" in foreign_zh.text and not unreadable(foreign_zh.text, "zh")

    # finance answers with one fact, typed as ¥ text: recorded on the household, decided again
    await log_in(client, "clerk.finance")
    own = (await client.get("/console/record-requests")).text
    answered = await client.post(
        f"/console/record-requests/{request_id}/answer", data={"csrf": hidden_csrf(own), **fact}
    )
    assert answered.status_code == 303, answered.text[:500]
    assert 'id="no-requests"' in await page(client, "/console/record-requests", "en")
    household = (await client.get(f"/api/households/{house}", headers=bearer(tokens, "reviewer"))).json()
    [assets] = [r for r in household["decision"]["rules"] if r["rule"] == "financial_assets"]
    assert assets["status"] == "exit" and assets["sources"][0]["reference"] == "FIN-77"

    await log_in(client, "reviewer.he")
    after = await page(client, f"/console/cases/{case}", "en")
    [done] = rows(after, "case-record-requests")
    assert "Answered" in done and "clerk.finance" in done
    assert "¥350,000.00" in after  # the explanation's observed assets, from the answer
    assert not wording.unworded(), sorted(wording.unworded())


async def test_the_bureau_lists_every_departments_requests_and_marks_the_overdue(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = real
    wording.forget_unworded()
    seeded = await seed(client, tokens)
    (_, case), (_, other) = seeded["Chancheng Garden"], seeded["Nanhai Homes"]
    for on, department, kind in ((case, "finance", "financial_assets"), (other, "civil_affairs", "income")):
        asked = await client.post(
            f"/api/cases/{on}/record-requests",
            json={"department": department, "kind": kind, "why": "stale", "note": "the last record is old"},
            headers=bearer(tokens, "reviewer"),
        )
        assert asked.status_code == 201, asked.text

    await log_in(client, "supervisor.chen")
    every = await page(client, "/console/record-requests", "en")
    departments = sorted(r.split(" Financial")[0].split(" Income")[0] for r in rows(every, "record-requests"))
    assert departments == ["Civil affairs", "Finance"]  # asked at the same instant: no order between them
    assert "answer-form" not in every and "decline-form" not in every  # the bureau reads, only
    civil = await page(client, "/console/record-requests", "en", department="civil_affairs")
    assert [r.split(" ")[0] for r in rows(civil, "record-requests")] == ["Civil"]
    assert 'href="/console/cases/' in civil and "Nanhai Homes" in civil
    monkeypatch.setattr(console_requests, "PAGE", 1)  # a page at a time, the filters kept
    first = await page(client, "/console/record-requests", "en", state="all")
    following = re.search(r'href="([^"]+)" id="next-page"', first)
    assert following is not None and "state=all" in html.unescape(following[1])
    second = await client.get(f"{html.unescape(following[1])}&lang=en")
    assert second.status_code == 200 and 'id="first-page"' in second.text
    paged = rows(first, "record-requests") + rows(second.text, "record-requests")
    assert sorted(r.split(" ")[0] for r in paged) == ["Civil", "Finance"]
    monkeypatch.undo()
    zh = await page(client, "/console/record-requests", "zh")
    assert "民政部门" in zh and "记录已过期" in zh and "提交部门联席会议" in zh  # the filter's words
    nothing = await page(client, "/console/record-requests", "en", state="overdue")
    assert 'id="no-requests"' in nothing

    clock.advance(days=16)  # past the 15 days finance and civil affairs have to answer
    await log_in(client, "supervisor.chen")
    overdue = await page(client, "/console/record-requests", "en", state="overdue")
    assert len(rows(overdue, "record-requests")) == 2 and overdue.count(">Overdue</span>") == 2
    assert 'id="no-requests"' in await page(client, "/console/record-requests", "en", state="joint_meeting")
    escalated = await page(client, f"/console/cases/{other}", "en")
    assert "Record request unanswered past its day (Civil affairs)" in escalated
    await page(client, f"/console/cases/{other}", "zh")

    clock.advance(days=16)  # past a second period: the departments' joint meeting
    await log_in(client, "supervisor.chen")
    meeting = await page(client, "/console/record-requests", "en", state="joint_meeting")
    assert len(rows(meeting, "record-requests")) == 2 and ">For the joint meeting</span>" in meeting
    assert "(Civil affairs, For the joint meeting)" in await page(client, f"/console/cases/{other}", "en")

    await log_in(client, "clerk.civil-affairs")
    own = await page(client, "/console/record-requests", "en")
    assert ">Overdue</span>" in own
    request_id = REQUEST_ID.findall(own)[0]
    declined = await client.post(
        f"/console/record-requests/{request_id}/decline",
        data={"csrf": hidden_csrf(own), "outcome": "cannot_verify", "reason": "two records disagree"},
    )
    assert declined.status_code == 303, declined.text[:500]
    await log_in(client, "supervisor.chen")
    closed = rows(await page(client, "/console/record-requests", "en", state="closed"), "record-requests")
    assert len(closed) == 1 and "Cannot verify" in closed[0] and "two records disagree" in closed[0]
    assert "clerk.civil-affairs" in closed[0]
    assert "无法核实" in await page(client, "/console/record-requests", "zh", state="closed")
    assert not wording.unworded(), sorted(wording.unworded())


def test_departments_operators_log_in_with_a_password_and_only_answer_requests(tmp_path: Path) -> None:
    directory = Directory.load(DEMO_USERS_FILE, allow_demo=True)
    tokens = Tokens(GatewaySettings(var_dir=tmp_path), Ed25519PrivateKey.generate())
    for account_id, department in CLERKS.items():
        clerk = directory.accounts[account_id]
        assert (clerk.role, clerk.department, clerk.demo, clerk.client) == (
            "department",
            department,
            True,
            False,
        )
        assert directory.authenticate(account_id, demo_password(account_id), client=False) == clerk
        assert directory.authenticate(account_id, demo_password(account_id), client=True) is None
        principal = tokens.verify(tokens.issue(clerk)["access_token"])
        assert principal.scopes == {"requests:answer"} and principal.department == department
    system = directory.accounts["dept.finance"]
    assert (
        system.client
        and directory.authenticate("dept.finance", demo_password("dept.finance"), client=False) is None
    )
    assert "facts:write" in tokens.verify(tokens.issue(system)["access_token"]).scopes
    assert "clerk.finance" not in {a.id for a in directory.operators()}  # no estates to assign


async def test_a_departments_operator_pushes_no_facts(real: httpx.AsyncClient, tokens: Tokens) -> None:
    clerk = Account("clerk.finance", "department", "", department="finance", clerk=True)
    headers = {"authorization": f"Bearer {tokens.issue(clerk)['access_token']}"}
    fact = {
        "department": "finance",
        "reference": "FIN-1",
        "described_on": yesterday(),
        "household_id": "00000000-0000-0000-0000-000000000001",
        "fact": {"kind": "financial_assets", "amount": "1.00"},
    }
    pushed = await real.post("/api/facts", json=[fact], headers=headers)
    assert pushed.status_code == 403, pushed.text
    listed = await real.get("/api/department-requests", headers=headers)
    assert listed.status_code == 200 and listed.json()["items"] == []
