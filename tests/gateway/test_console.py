"""The console's session and CSRF defences, and every page rendering, against fake services."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from gateway.tokens import Tokens
from tests.gateway.conftest import ACCOUNTS, PASSWORD, GatewayFactory
from tests.gateway.fakes import (
    APPEAL_IN,
    CASE_IN,
    COURSE_IN,
    HOUSE_IN,
    HOUSE_SUBSIDY,
    INCOME,
    MEMBER_OUT,
    RCASE_IN,
    REFERRAL_IN,
    SANCTION_IN,
    TRACE,
    WARN_IN,
    Fakes,
)


def hidden_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def log_in(
    client: httpx.AsyncClient, account: str, next_page: str = "/console/dashboard"
) -> httpx.Response:
    form = await client.get("/login", params={"next": next_page})
    return await client.post(
        "/login",
        data={"username": account, "password": PASSWORD, "csrf": hidden_csrf(form.text), "next": next_page},
    )


async def test_login_sets_a_strict_httponly_session_and_refuses_forged_forms(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        anonymous = await client.get("/console/queue")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/console/queue"
        form = await client.get("/login")
        assert "httponly" in form.headers["set-cookie"].lower()
        assert "samesite=strict" in form.headers["set-cookie"].lower()
        forged = await client.post(
            "/login", data={"username": "reviewer.li", "password": PASSWORD, "csrf": "guess"}
        )
        cross_site = await client.post(
            "/login",
            data={"username": "reviewer.li", "password": PASSWORD, "csrf": hidden_csrf(form.text)},
            headers={"origin": "https://evil.example"},
        )
        wrong = await client.post(
            "/login", data={"username": "reviewer.li", "password": "nope", "csrf": hidden_csrf(form.text)}
        )
        assert forged.status_code == 403 and "hx_session" not in forged.headers.get("set-cookie", "")
        assert cross_site.status_code == 403 and "hx_session" not in cross_site.headers.get("set-cookie", "")
        assert wrong.status_code == 401 and "login-error" in wrong.text
        ok = await log_in(client, "reviewer.li", "https://evil.example/x")
        assert ok.status_code == 303 and ok.headers["location"] == "/console/dashboard"  # no open redirect
        cookie = ok.headers["set-cookie"].lower()
        assert cookie.startswith("hx_session=") and "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" not in cookie  # plain HTTP on the local stack; COOKIE_SECURE=true behind HTTPS
        queue = await client.get("/console/queue")
        assert (
            queue.status_code == 200 and "Chancheng Garden" in queue.text and "Nanhai Homes" not in queue.text
        )
        # the API never takes the cookie: no CSRF surface there
        assert (await client.get("/api/me")).status_code == 401


async def test_secure_cookies_behind_https(gateway: GatewayFactory) -> None:
    async with gateway(cookie_secure=True) as client:
        client.base_url = httpx.URL("https://gateway")  # Secure cookies travel over HTTPS only
        ok = await log_in(client, "reviewer.li")
    assert "secure" in ok.headers["set-cookie"].lower()
    assert ok.headers["strict-transport-security"].startswith("max-age=")


async def test_console_forms_need_the_session_bound_csrf_token(gateway: GatewayFactory, fakes: Fakes) -> None:
    async with gateway() as client:
        await log_in(client, "supervisor.chen")
        page = await client.get(f"/console/cases/{CASE_IN}")
        token = hidden_csrf(page.text)
        missing = await client.post(f"/console/cases/{CASE_IN}/approval", data={"reason": "ok"})
        cross_site = await client.post(
            f"/console/cases/{CASE_IN}/approval",
            data={"reason": "ok", "csrf": token},
            headers={"origin": "https://evil.example"},
        )
        assert missing.status_code == 403 and cross_site.status_code == 403
        assert not [c for c in fakes.writes() if c.path.endswith("/approval")]
        done = await client.post(f"/console/cases/{CASE_IN}/approval", data={"reason": "ok", "csrf": token})
        assert done.status_code == 303 and done.headers["location"] == f"/console/cases/{CASE_IN}"
        # another session's token is worth nothing
        await log_in(client, "supervisor.wang")
        stale = await client.post(f"/console/cases/{CASE_IN}/approval", data={"reason": "ok", "csrf": token})
        assert stale.status_code == 403
        session = client.cookies["hx_session"]
        logged_out = await client.post(
            "/logout", data={"csrf": hidden_csrf((await client.get("/console/queue")).text)}
        )
        assert logged_out.status_code == 303
        # the session's token is dead even where someone kept a copy of the cookie
        client.cookies.set("hx_session", session)
        assert (await client.get("/console/queue")).status_code == 303
    approvals = [c for c in fakes.writes() if c.path.endswith("/approval")]
    assert [c.caller and c.caller.subject for c in approvals] == ["supervisor.chen"]


async def test_every_page_renders_and_a_missing_service_is_named(
    gateway: GatewayFactory, fakes: Fakes, tokens: Tokens
) -> None:
    fakes.down.add("penalties")
    async with gateway(tracing_ui_url="https://jaeger.bureau/trace/{trace_id}") as client:
        await log_in(client, "auditor.sun")
        for path in (
            "/console/dashboard",
            "/console/queue",
            f"/console/cases/{CASE_IN}",
            "/console/warnings",
            "/console/sanctions",
            "/console/pools",
            "/console/training",
            "/console/federation",
            "/console/parameters",
        ):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            assert INCOME not in response.text, path  # an auditor never sees amounts
        household = await client.get(f"/console/households/{HOUSE_IN}", params={"lang": "en"})
        assert f'href="https://jaeger.bureau/trace/{TRACE}"' in household.text
        assert INCOME not in household.text and 'id="facts"' in household.text
        assert "Rent and sanctions: unavailable" in household.text
        sanctions = await client.get("/console/sanctions")  # in English: the cookie remembers
        assert "502 Service unavailable · Rent and sanctions" in sanctions.text
        zh = await client.get("/console/sanctions", params={"lang": "zh"})
        assert "服务暂不可用 · 租金与处罚" in zh.text
        dashboard = await client.get("/console/dashboard", params={"lang": "en"})
        assert "<h1>Dashboard</h1>" in dashboard.text and "hx_lang=en" in dashboard.headers["set-cookie"]
        assert dashboard.text.count("<svg") >= 3
        assert "<h1>Dashboard</h1>" in (await client.get("/console/dashboard")).text  # remembered
        page = await client.get("/console/parameters")
        what_if = await client.post(
            "/console/parameters/what-if",
            data={
                "csrf": hidden_csrf(page.text),
                "rule": "income_per_capita",
                "region": "CN-FS",
                "value": "3800",
                "on": "2026-11-27",
            },
        )
        assert what_if.status_code == 200 and 'id="what-if-result"' in what_if.text
    assert ACCOUNTS["auditor"].id == "auditor.sun"


async def test_a_page_outside_the_role_is_an_error_page_not_data(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        await log_in(client, "inspector.zhao")
        queue = await client.get("/console/queue")
        federation = await client.get("/console/federation")
    assert queue.status_code == 403 and "cases:read" in queue.text and CASE_IN not in queue.text
    assert "审核员、审批主管、审计员、系统管理员" in queue.text  # who may read cases
    assert federation.status_code == 200 and "403 无权操作" in federation.text


async def test_an_inspector_takes_a_warning_as_herself(gateway: GatewayFactory, fakes: Fakes) -> None:
    async with gateway() as client:
        await log_in(client, "inspector.zhao")
        board = await client.get("/console/warnings")
        assert board.status_code == 200 and f"/console/warnings/{WARN_IN}/assign" in board.text
        taken = await client.post(
            f"/console/warnings/{WARN_IN}/assign", data={"csrf": hidden_csrf(board.text), "inspector_id": "x"}
        )
    assert taken.status_code == 303
    (call,) = [c for c in fakes.writes() if c.path.endswith("/assign")]
    assert json.loads(call.body) == {"inspector_id": "inspector.zhao"}


async def test_a_supervisor_adds_a_dated_value_an_auditor_cannot(
    gateway: GatewayFactory, fakes: Fakes
) -> None:
    value = {
        "rule": "income_per_capita",
        "region": "CN-FS",
        "effective_from": "2027-01-01",
        "value": "4100.00",
    }
    async with gateway() as client:
        await log_in(client, "auditor.sun")
        page = await client.get("/console/parameters")
        assert 'id="add-value-form"' not in page.text
        refused = await client.post(
            "/console/parameters/values",
            data={**value, "legal_reference": "x", "csrf": hidden_csrf(page.text)},
        )
        assert refused.status_code == 403
        await log_in(client, "supervisor.chen")
        page = await client.get("/console/parameters")
        assert 'id="add-value-form"' in page.text
        added = await client.post(
            "/console/parameters/values",
            data={**value, "legal_reference": "Foshan notice 2026/12", "csrf": hidden_csrf(page.text)},
        )
    assert added.status_code == 303
    (call,) = [c for c in fakes.writes() if c.path == "/parameters/income_per_capita/values"]
    assert call.caller is not None and call.caller.subject == "supervisor.chen"
    assert json.loads(call.body)["legal_reference"] == "Foshan notice 2026/12"


async def test_each_console_action_posts_its_step_with_the_session_token(
    gateway: GatewayFactory, fakes: Fakes
) -> None:
    """One form per new action (sanctions, appeals, exit, resettlement, training): refused without the
    session's CSRF token (nothing forwarded), done with it as the logged-in supervisor."""
    # (page with the form, form action, form fields, path the service gets, JSON body it gets)
    forms: list[tuple[str, str, dict[str, Any], str, dict[str, Any] | None]] = [
        (
            "/console/sanctions",
            "/console/sanctions/impose",
            {"household_id": HOUSE_IN, "kind": "credit_list", "violation": "sublet", "basis_id": WARN_IN},
            f"/households/{HOUSE_IN}/sanctions",
            {"kind": "credit_list", "violation": "sublet", "basis_id": WARN_IN, "note": ""},
        ),
        (
            "/console/sanctions",
            f"/console/sanctions/{SANCTION_IN}/lift",
            {"reason": "moved back in", "on": ""},
            f"/sanctions/{SANCTION_IN}/lift",
            {"reason": "moved back in"},
        ),
        (
            "/console/sanctions",
            f"/console/sanctions/{SANCTION_IN}/withdraw",
            {"reason": "imposed in error"},
            f"/sanctions/{SANCTION_IN}/withdraw",
            {"reason": "imposed in error"},
        ),
        (
            "/console/sanctions",
            f"/console/appeals/{APPEAL_IN}/resolve",
            {"outcome": "dismissed", "note": "the flat was sublet"},
            f"/appeals/{APPEAL_IN}/resolve",
            {"outcome": "dismissed", "note": "the flat was sublet"},
        ),
        (
            f"/console/households/{HOUSE_IN}",
            f"/console/households/{HOUSE_IN}/voluntary-exit",
            {"on": ""},
            f"/households/{HOUSE_IN}/voluntary-exit",
            {},
        ),
        (
            f"/console/households/{HOUSE_IN}",
            f"/console/households/{HOUSE_IN}/keys-returned",
            {"on": "2027-06-30"},
            f"/households/{HOUSE_IN}/keys-returned",
            {"on": "2027-06-30"},
        ),
        (
            "/console/pools",
            f"/console/resettlement-cases/{RCASE_IN}/accept",
            {},
            f"/cases/{RCASE_IN}/accept",
            None,
        ),
        (
            "/console/pools",
            f"/console/resettlement-cases/{RCASE_IN}/decline",
            {"reason": "too far from school"},
            f"/cases/{RCASE_IN}/decline",
            {"reason": "too far from school"},
        ),
        (
            "/console/pools",
            f"/console/resettlement-cases/{RCASE_IN}/move-in",
            {},
            f"/cases/{RCASE_IN}/move-in",
            None,
        ),
        (
            "/console/training",
            f"/console/referrals/{REFERRAL_IN}/enrol",
            {"course_id": COURSE_IN},
            f"/courses/{COURSE_IN}/enrolments",
            {"referral_id": REFERRAL_IN},
        ),
        (
            "/console/training",
            f"/console/courses/{COURSE_IN}/attendance",
            {"session": "1", "attendees": [MEMBER_OUT]},
            f"/courses/{COURSE_IN}/sessions/1/attendance",
            {"attendees": [MEMBER_OUT]},
        ),
    ]
    async with gateway() as client:
        await log_in(client, "supervisor.chen")
        pages = {page: (await client.get(page)).text for page in {f[0] for f in forms}}
        for page, action, *_ in forms:
            form_action = action.replace(
                f"/console/resettlement-cases/{RCASE_IN}/move-in", ""
            )  # shown once accepted
            assert not form_action or f'action="{form_action}"' in pages[page], (page, action)
        for _, action, data, *_ in forms:
            missing = await client.post(action, data=data)
            forged = await client.post(
                action,
                data={**data, "csrf": hidden_csrf(pages["/console/pools"])},
                headers={"origin": "https://evil.example"},
            )
            assert missing.status_code == 403 and forged.status_code == 403, action
        assert not fakes.writes()
        for page, action, data, _, _ in forms:
            done = await client.post(action, data={**data, "csrf": hidden_csrf(pages[page])})
            assert done.status_code == 303 and done.headers["location"] == page, (action, done.text[:300])
        bad = await client.post(
            f"/console/courses/{COURSE_IN}/attendance",
            data={"session": "0", "csrf": hidden_csrf(pages["/console/training"])},
        )
        assert bad.status_code == 422
    writes = fakes.writes()
    assert [c.path for c in writes] == [f[3] for f in forms]
    for call, (*_, body) in zip(writes, forms, strict=True):
        assert call.caller is not None and call.caller.subject == "supervisor.chen"
        assert (json.loads(call.body) if call.body else None) == body, call.path


