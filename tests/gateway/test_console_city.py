"""The console at a city's scale, in headless Chromium against eligibility and the gateway as
processes: 2,500 households registered through the gateway's bulk route by the housing office's
register, each reported over the income limit by civil affairs, so 2,500 review cases wait. A
supervisor walks the whole review queue page by page (every case once, no page of thousands of rows),
finds one household among them by estate and unit, and one by a member's ID number, which appears in
no address the browser visited and in no log line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from gateway.users import demo_password
from tests.gateway.test_bulk import households as bodies
from tests.gateway.test_console_browser import (  # noqa: F401 - fixtures
    CHROMIUM_ARGS,
    JSON_LITERAL,
    chromium,
    stack,
    token,
)
from tests.support.dates import yesterday

HOUSEHOLDS = 2_500
ESTATES = ("Chancheng Garden", "Nanhai Homes", "Shunde Court", "Gaoming Place", "Sanshui Yard")
WAIT_S = 300.0
"""How long the 2,500 cases may take to open (a bound, not a measure)."""


def seed(gateway: str) -> list[dict[str, Any]]:
    """The households, registered in two NDJSON batches, and one income fact each over the limit."""
    lines = bodies(HOUSEHOLDS, seed=100)  # one seed: distinct ID numbers
    for n, line in enumerate(lines):
        line["estate"] = ESTATES[n % len(ESTATES)]
    with httpx.Client(base_url=gateway, timeout=120, trust_env=False) as client:
        registry = token(
            client,
            grant_type="client_credentials",
            client_id="registry.housing-office",
            client_secret=demo_password("registry.housing-office"),
        )
        department = token(
            client,
            grant_type="client_credentials",
            client_id="dept.civil-affairs",
            client_secret=demo_password("dept.civil-affairs"),
        )
        registered: dict[str, str] = {}
        for half in (lines[: HOUSEHOLDS // 2], lines[HOUSEHOLDS // 2 :]):
            content = "".join(json.dumps(line) + "\n" for line in half).encode()
            answer = client.post(
                "/api/registrations",
                content=content,
                headers={**registry, "content-type": "application/x-ndjson"},
            )
            assert answer.status_code == 200 and answer.json()["registered"] == len(half), answer.text[:500]
            registered |= {r["reference"]: r["household_id"] for r in answer.json()["results"]}
        facts = [
            {
                "department": "civil_affairs",
                "reference": f"MZ-CITY-{n}",
                "described_on": yesterday(),
                "household_id": registered[line["reference"]],
                "fact": {"kind": "income", "monthly_income": "5200.00"},
            }
            for n, line in enumerate(lines)
        ]
        pushed = client.post("/api/facts", json=facts, headers=department)
        assert pushed.status_code == 200 and pushed.json()["recorded"] == HOUSEHOLDS, pushed.text[:500]
        password = demo_password("supervisor.chen")
        supervisor = token(client, grant_type="password", username="supervisor.chen", password=password)
        deadline = time.monotonic() + WAIT_S
        while open_cases(client, supervisor) < HOUSEHOLDS:
            assert time.monotonic() < deadline, "the review cases did not all open"
            time.sleep(1.0)
    for line in lines:
        line["household_id"] = registered[line["reference"]]
    return lines


def open_cases(client: httpx.Client, auth: dict[str, str]) -> int:
    """The review queue's length, walked through the API by its cursor; 0 while the gateway answers
    that it cannot answer now (429, 502-504: a loaded machine), for the caller's deadline to judge."""
    seen, params = 0, {"limit": 1000}
    while True:
        answer = client.get("/api/review-queue", params=params, headers=auth)
        if answer.status_code in (429, 502, 503, 504):
            return 0
        assert answer.status_code == 200, answer.text[:500]
        page = answer.json()
        seen += len(page["items"])
        if not page["next"]:
            return seen
        params = {"limit": 1000, "cursor": page["next"]}


def test_a_supervisor_pages_through_2500_cases_and_finds_one_household(
    chromium: Path,  # noqa: F811
    stack: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    lines = seed(stack["gateway"])
    base = stack["gateway"]
    visited: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: visited.append(request.url))
            page.goto(base + "/console/queue?lang=en")
            page.fill("#username", "supervisor.chen")
            page.fill("#password", demo_password("supervisor.chen"))
            page.click("#login-submit")
            expect(page.locator("#signed-in")).to_contain_text("supervisor.chen")  # the session is set
            page.goto(base + "/console/queue?lang=en")
            expect(page.locator("#queue a.case-link").first).to_be_visible()

            # the whole queue, a page at a time: every case once
            cases: set[str] = set()
            pages = 0
            while True:
                rows = page.locator("#queue a.case-link")
                hrefs = [rows.nth(i).get_attribute("href") or "" for i in range(rows.count())]
                assert 0 < len(hrefs) <= 50, page.inner_text("main")[:500]
                assert not cases & set(hrefs), "a case on two pages"
                cases |= set(hrefs)
                pages += 1
                if page.locator("#next-page").count() == 0:
                    break
                with page.expect_navigation():
                    page.click("#next-page")
                expect(page.locator("#queue a.case-link").first).to_be_visible()
            assert len(cases) == HOUSEHOLDS and pages == HOUSEHOLDS // 50
            assert not JSON_LITERAL.search(page.inner_text("main"))

            # one estate's queue only
            page.goto(base + "/console/queue")
            page.fill("#queue-estate", ESTATES[2])
            page.click("#queue-filter-submit")
            expect(page.locator("#queue")).to_contain_text(ESTATES[2])
            expect(page.locator("#queue")).not_to_contain_text(ESTATES[0])

            # one household by estate and unit, among 2,500
            wanted = lines[1234]
            page.goto(base + "/console/households")
            page.fill("#search-estate", wanted["estate"])
            page.fill("#search-unit", wanted["unit"])
            page.click("#search-submit")
            found = page.locator("#households tbody tr")
            expect(found).to_have_count(1)
            assert found.first.get_attribute("data-household") == wanted["household_id"]
            expect(found.first).to_contain_text("Exit condition met")
            page.click(f"#households a[href='/console/households/{wanted['household_id']}']")
            expect(page).to_have_url(f"{base}/console/households/{wanted['household_id']}")

            # one by a member's ID number: a POST, never in an address
            other = lines[2222]
            number = other["members"][0]["id_number"]
            page.goto(base + "/console/households")
            page.fill("#search-id-number", number)
            page.click("#id-search-submit")
            found = page.locator("#households tbody tr")
            expect(found).to_have_count(1)
            assert found.first.get_attribute("data-household") == other["household_id"]
            assert number not in page.content()
        finally:
            browser.close()
    assert not [url for url in visited if number in url]
    for log in ("eligibility.log", "gateway.log"):
        assert number not in (tmp_path / log).read_text()
