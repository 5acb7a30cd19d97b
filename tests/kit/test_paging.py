"""Cursor paging (`services.kit.paging`): a walk returns every item once, also while items are added;
cursors are opaque and checked; the answer is the page shape with an RFC 8288 `Link` to the next."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.http import install_problem_handlers
from services.kit.paging import (
    Cursor,
    Key,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    instant,
    page_of,
    page_response,
    paginate,
    time_key,
)
from services.kit.problems import Problem

Item = tuple[int, str]
"""(created, id): what the services key their lists by, in small."""


def key(item: Item) -> Key:
    return (item[0], item[1])


def walk(items: list[Item], limits: list[int], descending: bool = False) -> list[Item]:
    """Every page in turn, each of the next limit (cycling), until `next` is None."""
    seen: list[Item] = []
    cursor: str | None = None
    turn = 0
    while True:
        page = paginate(items, key, limit=limits[turn % len(limits)], cursor=cursor, descending=descending)
        seen += page.items
        turn += 1
        if page.next is None:
            return seen
        cursor = page.next


items_strategy = st.lists(
    st.tuples(st.integers(-5, 5), st.text(min_size=1, max_size=6)), unique_by=lambda i: i, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(items=items_strategy, limits=st.lists(st.integers(1, 7), min_size=1, max_size=5), down=st.booleans())
def test_a_walk_returns_every_item_exactly_once_in_key_order(
    items: list[Item], limits: list[int], down: bool
) -> None:
    seen = walk(items, limits, descending=down)
    assert seen == sorted(items, key=key, reverse=down)


@settings(max_examples=200, deadline=None)
@given(
    items=items_strategy,
    added=st.lists(st.tuples(st.integers(-5, 5), st.text(min_size=1, max_size=6)), max_size=30),
    limit=st.integers(1, 7),
)
def test_a_walk_while_items_are_added_returns_each_that_was_there_exactly_once(
    items: list[Item], added: list[Item], limit: int
) -> None:
    """Anything added, anywhere in the order, between two pages: nothing of the start is skipped or
    repeated, and nothing is seen twice at all."""
    present = list(items)
    arriving = [a for a in added if a not in present]
    seen: list[Item] = []
    cursor: str | None = None
    while True:
        page = paginate(present, key, limit=limit, cursor=cursor)
        seen += page.items
        if page.next is None:
            break
        cursor = page.next
        if arriving:
            new = arriving.pop()
            if new not in present:
                present.append(new)
    assert len(seen) == len(set(seen))
    assert set(items) <= set(seen)


@given(key_parts=st.lists(st.one_of(st.integers(), st.text(max_size=64)), min_size=1, max_size=4))
def test_a_cursor_is_the_key_it_was_made_of(key_parts: list[int | str]) -> None:
    cursor = encode_cursor(tuple(key_parts))
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(cursor) == tuple(key_parts)


@pytest.mark.parametrize(
    "garbage",
    [
        "!!!",
        "a",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(b"[1.5]").decode(),
        base64.urlsafe_b64encode(b"[true]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_we_did_not_make_is_the_clients_error(garbage: str) -> None:
    with pytest.raises(Problem) as refused:
        paginate([(1, "a")], key, limit=10, cursor=garbage)
    assert refused.value.status == 400 and refused.value.title == "Invalid cursor"


def test_a_cursor_of_another_list_is_refused_not_answered_wrongly() -> None:
    other = encode_cursor(("2026-01-01", "Chancheng Garden", "3", "x"))
    with pytest.raises(Problem) as refused:
        paginate([(1, "a"), (2, "b")], key, limit=1, cursor=other)
    assert refused.value.status == 400


def test_instants_sort_as_the_times_do() -> None:
    whole = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
    half = whole + timedelta(microseconds=500_000)
    shanghai = datetime(2026, 11, 27, 17, 0, 0, 1, tzinfo=timezone(timedelta(hours=8)))  # 09:00:00.000001Z
    assert sorted([instant(half), instant(whole), instant(shanghai)]) == [
        instant(whole),
        instant(shanghai),
        instant(half),
    ]
    assert time_key(half, "id-1") == (instant(half), "id-1") == time_key(half, "id-1")


def test_a_page_answered_by_a_service_is_read_back_and_anything_else_is_a_502() -> None:
    assert page_of({"items": [1, 2], "next": "abc"}) == Page([1, 2], "abc")
    assert page_of({"items": [], "next": None}) == Page([], None)
    for wrong in ([1, 2], {"items": "x"}, {"items": [], "next": 3}, None):
        with pytest.raises(Problem) as refused:
            page_of(wrong)
        assert refused.value.status == 502


NUMBERS = [(n, f"id-{n:03d}") for n in range(25)]


def numbers_app() -> FastAPI:
    api = FastAPI()
    install_problem_handlers(api)

    @api.get("/numbers")
    def numbers(
        request: Request, parity: str | None = None, limit: Limit = 10, cursor: Cursor = None
    ) -> JSONResponse:
        chosen = [n for n in NUMBERS if parity is None or n[0] % 2 == (parity == "odd")]
        page = paginate(chosen, key, limit=limit, cursor=cursor)
        return page_response(request, page, lambda n: {"n": n[0], "id": n[1]})

    return api


async def test_the_answer_is_a_page_with_a_link_to_the_next_keeping_the_filters() -> None:
    transport = httpx.ASGITransport(app=numbers_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        first = await client.get("/numbers", params={"parity": "odd", "limit": 5})
        assert first.status_code == 200
        body = first.json()
        assert [i["n"] for i in body["items"]] == [1, 3, 5, 7, 9] and body["next"]
        link = first.headers["link"]
        assert link == f'</numbers?parity=odd&limit=5&cursor={body["next"]}>; rel="next"'
        seen = [i["n"] for i in body["items"]]
        while "link" in first.headers:
            first = await client.get(first.headers["link"].split(">")[0].lstrip("<"))
            seen += [i["n"] for i in first.json()["items"]]
        assert seen == list(range(1, 25, 2)) and first.json()["next"] is None


async def test_a_garbage_cursor_is_a_400_problem_and_a_bad_limit_a_422() -> None:
    transport = httpx.ASGITransport(app=numbers_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        garbage = await client.get("/numbers", params={"cursor": "bm90IGpzb24"})
        assert garbage.status_code == 400
        assert garbage.headers["content-type"] == "application/problem+json"
        assert garbage.json()["title"] == "Invalid cursor"
        for limit in (0, 1001):
            assert (await client.get("/numbers", params={"limit": limit})).status_code == 422
        assert (await client.get("/numbers", params={"cursor": "a b"})).status_code == 422