async def test_no_action_forms_for_a_reader_and_her_posts_are_refused(
    gateway: GatewayFactory, fakes: Fakes
) -> None:
    async with gateway() as client:
        await log_in(client, "auditor.sun")
        pages = [await client.get(p) for p in ("/console/sanctions", "/console/pools", "/console/training")]
        household = await client.get(f"/console/households/{HOUSE_IN}")
        for page in (*pages, household):
            assert page.status_code == 200 and "/console/" in page.text
            assert not any(
                f'action="{a}' in page.text
                for a in (
                    "/console/sanctions/",
                    "/console/appeals/",
                    "/console/resettlement-cases/",
                    "/console/referrals/",
                    "/console/courses/",
                    f"/console/households/{HOUSE_IN}/",
                )
            )
        refused = await client.post(
            f"/console/sanctions/{SANCTION_IN}/lift", data={"csrf": hidden_csrf(pages[0].text)}
        )
    assert refused.status_code == 403 and "sanctions:write" in refused.text
    assert not fakes.writes()


async def test_a_household_on_a_rent_subsidy_shows_as_such_not_as_an_empty_unit(
    gateway: GatewayFactory,
) -> None:
    async with gateway() as client:
        await log_in(client, "supervisor.chen")
        page = await client.get(f"/console/households/{HOUSE_SUBSIDY}", params={"lang": "en"})
        assert page.status_code == 200, page.text[:300]
        assert 'id="rent-subsidy">On a rent subsidy (no subsidised unit)' in page.text
        assert "None" not in page.text
        housed = await client.get(f"/console/households/{HOUSE_IN}")
        assert 'id="rent-subsidy"' not in housed.text and "1204" in housed.text
