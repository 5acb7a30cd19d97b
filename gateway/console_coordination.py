"""The console's coordination register (issue 22): the cross-department problems the bureau takes to
the departments' monthly joint meeting, for the roles that read cases (cases:read).

`GET /console/coordination` lists them, a page at a time, open, resolved or all: title, kind,
departments, lead and owner, raised on, each meeting's day and note, state and resolution, in words.
A supervisor (cases:approve) raises one (`POST /console/coordination`), assigns it to a lead department
among those involved and an owner, and resolves it; a reviewer or a supervisor (cases:review) adds a
joint meeting's note, dated today unless an earlier day is named. Every step goes through
`gateway.coordination`, the API's own operations (the same scopes checked, eligibility's after them);
a refusal is the console's error page.
"""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from contracts.department import REPORTS
from gateway import coordination
from gateway.console_lists import PAGE, next_href
from gateway.figures_view import departments_figures
from gateway.i18n import label
from gateway.operations import Operations
from gateway.roles import Principal
from services.kit.clock import local_today
from services.kit.http import Problem

if TYPE_CHECKING:
    from gateway.console import Console

Page = Callable[[Request, Callable[[Principal], Awaitable[Response]]], Awaitable[Response]]

STATES = ("open", "resolved", "all")
"""The register's filter, as `GET /api/coordination-problems?state=` takes it."""
KINDS = ("data_conflict", "no_answer", "other")
STEPS: dict[str, tuple[type[BaseModel], tuple[str, ...]]] = {
    "assignment": (coordination.AssignmentIn, ("department", "owner")),
    "discussion": (coordination.DiscussionIn, ("note", "meeting_on")),
    "resolution": (coordination.ResolutionIn, ("resolution",)),
}
"""Each step's model and the form fields it reads."""
_IDS = re.compile(r"[\s,，;；、]+")


def _text(form: FormData, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _refused(lang: str, zh: str, en: str) -> Problem:
    return Problem(422, "Invalid request", zh if lang == "zh" else en)


def _valid(model: type[BaseModel], data: dict[str, Any], lang: str) -> BaseModel:
    """A form checked by the API's own model; a blank field is named in the reader's words."""
    for name, value in data.items():
        if value == "" and name != "meeting_on":
            field = label(f"field.{name}", lang)
            raise _refused(lang, f"{field}：请填写", f"{field}: fill it in")
    try:
        return model.model_validate({k: v for k, v in data.items() if v != ""})
    except ValidationError as exc:
        fields = "、".join(label(f"field.{e['loc'][0]}", lang) for e in exc.errors()[:5] if e["loc"])
        raise _refused(lang, f"请检查：{fields}", f"check: {fields}") from None


def problem_body(form: FormData, lang: str) -> coordination.ProblemIn:
    """The raising form as `ProblemIn`: departments ticked, related record requests' numbers typed."""
    involved = [d for d in form.getlist("departments") if isinstance(d, str) and d in REPORTS]
    if not involved:
        raise _refused(lang, "涉及部门：请至少选择一个部门", "departments involved: tick at least one")
    related: list[str] = []
    for typed in _IDS.split(_text(form, "record_requests")):
        if not typed:
            continue
        try:
            related.append(str(UUID(typed)))
        except ValueError:
            raise _refused(
                lang,
                f"相关核查请求：“{typed}”不是核查请求编号",
                f"related record requests: {typed} is not one",
            ) from None
    data = {
        "title": _text(form, "title", 200),
        "description": _text(form, "description"),
        "kind": _text(form, "kind", 32),
        "departments": involved,
        "record_requests": related,
    }
    body = _valid(coordination.ProblemIn, data, lang)
    assert isinstance(body, coordination.ProblemIn)
    return body


def coordination_routes(router: APIRouter, console: Console, page: Page) -> None:
    """Adds the register's page and forms to the console's router, and the dashboard's figures of
    the departments (`departments_figures`) to its templates."""
    console.env.globals.update(
        problem_states=STATES,
        problem_kinds=KINDS,
        register_departments=list(REPORTS),
        departments_figures=departments_figures,
    )

    def ops(request: Request) -> Operations:
        found: Operations = request.app.state.operations
        return found

    async def posted(request: Request, p: Principal) -> FormData:
        form = await request.form()
        console.check_csrf(request, p, str(form.get("csrf", "")))
        return form

    @router.get("/console/coordination")
    async def register(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            query = request.query_params
            filters = {"state": str(query["state"])} if query.get("state") in STATES else {}
            cursor = query.get("cursor")
            state = filters.get("state", "open")
            found = await coordination.listing(ops(request), p, state, None, PAGE, cursor)
            today = local_today(console.settings.zone, console.tokens.clock)
            return console.render(
                request,
                "coordination.html",
                p,
                problems=found.items,
                filters=filters,
                today=today.isoformat(),
                next_href=next_href("/console/coordination", filters, found.next),
                first_page=cursor is not None,
            )

        return await page(request, build)

    @router.post("/console/coordination")
    async def raise_problem(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            form = await posted(request, p)
            body = problem_body(form, console.lang(request))
            await coordination.raise_problem(ops(request), p, body)
            return RedirectResponse("/console/coordination", status_code=303)

        return await page(request, build)

    @router.post("/console/coordination/{problem_id}/{step}")
    async def step(request: Request, problem_id: UUID, step: str) -> Response:
        async def build(p: Principal) -> Response:
            form = await posted(request, p)
            if step not in STEPS:
                raise Problem(404, "Not found", "no such step")
            model, names = STEPS[step]
            body = _valid(model, {n: _text(form, n) for n in names}, console.lang(request))
            await coordination.take_step(ops(request), p, problem_id, step, body)
            state = "?state=resolved" if step == "resolution" else ""
            return RedirectResponse(f"/console/coordination{state}#problem-{problem_id}", status_code=303)

        return await page(request, build)
