"""The console in headless Chromium (Debian's package, driven by Playwright with `executable_path`; no
browser download) against the real thing: a nats-server, eligibility and the gateway as processes, the
demo accounts of infra/gateway/users.yaml. A department pushes a fact through the gateway, a reviewer
scoped to Chancheng logs in, sees only her estates' cases, reads the explanation (in words, amounts as
¥4,200.00) and records findings; a supervisor proposes on another case and is offered no approval of
her own proposal (a forced one ends on a page naming the four-eyes rule), then approves the reviewer's
(four eyes); the household's timeline shows both with links to the configured tracing UI; the dashboard
draws its charts, in Chinese and English; the language switch works on a form's answer. No page shows
a JSON literal. Screenshots: var/test-artifacts/gateway-console/ (or $TEST_ARTIFACTS_DIR)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.users import demo_password
from services.kit.bus import connect, ensure_streams
from tests.conftest import REPO, free_port
from tests.support.dates import yesterday
from tests.support.nats import NatsServer
from tests.support.processes import ServiceProcess

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "var" / "test-artifacts")) / "gateway-console"
TRACING_UI = "http://jaeger.test/trace/"
JSON_LITERAL = re.compile(r'\{\s*"|"\s*:\s|\[\s*\{|\[\s*"')
"""An object or array literal in what the reader sees."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def apt_install(*packages: str) -> None:
    """Install Debian packages or fail the test loudly (never skip)."""
    if shutil.which("apt-get") is None:
        pytest.fail(f"{' '.join(packages)} missing and apt-get is not available to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            output = f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            pytest.fail(f"`{' '.join(command)}` failed ({done.returncode}):\n{output}")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium (and a CJK font, or the Chinese labels are empty boxes in screenshots)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append("chromium")
    fonts = (
        subprocess.run(["fc-list"], capture_output=True, text=True).stdout if shutil.which("fc-list") else ""
    )
    if "WenQuanYi" not in fonts and "wqy" not in fonts.lower():
        missing.append("fonts-wqy-microhei")
    if missing:
        apt_install(*missing)
    if not CHROMIUM.exists():
        pytest.fail("chromium is still missing after installing it")
    return CHROMIUM


@pytest.fixture
def stack(nats_server: NatsServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """eligibility and the gateway as processes, as `make run` starts them."""

    async def streams() -> None:
        nc = await connect(nats_server.url, "test", identity="admin")
        await ensure_streams(nc.jetstream())
        await nc.close()

    asyncio.run(streams())
    eligibility = ServiceProcess(
        "services.eligibility",
        [],
        {
            "NATS_URL": nats_server.url,
            "HTTP_PORT": str(free_port()),
            "VAR_DIR": str(tmp_path),
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "eligibility.sqlite"),
        },
        tmp_path / "eligibility.log",
    )
    gateway = ServiceProcess(
        "gateway",
        [],
        {
            "NATS_URL": nats_server.url,
            "HTTP_PORT": str(free_port()),
            "VAR_DIR": str(tmp_path),
            "SERVICES": json.dumps({"eligibility": f"http://127.0.0.1:{eligibility.port}"}),
            "TRACING_UI_URL": TRACING_UI,  # a base: the trace id is appended
        },
        tmp_path / "gateway.log",
    )
    eligibility.start().wait_ready()
    try:
        gateway.start().wait_ready()
        try:
            yield {
                "eligibility": f"http://127.0.0.1:{eligibility.port}",
                "gateway": f"http://127.0.0.1:{gateway.port}",
            }
        finally:
            gateway.stop()
    finally:
        eligibility.stop()
    for process in (eligibility, gateway):
        assert "440604198507151234" not in process.log.read_text()


def token(client: httpx.Client, **form: str) -> dict[str, str]:
    response = client.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def seed(gateway: str) -> dict[str, Any]:
    """Two households (Chancheng, Nanhai) registered by the admin and reported on by civil affairs,
    all through the gateway; both fail the income rule, so both get a review case."""
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as client:
        admin = token(
            client, grant_type="password", username="admin.qian", password=demo_password("admin.qian")
        )
        department = token(
            client,
            grant_type="client_credentials",
            client_id="dept.civil-affairs",
            client_secret=demo_password("dept.civil-affairs"),
        )
        households = {}
        for estate, id_number in (
            ("Chancheng Garden", "440604198507151234"),
            ("Nanhai Homes", "440605199001011238"),
        ):
            body = {
                "region": "CN-FS",
                "estate": estate,
                "building": "3",
                "unit": "1204",
                "base_rent": "680.00",
                "tenancy_start": "2019-05-01",
                "members": [{"id_number": id_number, "birth_date": "1985-07-15"}],
            }
            registered = client.post("/api/households", json=body, headers=admin)
            assert registered.status_code == 201, registered.text
            households[estate] = registered.json()["household_id"]
        facts = [
            {
                "department": "civil_affairs",
                "reference": f"MZ-{n}",
                "described_on": yesterday(),
                "household_id": household,
                "fact": {"kind": "income", "monthly_income": "4200.00"},
            }
            for n, household in enumerate(households.values())
        ]
        pushed = client.post("/api/facts", json=facts, headers=department)
        assert pushed.status_code == 200 and pushed.json()["recorded"] == 2, pushed.text
        # the same client cannot speak for the finance bureau
        finance = [
            {**facts[0], "department": "finance", "fact": {"kind": "financial_assets", "amount": "1.00"}}
        ]
        assert client.post("/api/facts", json=finance, headers=department).status_code == 403
        cases = {
            estate: client.get(f"/api/households/{household}", headers=admin).json()["open_case"]
            for estate, household in households.items()
        }
    assert all(cases.values())
    return {"households": households, "cases": cases}


def test_console_four_eyes_review_timeline_and_dashboard(chromium: Path, stack: dict[str, str]) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    data = seed(stack["gateway"])
    chancheng_case = data["cases"]["Chancheng Garden"]
    nanhai_case = data["cases"]["Nanhai Homes"]
    household = data["households"]["Chancheng Garden"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = stack["gateway"]

    def shot(page: Page, name: str) -> None:
        assert not JSON_LITERAL.search(page.inner_text("main")), f"{name}: JSON on the page"
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def log_in(page: Page, account: str, target: str) -> None:
        page.goto(base + target)
        expect(page).to_have_url(f"{base}/login?next={target}")
        page.fill("#username", account)
        page.fill("#password", demo_password(account))
        page.click("#login-submit")
        expect(page).to_have_url(base + target)
        expect(page.locator("#signed-in")).to_contain_text(account)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda dialog: dialog.accept())

            # a wrong password is refused on the login page itself
            page.goto(base + "/login")
            page.fill("#username", "reviewer.li")
            page.fill("#password", "wrong")
            page.click("#login-submit")
            expect(page.locator("#login-error")).to_be_visible()

            # reviewer.li (Chancheng district) sees her estate's case only
            log_in(page, "reviewer.li", "/console/queue")
            queue = page.locator("#queue")
            expect(queue).to_contain_text("Chancheng Garden")
            expect(queue).not_to_contain_text("Nanhai Homes")
            shot(page, "01-queue-reviewer")
            page.goto(f"{base}/console/cases/{nanhai_case}")
            expect(page.locator("h1")).to_contain_text("403")
            page.goto(f"{base}/console/queue")
            page.click(f"a[href='/console/cases/{chancheng_case}']")
            explanation = page.locator("#explanation")
            expect(explanation.locator("tr[data-rule=income_per_capita]")).to_contain_text("人均月收入")
            expect(explanation).to_contain_text("¥4,200.00")  # a reviewer sees the amounts, as money
            expect(explanation).to_contain_text("佛山市公共租赁住房管理办法")  # the regulation, by name
            expect(page.locator("#approve")).to_have_count(0)  # not a supervisor
            page.fill("#findings", "Income confirmed with the employer's payslips")
            page.select_option("#proposed_outcome", "exit_required")
            page.fill("#reason_code", "INC")
            shot(page, "02-case-findings")
            page.click("#submit-findings")
            expect(page.locator("#case-status")).to_have_attribute("data-status", "proposed")
            expect(page.locator("#case-status")).to_have_text("待审批")
            expect(page.locator("#proposal")).to_contain_text("reviewer.li")
            page.click("#logout")
            expect(page).to_have_url(base + "/login")

            # supervisor.chen proposes on the Nanhai case herself: no approval is offered to her there,
            # and a forced one ends on a page that names the four-eyes rule
            log_in(page, "supervisor.chen", f"/console/cases/{nanhai_case}")
            page.fill("#findings", "Payslips checked")
            page.select_option("#proposed_outcome", "transition")
            page.fill("#reason_code", "INC")
            page.click("#submit-findings")
            expect(page.locator("#case-status")).to_have_attribute("data-status", "proposed")
            expect(page.locator("#approve")).to_have_count(0)
            expect(page.locator("#send-back")).to_have_count(0)
            expect(page.locator("#own-proposal")).to_contain_text("四眼原则")
            shot(page, "03a-own-proposal")
            page.evaluate(
                """([action, csrf]) => {
                    const form = document.createElement("form");
                    form.method = "post";
                    form.action = action;
                    const field = document.createElement("input");
                    field.name = "csrf";
                    field.value = csrf;
                    form.appendChild(field);
                    document.body.appendChild(form);
                    form.submit();
                }""",
                [
                    f"/console/cases/{nanhai_case}/approval",
                    page.locator("input[name=csrf]").first.input_value(),
                ],
            )
            expect(page.locator("h1")).to_contain_text("403")
            expect(page.locator("#what-happened")).to_contain_text(
                "复核意见由提出该意见的审核员以外的人员批准"
            )
            expect(page.locator("#who-may-act")).to_contain_text("另一位审批主管")
            shot(page, "03b-four-eyes-refused")

            # supervisor.chen, a second person, approves the reviewer's proposal
            page.goto(f"{base}/console/cases/{chancheng_case}")
            page.fill("#approve-reason", "Agreed: income above the limit for two quarters")
            page.click("#approve")
            expect(page.locator("#case-status")).to_have_attribute("data-status", "decided")
            expect(page.locator("#final-outcome")).to_have_attribute("data-outcome", "exit_required")
            expect(page.locator("#final-outcome")).to_contain_text("应当退出")
            expect(page.locator("#trail")).to_contain_text("supervisor.chen")
            shot(page, "03-case-approved")

            # the household's timeline: every step, who, why, with links to the tracing UI
            page.click("#household-link")
            expect(page).to_have_url(f"{base}/console/households/{household}")
            timeline = page.locator("#timeline")
            expect(timeline).to_contain_text("reviewer.li")
            expect(timeline).to_contain_text("supervisor.chen")
            expect(timeline).to_contain_text("民政部门")
            links = page.locator("#timeline a.trace")
            expect(links.first).to_be_visible()
            href = links.first.get_attribute("href") or ""
            assert re.fullmatch(re.escape(TRACING_UI) + "[0-9a-f]{32}", href), href
            shot(page, "04-household-timeline")

            # a form's answer (the what-if result) switches language to a page that answers GET
            page.goto(base + "/console/parameters")
            page.fill("#what-if-form input[name=value]", "4300")
            page.click("#simulate")
            expect(page.locator("#what-if-result")).to_be_visible()
            page.click("#lang-switch")
            expect(page).to_have_url(base + "/console/parameters?lang=en")
            expect(page.locator("h1")).to_have_text("Policy parameters")
            page.click("#lang-switch")
            expect(page.locator("h1")).to_have_text("政策参数")

            # the dashboard, with its charts, in Chinese then English
            page.goto(base + "/console/dashboard")
            expect(page.locator("h1")).to_have_text("统计看板")
            expect(page.locator("#charts svg").first).to_be_visible()
            assert page.locator("svg[role=img]").count() >= 3
            shot(page, "05-dashboard-zh")
            page.click("#lang-switch")
            expect(page.locator("h1")).to_have_text("Dashboard")
            expect(page.locator("#headline")).to_contain_text("Households under review")
            shot(page, "06-dashboard-en")
            page.click("#logout")

            # an auditor sees the same household with amounts masked
            log_in(page, "auditor.sun", f"/console/cases/{chancheng_case}")
            expect(page.locator("#explanation")).not_to_contain_text("4,200.00")
            expect(page.locator("#explanation")).to_contain_text("***")
            shot(page, "07-case-auditor-masked")
        finally:
            browser.close()


def test_console_record_request_from_the_case_page_to_the_department_clerk(
    chromium: Path, stack: dict[str, str]
) -> None:
    """Issue 22 in the browser: a reviewer asks finance for a record from the case page; finance's clerk
    logs in, sees it in her queue, answers it with the amount typed as money; the case page then shows
    the request answered and the household decided again on the record."""
    from playwright.sync_api import Page, expect, sync_playwright

    data = seed(stack["gateway"])
    case = data["cases"]["Chancheng Garden"]
    base = stack["gateway"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        assert not JSON_LITERAL.search(page.inner_text("main")), f"{name}: JSON on the page"
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def log_in(page: Page, account: str, target: str) -> None:
        page.goto(base + target)
        page.fill("#username", account)
        page.fill("#password", demo_password(account))
        page.click("#login-submit")
        expect(page).to_have_url(base + target)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(page, "reviewer.li", f"/console/cases/{case}")
            page.select_option("#ask-department", "finance")
            page.select_option("#ask-kind", "financial_assets")
            page.select_option("#ask-why", "missing")
            page.fill("#ask-note", "deposits at the end of October")
            shot(page, "20-case-ask-department")
            page.click("#ask-department-submit")
            asked = page.locator("#case-record-requests tr[data-request]")
            expect(asked).to_have_count(1)
            page.click("#logout")

            log_in(page, "clerk.finance", "/console/record-requests")
            rows = page.locator("#record-requests tr[data-request]")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("deposits at the end of October")
            form = rows.first.locator("form.answer-form")
            form.locator("input[name=reference]").fill("FIN-2026-77")
            form.locator("input[name=described_on]").fill(yesterday())
            form.locator("input[name=amount]").fill("¥350,000.00")
            shot(page, "21-clerk-answers")
            form.locator("button[type=submit]").click()
            expect(page.locator("#record-requests tr[data-request]")).to_have_count(0)
            page.click("#logout")

            log_in(page, "reviewer.li", f"/console/cases/{case}")
            answered = page.locator("#case-record-requests tr[data-request]")
            expect(answered).to_have_count(1)
            expect(answered.first.locator("[data-state]")).to_have_attribute("data-state", "answered")
            expect(answered.first).to_contain_text("clerk.finance")  # who answered, on the day
            expect(page.locator("#explanation tr[data-rule=financial_assets]")).to_contain_text("¥350,000.00")
            shot(page, "22-case-answered")
        finally:
            browser.close()
