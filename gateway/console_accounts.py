"""The console's accounts page: the administrator assigns estates to operators.

`GET /console/accounts` lists the operators' accounts with their role and estates (and who assigned
them last); `POST /console/accounts/{account_id}/estates` replaces one account's estates: the
districts ticked (the accounts file's named sets), the estates typed one per line, or every estate.
Both are the administrator's (`gateway.assignments`); anyone else gets the error page naming who may.
The form carries the session's CSRF token like every other console form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.assignments import clean_estates, may_assign
from gateway.roles import Principal
from services.kit.http import Problem

if TYPE_CHECKING:
    from gateway.console import Console

Page = Callable[[Request, Callable[[Principal], Awaitable[Response]]], Awaitable[Response]]


def refuse(p: Principal) -> Problem:
    return Problem(
        403,
        "Forbidden",
        f"the role {p.role} does not assign estates; an administrator does",
        scope="accounts:estates",
    )


def account_routes(router: APIRouter, console: Console, page: Page) -> None:
    """Adds the accounts page and its form to the console's router."""

    @router.get("/console/accounts")
    async def accounts(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            if not may_assign(p):
                raise refuse(p)
            directory = console.directory
            rows = [{"account": a, "record": console.assignments.record(a.id)} for a in directory.operators()]
            return console.render(request, "accounts.html", p, accounts=rows, districts=directory.districts)

        return await page(request, build)

    @router.post("/console/accounts/{account_id}/estates")
    async def assign(request: Request, account_id: str) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            if not may_assign(p):
                raise refuse(p)
            if form.get("every") == "on":
                estates = None
            else:
                chosen = [str(d) for d in form.getlist("districts")]
                unknown = [d for d in chosen if d not in console.directory.districts]
                if unknown:
                    raise Problem(422, "Invalid request", f"districts: unknown {', '.join(unknown)}")
                typed = str(form.get("estates", ""))[:20_000].splitlines()
                named = [e for d in chosen for e in console.directory.districts[d]]
                estates = clean_estates([*named, *typed])
                if not estates:
                    raise Problem(422, "Invalid request", "estates: name at least one, or tick every estate")
            console.assignments.assign(p, account_id, estates)
            return RedirectResponse("/console/accounts", status_code=303)

        return await page(request, build)
