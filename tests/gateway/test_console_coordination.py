"""The console's coordination register and the dashboard's departments (issue 22), before the real
eligibility app (in process, SQLite, on a test clock): a supervisor raises a cross-department problem
through the page's form (a form without a department refused in words), a reviewer adds the joint
meeting's note dated by the form's default (the test clock's day), and may not assign; the supervisor
assigns a lead and an owner and resolves it; an auditor reads the register without a form and is
refused a step on an error page; the dashboard counts what happened from eligibility's figures (record
requests asked and answered, problems raised and solved, meetings held) beside the paper's, per month.
Every page is words in English and 中文."""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway import console_coordination, wording
from gateway.tokens import Tokens
from services.kit.clock import ManualClock, local_today
from tests.gateway import behind
from tests.gateway.conftest import bearer
from tests.gateway.test_console import hidden_csrf, log_in
from tests.gateway.test_console_pages import unreadable
from tests.gateway.test_console_requests import rows as tagged_rows
from tests.gateway.test_department_requests import system
from tests.gateway.test_integration import seed
from tests.support.dates import month_words

clock, tokens, real = behind.clock, behind.tokens, behind.real  # the gateway before eligibility

PROBLEM_ID = re.compile(r'data-problem="([0-9a-f-]{36})"')
STEP_FORMS = ("raise-problem-form", "assign-form", "discussion-form", "resolution-form")


async def page(client: httpx.AsyncClient, path: str, lang: str, **params: str) -> str:
    """A console page that must read as words, in `lang`."""
    response = await client.get(path, params={**params, "lang": lang})
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    assert not unreadable(response.text, lang), (path, lang, unreadable(response.text, lang))
    return response.text


def rows(page_html: str, table: str) -> list[str]:
    """The rows of one table of the page, as the text a reader sees."""
    return [html.unescape(r) for r in tagged_rows(page_html, table)]


def tile(page_html: str, key: str) -> str:
    found = re.search(rf'id="tile-{key}"><div class="n">([^<]*)</div>', page_html)
    assert found is not None, f"no tile {key}"
    return found[1].strip()


async def ask_and_answer(client: httpx.AsyncClient, tokens: Tokens, clock: ManualClock) -> str:
    """Two record requests through the API: finance answers its own as a department system; civil
    affairs' stays open (its id is returned, for a problem to name)."""
    seeded = await seed(client, tokens)
    (_, case), (_, other) = seeded["Chancheng Garden"], seeded["Nanhai Homes"]
    reviewer = bearer(tokens, "reviewer")
    ask = {"department": "finance", "kind": "financial_assets", "why": "missing", "note": "deposits"}
    asked = await client.post(f"/api/cases/{case}/record-requests", json=ask, headers=reviewer)
    assert asked.status_code == 201, asked.text
    civil = {**ask, "department": "civil_affairs", "kind": "income", "note": "incomes disagree"}
    kept = await client.post(f"/api/cases/{other}/record-requests", json=civil, headers=reviewer)
    assert kept.status_code == 201, kept.text
    finance = system(tokens, "dept.finance", "finance")
    [item] = (await client.get("/api/department-requests", headers=finance)).json()["items"]
    fact = {
        "department": "finance",
        "reference": "FIN-9",
        "described_on": (clock() - timedelta(days=1)).date().isoformat(),
        "person_hash": item["persons"][0],
        "fact": {"kind": "financial_assets", "amount": "1000.00"},
    }
    path = f"/api/department-requests/{item['request_id']}/answer"
    answered = await client.post(path, json={"facts": [fact]}, headers=finance)
    assert answered.status_code == 200, answered.text
    return str(kept.json()["request_id"])


def forms(page_html: str) -> set[str]:
    """The register's step forms on the page."""
    return {f for f in STEP_FORMS if f in page_html}


