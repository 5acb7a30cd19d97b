"""The gateway's lists a page at a time, before the real eligibility app (in process, SQLite, no bus):
a walk over `/api/households` by the `Link` header meets every household once while registrations go
on, the `Link` names the gateway's own route, an estate-scoped operator walks her estates in one
cursor, the review queue is one walk over the open states, and the search by a member's ID number
finds the household with the number in no URL and no log line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.tokens import Tokens
from services.kit.clock import ManualClock
from tests.gateway import behind
from tests.gateway.conftest import bearer
from tests.gateway.fakes import IN_ESTATE, OUT_ESTATE

START = datetime(2027, 2, 15, 2, 0, tzinfo=UTC)
TODAY = START.date().isoformat()


@pytest.fixture
def clock() -> ManualClock:
    """Eligibility's clock, moved by the test so that households and cases are apart in time."""
    return ManualClock(START)


real = behind.real  # the gateway before eligibility, on this module's clock


def id_number(n: int) -> str:
    return f"44060619920202{n:04d}"


def household(n: int, estate: str) -> dict[str, Any]:
    return {
        "reference": f"G{n:06d}",
        "region": "CN-FS",
        "estate": estate,
        "building": "7",
        "unit": f"{n:04d}",
        "base_rent": "680.00",
        "tenancy_start": "2019-05-01",
        "members": [{"id_number": id_number(n), "birth_date": "1985-07-15"}],
    }


async def register(client: httpx.AsyncClient, tokens: Tokens, numbers: range, estate: str) -> list[str]:
    lines = [household(n, estate) for n in numbers]
    response = await client.post("/api/registrations", json=lines, headers=bearer(tokens, "admin"))
    assert response.status_code == 200, response.text
    assert response.json()["registered"] == len(lines), response.text
    return [r["household_id"] for r in response.json()["results"]]


def followed(response: httpx.Response, path: str) -> str | None:
    """The `Link` header's target (None on the last page), checked: the gateway's own route, the
    client's query kept, the body's `next` as its cursor."""
    assert response.status_code == 200, response.text
    body = response.json()
    link = response.headers.get("link")
    if body["next"] is None:
        assert link is None
        return None
    assert link is not None and link.endswith('>; rel="next"'), link
    target: str = link[1 : link.index(">")]
    parts = urlsplit(target)
    assert parts.path == path, "the gateway's route, never the service's"
    query = parse_qs(parts.query)
    assert query.pop("cursor") == [body["next"]]
    sent = parse_qs(response.request.url.query.decode())
    sent.pop("cursor", None)
    assert query == sent
    return target


async def walk(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    between: Any = None,
    key: str = "household_id",
) -> list[str]:
    """Every item's `key` by the `Link` headers, calling `between` after each page."""
    path = urlsplit(url).path
    seen: list[str] = []
    while True:
        response = await client.get(url, headers=headers)
        seen += [item[key] for item in response.json()["items"]]
        target = followed(response, path)
        if target is None:
            return seen
        url = target
        if between is not None:
            await between()


async def test_a_walk_through_the_gateway_meets_every_household_once_while_registrations_go_on(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock
) -> None:
    mine = await register(real, tokens, range(0, 9), IN_ESTATE)
    theirs = await register(real, tokens, range(9, 14), OUT_ESTATE)
    added = iter(range(100, 200, 2))

    async def more() -> None:
        clock.advance(seconds=1)
        n = next(added)
        await register(real, tokens, range(n, n + 2), IN_ESTATE if n % 4 else OUT_ESTATE)

    reviewer = bearer(tokens, "reviewer")
    seen = await walk(real, "/api/households?limit=4", reviewer, more)
    assert len(seen) == len(set(seen)) and set(mine + theirs) <= set(seen)

    scoped = bearer(tokens, "reviewer_scoped")
    everything = set(await walk(real, "/api/households?limit=1000", reviewer))
    walked = await walk(real, "/api/households?limit=3", scoped)
    assert set(mine) <= set(walked) and not set(theirs) & set(walked), "one cursor over her estates"
    assert len(walked) == len(set(walked)) and set(walked) < everything
    filtered = await real.get("/api/households", params={"reference": "G000010"}, headers=reviewer)
    assert [h["household_id"] for h in filtered.json()["items"]] == [theirs[1]]
    unit = {"estate": IN_ESTATE, "building": "7", "unit": "0004"}
    assert [
        h["household_id"]
        for h in (await real.get("/api/households", params=unit, headers=scoped)).json()["items"]
    ] == [mine[4]]
    assert (
        await real.get("/api/households", params={"estate": OUT_ESTATE}, headers=scoped)
    ).status_code == 403

    garbage = await real.get("/api/households", params={"cursor": "bm90IGpzb24"}, headers=reviewer)
    assert garbage.status_code == 400 and garbage.headers["content-type"] == "application/problem+json"
    assert garbage.json()["title"] == "Invalid cursor"


