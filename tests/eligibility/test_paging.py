"""Eligibility's lists a page at a time (`services.kit.paging`), on SQLite and PostgreSQL: a cursor walk
over `GET /households` meets every household once while registrations go on, the `Link` header names
the next page, the filters, the review queue's several statuses in one walk, cursors we did not make,
and the search by a member's ID number, which puts the number in no URL and no log line."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.eligibility import identity
from services.eligibility.settings import DEV_PERSON_HASH_KEY
from services.kit.paging import encode_cursor
from tests.eligibility.conftest import Clock
from tests.eligibility.test_api import failing_household, household_body, register
from tests.support.identity import as_operator

CHANCHENG, NANHAI = "Chancheng Garden", "Nanhai Homes"
SCOPED = as_operator("reviewer.li", "reviewer", "eligibility", [CHANCHENG])


def id_number(n: int) -> str:
    """A distinct, well-formed ID number per `n` (a range of its own: no other test's numbers)."""
    return f"44060519900101{n:04d}"


def unit_body(n: int, estate: str = CHANCHENG) -> dict[str, Any]:
    body = household_body(id_number(n), estate=estate)
    return {**body, "building": str(n % 3), "unit": f"{n:04d}", "reference": f"P{n:06d}"}


async def register_batch(client: httpx.AsyncClient, numbers: range, estate: str = CHANCHENG) -> list[str]:
    response = await client.post("/registrations", json=[unit_body(n, estate) for n in numbers])
    assert response.status_code == 200, response.text
    assert response.json()["registered"] == len(numbers), response.text
    return [r["household_id"] for r in response.json()["results"]]


def next_of(response: httpx.Response) -> str | None:
    """The cursor the `Link` header names, checked against the body's `next`."""
    body = response.json()
    link = response.headers.get("link")
    if body["next"] is None:
        assert link is None
        return None
    assert link is not None and link.endswith('>; rel="next"')
    target = urlsplit(link[1 : link.index(">")])
    query = parse_qs(target.query)
    assert query["cursor"] == [body["next"]]
    assert target.path == response.request.url.path
    kept = {k: v for k, v in parse_qs(response.request.url.query.decode()).items() if k != "cursor"}
    assert {k: v for k, v in query.items() if k != "cursor"} == kept, "the filters go on to the next page"
    cursor: str = body["next"]
    return cursor


async def test_a_walk_meets_every_household_once_while_registrations_go_on(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    present = set(await register_batch(client, range(0, 23)))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    added = 100
    while True:
        response = await client.get("/households", params=params)
        assert response.status_code == 200, response.text
        seen += [h["household_id"] for h in response.json()["items"]]
        cursor = next_of(response)
        if cursor is None:
            break
        params = {"limit": 4, "cursor": cursor}
        clock.advance(seconds=1)
        await register_batch(client, range(added, added + 2))  # two more between every two pages
        added += 2
    assert len(seen) == len(set(seen)), "no household twice"
    assert present <= set(seen), "every household of the start"
    # registration order: the households registered during the walk come after those of the start
    assert seen[: len(present)] == [h for h in seen if h in present]


async def test_the_filters_and_an_estate_scoped_caller(client: httpx.AsyncClient) -> None:
    chancheng = await register_batch(client, range(200, 205))
    nanhai = await register_batch(client, range(205, 208), estate=NANHAI)

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/households", params={"limit": 1000, **params})
        assert response.status_code == 200, response.text
        assert response.json()["next"] is None and "link" not in response.headers
        return [h["household_id"] for h in response.json()["items"]]

    # one batch is one instant on the test's clock: its households in the order of their ids
    assert await ids(estate=NANHAI) == sorted(nanhai)
    assert await ids(estate=CHANCHENG, building="1", unit="0202") == [chancheng[2]]
    assert await ids(unit="0206") == [nanhai[1]]
    assert await ids(reference="P000203") == [chancheng[3]]
    assert sorted(await ids(outcome="none")) == sorted([*chancheng, *nanhai])
    assert await ids(outcome="exit_triggered") == []
    row = (await client.get("/households", params={"reference": "P000205"})).json()["items"][0]
    assert (row["estate"], row["building"], row["unit"], row["reference"]) == (NANHAI, "1", "0205", "P000205")

    mine = await client.get("/households", params={"limit": 2}, headers=SCOPED)
    walked = [h["household_id"] for h in mine.json()["items"]]
    while (cursor := next_of(mine)) is not None:
        mine = await client.get("/households", params={"limit": 2, "cursor": cursor}, headers=SCOPED)
        walked += [h["household_id"] for h in mine.json()["items"]]
    assert walked == sorted(chancheng), "an estate-scoped caller walks its estates only"
    other = await client.get("/households", params={"estate": NANHAI}, headers=SCOPED)
    assert other.status_code == 403


async def test_the_review_queue_is_several_statuses_in_one_walk(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    cases = []
    for n in range(3):
        clock.advance(minutes=1)
        cases.append((await failing_household(client, id_number(300 + n)))[1])
    reviewer = as_operator("reviewer.he", "reviewer", "eligibility")
    finding = {"findings": "payslips", "proposed_outcome": "exit_required", "reason_code": "INC"}
    proposed = await client.post(f"/cases/{cases[1]}/findings", json=finding, headers=reviewer)
    assert proposed.status_code == 200 and proposed.json()["status"] == "proposed"

    async def walk(**params: Any) -> list[str]:
        query: dict[str, Any] = {"limit": 1, **params}
        found: list[str] = []
        while True:
            response = await client.get("/cases", params=query)
            assert response.status_code == 200, response.text
            found += [c["case_id"] for c in response.json()["items"]]
            if (cursor := next_of(response)) is None:
                return found
            query["cursor"] = cursor

    assert await walk(status=["open", "proposed", "assessment", "appealed"]) == cases, "oldest first"
    assert await walk(status="open") == [cases[0], cases[2]]
    assert await walk(status=["proposed"], estate=CHANCHENG) == [cases[1]]
    assert (await client.get("/cases", params={"status": "lost"})).status_code == 422


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90IGpzb24",  # "not json"
        encode_cursor(("a",)),  # a key of another shape
        "e30",  # {}
    ],
)
async def test_a_cursor_we_did_not_make_is_a_400_problem(client: httpx.AsyncClient, cursor: str) -> None:
    await register_batch(client, range(400, 402))
    # a key's shape is checked against the items it is compared with: there are no cases here
    for path in ("/households", "/cases") if cursor != encode_cursor(("a",)) else ("/households",):
        response = await client.get(path, params={"cursor": cursor})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Invalid cursor"
    assert (await client.get("/households", params={"cursor": "not a cursor!"})).status_code == 422
    assert (await client.get("/households", params={"limit": 1001})).status_code == 422


async def test_the_search_by_id_number_finds_the_household_and_logs_no_number(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wanted = id_number(500)
    household = (await register(client, id_number(501), wanted))["household_id"]
    elsewhere = (await register(client, id_number(502), estate=NANHAI))["household_id"]

    spaced = f"{wanted[:6]} {wanted[6:14]} {wanted[14:]}"  # as typed from the card: the same person
    response = await client.post("/households/search", json={"id_number": spaced})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] is None and "link" not in response.headers
    (found,) = body["items"]
    assert found["household_id"] == household
    hashed = identity.person_hash(wanted, DEV_PERSON_HASH_KEY)
    assert [m["id_number_masked"] for m in found["members"] if m["person_hash"] == hashed] == [
        identity.mask(wanted)
    ]
    assert wanted not in response.text

    assert (await client.post("/households/search", json={"id_number": id_number(599)})).json() == {
        "items": [],
        "next": None,
    }
    scoped = await client.post("/households/search", json={"id_number": id_number(502)}, headers=SCOPED)
    assert scoped.status_code == 200 and scoped.json()["items"] == [], "not in the caller's estates"
    city = await client.post("/households/search", json={"id_number": id_number(502)})
    assert [h["household_id"] for h in city.json()["items"]] == [elsewhere]
    short = await client.post("/households/search", json={"id_number": "4406"})
    assert short.status_code == 422 and "4406" not in short.text
    assert (await client.post("/households/search", json={"id_number": wanted, "x": 1})).status_code == 422

    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "/households/search" in logged, "the HTTP calls were logged, with their URLs"
    for number in (wanted, spaced, id_number(501), id_number(502)):
        assert number not in logged, "an ID number reached a log line"
