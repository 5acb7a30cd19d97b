"""Cursor paging for every list that grows (households, cases, warnings, sanctions, referrals, the
federation log): `limit` plus an opaque `cursor`, the next page named twice, in the body (`next`) and
in an RFC 8288 `Link: <...>; rel="next"` header.

Keyset, not offset: each list has a stable sort key (unique: it ends with the item's id), and a cursor
is the key of the last item a page returned. The next page is the items whose key sorts after it, so a
walk returns every item that existed when it began exactly once, whatever is added while it runs (an
item added behind the cursor is simply not in this walk; one added ahead of it is). An offset would
repeat or skip items whenever the list changes under the walk. Keys are made of what never changes
about an item (when it was created, its id), so that a change to an item cannot move it across the
cursor either.

The cursor is base64url JSON of that key: opaque to clients (they pass it back as it came), readable
to us when debugging. A cursor that does not decode is the client's error (400), not ours.
"""

from __future__ import annotations

import base64
import binascii
import functools
import heapq
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from services.kit.problems import Problem

T = TypeVar("T")
U = TypeVar("U")

Key = tuple[str | int, ...]
"""A sort key: strings and integers only, so that it survives JSON unchanged."""

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR = 2048
"""Characters of a cursor: a key of three 64-character labels and an id, escaped, fits."""

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]*={0,2}$",
        description="The `next` of the previous page, as it came; none for the first page",
    ),
]

_INVALID = ("Invalid cursor", "pass back the `next` of the previous page as it came")


def encode_cursor(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key:
    """The key a cursor holds; 400 for anything we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, *_INVALID) from exc
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)
    ):
        raise Problem(400, *_INVALID)
    return tuple(value)


def instant(moment: datetime | date) -> str:
    """A time as a key part that sorts as the time does: UTC, always with microseconds (`isoformat`
    leaves them out when zero, and `...:00+00:00` would then sort apart from `...:00.5+00:00`)."""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return moment.isoformat()


@functools.lru_cache(maxsize=1 << 17)
def time_key(moment: datetime | date, ident: object) -> Key:
    """The usual key: when the item came to be, then its id (both never change). Remembered: a page of
    a city-wide list keys every item it chooses from, and formatting the time is most of that."""
    return (instant(moment), str(ident))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None

    def map(self, render: Callable[[T], U]) -> Page[U]:
        """The same page, each item rendered: a list pages over light view objects and builds the
        answer (a dict, an aggregate loaded from the store) for the page's items only."""
        return Page([render(item) for item in self.items], self.next)


def paginate(
    items: Iterable[T],
    key: Callable[[T], Key],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> Page[T]:
    """The page after `cursor` of `items` in `key` order (newest first when `descending`).

    Picks the page from what it is given (`heapq`: linear in the items, not a sort of them all): fine
    for the in-memory projections the services list from (tens of thousands of items in
    milliseconds); a store-backed list pages in its query instead and builds its `Page` itself.
    """
    after = decode_cursor(cursor) if cursor else None
    keyed: Iterable[tuple[Key, T]] = ((key(item), item) for item in items)
    if after is not None:
        listed = list(keyed)
        if listed:
            _same_shape(listed[0][0], after)
        keyed = [pair for pair in listed if (pair[0] < after if descending else pair[0] > after)]
    pick = heapq.nlargest if descending else heapq.nsmallest
    page = pick(limit + 1, keyed, key=lambda pair: pair[0])
    more = len(page) > limit
    page = page[:limit]
    return Page([item for _, item in page], encode_cursor(page[-1][0]) if more and page else None)


def _same_shape(key: Key, cursor: Key) -> None:
    """A cursor of another list (another length, or a number where this list's key has text) is the
    client's error, not a silently wrong page or a comparison that fails. A list's keys all have one
    shape (the service makes them), so the first item speaks for all."""
    if len(key) != len(cursor) or any(
        isinstance(a, int) != isinstance(b, int) for a, b in zip(key, cursor, strict=True)
    ):
        raise Problem(400, *_INVALID)


def next_link(request: Request, cursor: str | None, path: str | None = None) -> str | None:
    """The `Link` header's value for the next page: the request's path (or `path`: the gateway names
    its own route, not the service's) and query, its cursor replaced. A relative reference, which RFC
    8288 allows: behind a proxy the client's host is the one it used."""
    if cursor is None:
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    query.append(("cursor", cursor))
    return f'<{path or request.url.path}?{urlencode(query)}>; rel="next"'


def page_response(
    request: Request,
    page: Page[Any],
    render: Callable[[Any], Any] = lambda item: item,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    link: bool = True,
) -> JSONResponse:
    """`{"items": [...], "next": cursor | null}` with the `Link` header when there is a next page
    (`link=False` for a POST's page: a link is followed with GET, and the next page of a search is
    its body posted again with the cursor)."""
    body: dict[str, Any] = {"items": [render(item) for item in page.items], "next": page.next}
    if extra:
        body.update(extra)
    # what a route returning the list used to get from FastAPI (ids, dates), amounts as decimal
    # strings rather than its floats
    body = jsonable_encoder(body, custom_encoder={Decimal: str})
    out = dict(headers or {})
    value = next_link(request, page.next) if link else None
    if value:
        out["Link"] = value
    return JSONResponse(body, headers=out)


def page_of(body: Any) -> Page[Any]:
    """A page a service answered (`{"items": [...], "next": ...}`); 502 for anything else."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        following = body.get("next")
        if following is None or isinstance(following, str):
            return Page(list(body["items"]), following)
    raise Problem(502, "Service error", "a page of items was expected")


def items_of(body: Any) -> Sequence[Any]:
    """The items of a page a service answered (or of a plain list, from a service not yet paged)."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return list(body["items"])
    if isinstance(body, list):
        return body
    raise Problem(502, "Service error", "a page of items was expected")