async def test_a_problem_raised_discussed_assigned_and_resolved_through_the_console(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock
) -> None:
    client = real
    wording.forget_unworded()
    related = await ask_and_answer(client, tokens, clock)
    today = local_today(ZoneInfo("Asia/Shanghai"), clock)

    # the supervisor raises it: departments ticked, a related record request's number typed
    await log_in(client, "supervisor.chen")
    empty = await page(client, "/console/coordination", "en")
    assert 'id="no-problems"' in empty and forms(empty) == {"raise-problem-form"}
    assert '<input type="checkbox" name="departments" value="human_resources"> Human resources' in empty
    raised = {
        "csrf": hidden_csrf(empty),
        "title": "Incomes never agree",
        "description": "Civil affairs and human resources give two incomes for the same month",
        "kind": "data_conflict",
        "record_requests": related,
    }
    none_ticked = await client.post("/console/coordination", data=raised)
    assert none_ticked.status_code == 422 and "text/html" in none_ticked.headers["content-type"]
    assert "departments involved: tick at least one" in none_ticked.text
    no_title = await client.post(
        "/console/coordination?lang=zh", data={**raised, "title": " ", "departments": "tax"}
    )
    assert no_title.status_code == 422 and "问题：请填写" in no_title.text
    sent = await client.post(
        "/console/coordination", data={**raised, "departments": ["civil_affairs", "human_resources"]}
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/console/coordination"
    listed = await page(client, "/console/coordination", "en")
    [row] = rows(listed, "problems")
    assert row.startswith("Incomes never agree Civil affairs and human resources give two incomes")
    assert "Departments' records conflict Civil affairs, Human resources Not assigned yet" in row
    assert f"Related record requests: {related[:8]}" in row and "supervisor.chen" in row
    assert forms(listed) == set(STEP_FORMS)
    problem = PROBLEM_ID.findall(listed)[0]
    zh = await page(client, "/console/coordination", "zh")
    assert "部门数据相互矛盾" in zh and "民政部门、人力资源部门" in zh and "尚未指定" in zh and "待解决" in zh

    # a reviewer adds the meeting's note, dated by the form's default: the day, by the clock
    await log_in(client, "reviewer.he")
    reviewing = await page(client, "/console/coordination", "en")
    assert forms(reviewing) == {"discussion-form"}
    default = re.search(r'name="meeting_on" value="([0-9-]{10})"', reviewing)
    assert default is not None and default[1] == today.isoformat()
    note = {
        "csrf": hidden_csrf(reviewing),
        "note": "both compare October's incomes",
        "meeting_on": default[1],
    }
    discussed = await client.post(f"/console/coordination/{problem}/discussion", data=note)
    assert discussed.status_code == 303, discussed.text[:500]
    assign = {"csrf": hidden_csrf(reviewing), "department": "human_resources", "owner": "reviewer.he"}
    refused = await client.post(f"/console/coordination/{problem}/assignment", data=assign)
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert "approve or send back a proposal (cases:approve)" in refused.text

    # the supervisor assigns and resolves it; it leaves the open list for the resolved one
    await log_in(client, "supervisor.chen")
    before = await page(client, "/console/coordination", "en")
    assigned = await client.post(
        f"/console/coordination/{problem}/assignment",
        data={**assign, "csrf": hidden_csrf(before), "owner": "supervisor.wang"},
    )
    assert assigned.status_code == 303, assigned.text[:500]
    [row] = rows(await page(client, "/console/coordination", "en"), "problems")
    assert "Human resources supervisor.wang" in row
    assert f"{today.day} {today:%b} {today.year} both compare October's incomes reviewer.he" in row
    resolution = {"csrf": hidden_csrf(before), "resolution": "human resources' figures count from November"}
    resolved = await client.post(f"/console/coordination/{problem}/resolution", data=resolution)
    assert resolved.status_code == 303 and "state=resolved" in resolved.headers["location"]
    again = await client.post(f"/console/coordination/{problem}/resolution", data=resolution)
    assert again.status_code == 409 and "text/html" in again.headers["content-type"]
    assert 'id="no-problems"' in await page(client, "/console/coordination", "en")
    done = await page(client, "/console/coordination", "en", state="resolved")
    [row] = rows(done, "problems")
    resolved_on = f"{today.day} {today:%b} {today.year}"
    assert row.endswith(
        f"Resolved human resources' figures count from November {resolved_on} · supervisor.chen · 0 days —"
    )
    assert not forms(done) - {"raise-problem-form"}  # nothing left to do on a resolved problem
    done_zh = await page(client, "/console/coordination", "zh", state="resolved")
    assert (
        "已解决" in done_zh
        and "人力资源部门" in done_zh
        and f"{today.year}年{today.month}月{today.day}日" in done_zh
    )

    # an auditor reads the register, and takes no step
    await log_in(client, "auditor.sun")
    audited = await page(client, "/console/coordination", "en", state="all")
    assert problem in audited and not forms(audited) and 'href="/console/coordination"' in audited
    await page(client, "/console/coordination", "zh", state="all")
    nosy = await client.post(
        f"/console/coordination/{problem}/discussion", data={**note, "csrf": hidden_csrf(audited)}
    )
    assert nosy.status_code == 403 and "提出复核意见" in nosy.text  # in 中文, the page's last language
    assert '<a href="/console/coordination">返回</a>' in nosy.text and not unreadable(nosy.text, "zh")

    # the dashboard: eligibility's counts, the paper's beside them, a row for the month
    await log_in(client, "supervisor.chen")
    board = await page(client, "/console/dashboard", "en")
    shown = {k: tile(board, k) for k in ("requests_asked", "requests_answered", "requests_open")}
    assert shown == {"requests_asked": "2", "requests_answered": "1", "requests_open": "1"}
    assert tile(board, "median_days_to_answer") == "0 days"
    counted = {
        k: tile(board, k) for k in ("problems_raised", "problems_solved", "problems_open", "joint_meetings")
    }
    assert counted == {
        "problems_raised": "1",
        "problems_solved": "1",
        "problems_open": "0",
        "joint_meetings": "1",
    }
    assert tile(board, "median_days_to_solve") == "0 days"
    assert "The paper: 24 monthly joint meetings, 36 cross-department problems solved." in board
    zh_month, en_month = month_words(today)
    [month] = rows(board, "departments-by-month")[1:]  # the second header row, then the month's
    assert month == f"{en_month} 2 1 0 1 0 0 days 1 1 0 0 days"
    board_zh = await page(client, "/console/dashboard", "zh")
    assert "论文数据：每月召开部门联席会议，共24次；解决跨部门问题36个。" in board_zh
    assert zh_month in board_zh and "已召开的部门联席会议" in board_zh
    assert not wording.unworded(), sorted(wording.unworded())


async def test_the_register_pages_with_its_filter_kept(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = real
    for title in ("Tax records arrive late", "Public security does not answer"):
        problem = {"title": title, "description": "since spring", "kind": "no_answer", "departments": ["tax"]}
        raised = await client.post(
            "/api/coordination-problems", json=problem, headers=bearer(tokens, "supervisor")
        )
        assert raised.status_code == 201, raised.text
        clock.advance(seconds=1)  # raised one after the other: the list's order
    await log_in(client, "reviewer.he")
    monkeypatch.setattr(console_coordination, "PAGE", 1)
    first = await page(client, "/console/coordination", "en", state="all")
    following = re.search(r'href="([^"]+)" id="next-page"', first)
    assert following is not None and "state=all" in html.unescape(following[1])
    second = await client.get(f"{html.unescape(following[1])}&lang=en")
    assert second.status_code == 200 and 'id="first-page"' in second.text
    titles = [r.split(" since")[0] for r in rows(first, "problems") + rows(second.text, "problems")]
    assert titles == ["Tax records arrive late", "Public security does not answer"]
    assert "A department does not answer" in first and "Tax" in first