async def test_the_review_queue_is_one_walk_over_the_open_states(
    real: httpx.AsyncClient, tokens: Tokens, clock: ManualClock
) -> None:
    households = []
    for n, estate in enumerate((IN_ESTATE, OUT_ESTATE, IN_ESTATE)):
        clock.advance(minutes=1)
        (house,) = await register(real, tokens, range(300 + n, 301 + n), estate)
        fact = {
            "department": "civil_affairs",
            "reference": f"MZ-{n}",
            "described_on": TODAY,
            "household_id": house,
            "fact": {"kind": "income", "monthly_income": "4200.00"},
        }
        pushed = await real.post("/api/facts", json=[fact], headers=bearer(tokens, "department"))
        assert pushed.status_code == 200 and pushed.json()["recorded"] == 1, pushed.text
        households.append(house)
    reviewer = bearer(tokens, "reviewer")
    cases = [
        (await real.get(f"/api/households/{h}", headers=reviewer)).json()["open_case"] for h in households
    ]
    finding = {"findings": "payslips", "proposed_outcome": "exit_required", "reason_code": "INC"}
    assert (
        await real.post(f"/api/cases/{cases[2]}/findings", json=finding, headers=reviewer)
    ).status_code == 200

    assert await walk(real, "/api/review-queue?limit=1", reviewer, key="case_id") == cases, (
        "oldest first, open and proposed"
    )
    assert await walk(
        real, "/api/review-queue?limit=1", bearer(tokens, "reviewer_scoped"), key="case_id"
    ) == [
        cases[0],
        cases[2],
    ]
    proposed = await real.get("/api/cases", params={"status": "proposed"}, headers=reviewer)
    assert [c["case_id"] for c in proposed.json()["items"]] == [cases[2]]
    both = await real.get("/api/cases", params={"status": ["open", "proposed"], "limit": 2}, headers=reviewer)
    assert [c["case_id"] for c in both.json()["items"]] == cases[:2]
    assert followed(both, "/api/cases") is not None


async def test_the_search_by_id_number_goes_in_a_body_and_reaches_no_log(
    real: httpx.AsyncClient, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (mine,) = await register(real, tokens, range(400, 401), IN_ESTATE)
    (theirs,) = await register(real, tokens, range(401, 402), OUT_ESTATE)

    found = await real.post(
        "/api/households/search", json={"id_number": id_number(400)}, headers=bearer(tokens, "reviewer")
    )
    assert found.status_code == 200, found.text
    assert found.json()["next"] is None and "link" not in found.headers
    (item,) = found.json()["items"]
    assert item["household_id"] == mine and item["members"][0]["birth_date"] == "1985-07-15"
    assert item["members"][0]["id_number_masked"].endswith(id_number(400)[-4:])
    assert id_number(400) not in found.text

    masked = await real.post(
        "/api/households/search", json={"id_number": id_number(400)}, headers=bearer(tokens, "auditor")
    )
    assert masked.json()["items"][0]["members"][0]["birth_date"] == "***", "masked without personal:read"
    scoped = bearer(tokens, "reviewer_scoped")
    other = await real.post("/api/households/search", json={"id_number": id_number(401)}, headers=scoped)
    assert other.status_code == 200 and other.json()["items"] == [], "outside her estates"
    city = await real.post(
        "/api/households/search", json={"id_number": id_number(401)}, headers=bearer(tokens, "supervisor")
    )
    assert [h["household_id"] for h in city.json()["items"]] == [theirs]
    refused = await real.post(
        "/api/households/search", json={"id_number": id_number(400)}, headers=bearer(tokens, "department")
    )
    assert refused.status_code == 403
    short = await real.post(
        "/api/households/search", json={"id_number": id_number(400)[:14]}, headers=bearer(tokens, "reviewer")
    )
    assert short.status_code == 422 and id_number(400)[:14] not in short.text, "refused, not echoed"
    repeated = await real.post(
        "/api/households/search",
        json={"id_number": id_number(400)},
        headers={**bearer(tokens, "reviewer"), "Idempotency-Key": "k-1"},
    )
    assert repeated.status_code == 200 and "idempotent-replayed" not in repeated.headers

    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "/households/search" in logged, "the calls were logged, with their URLs"
    for number in (id_number(400), id_number(401)):
        assert number not in logged, "an ID number reached a log line"
