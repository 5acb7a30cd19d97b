"""The console's lists for a city: the review queue and the household search, a page at a time.

A city has tens of thousands of households and thousands of open cases: the pages show `PAGE` rows
and a link to the next page (the list's cursor, `services.kit.paging`), with the filters kept, never
one page 30,000 pixels long. The household search takes a reference, an estate with a unit (and a
building), or a member's ID number; the ID number goes in a POST form (CSRF-checked), never in a URL,
which browsers' histories, access logs and traces keep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.operations import Operations
from gateway.roles import Principal

if TYPE_CHECKING:
    from gateway.console import Console

Page = Callable[[Request, Callable[[Principal], Awaitable[Response]]], Awaitable[Response]]

PAGE = 50
"""Rows on one page of the queue or the search."""
FILTERS = ("reference", "estate", "building", "unit")


def next_href(path: str, filters: dict[str, str], cursor: str | None) -> str | None:
    """The next page's link: the same filters, the page's cursor."""
    if cursor is None:
        return None
    return f"{path}?{urlencode({**filters, 'cursor': cursor})}"


def list_routes(router: APIRouter, console: Console, page: Page) -> None:
    """Adds the review queue and the household search to the console's router."""

    def ops(request: Request) -> Operations:
        found: Operations = request.app.state.operations
        return found

    def kept(request: Request, names: tuple[str, ...]) -> dict[str, str]:
        return {n: v.strip() for n in names if (v := request.query_params.get(n, "")).strip()}

    @router.get("/console/queue")
    async def queue(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            filters = kept(request, ("estate", "escalated"))
            if filters.get("escalated") not in (None, "true"):
                filters.pop("escalated")
            cursor = request.query_params.get("cursor")
            escalated = True if filters.get("escalated") == "true" else None
            cases = await ops(request).queue(p, filters.get("estate"), PAGE, cursor, escalated)
            return console.render(
                request,
                "queue.html",
                p,
                cases=cases.items,
                filters=filters,
                estates=sorted(p.estates) if p.estates is not None else None,
                next_cursor=cases.next,
                next_href=next_href("/console/queue", filters, cases.next),
                first_page=cursor is not None,
            )

        return await page(request, build)

    @router.get("/console/households")
    async def households(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            filters = kept(request, FILTERS)
            cursor = request.query_params.get("cursor")
            found: Any = None
            if filters:
                found = await ops(request).households(p, **filters, limit=PAGE, cursor=cursor)
            return console.render(
                request,
                "households.html",
                p,
                filters=filters,
                households=None if found is None else found.items,
                next_href=None if found is None else next_href("/console/households", filters, found.next),
                first_page=cursor is not None,
                searched_id=False,
            )

        return await page(request, build)

    @router.post("/console/households/search")
    async def by_id_number(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            id_number = str(form.get("id_number", "")).strip()
            found = await ops(request).search_households(p, id_number, PAGE)
            return console.render(
                request,
                "households.html",
                p,
                filters={},
                households=found.items,
                next_href=None,
                first_page=False,
                searched_id=True,
            )

        return await page(request, build)
