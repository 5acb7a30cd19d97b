"""The console's record requests (issue 22): a reviewer asks a department for a record from the case
page; the bureau reads every department's requests; a department's operator answers its own.

`POST /console/cases/{id}/record-requests` is the case page's form (cases:review), sent through the
same operation as `POST /api/cases/{id}/record-requests`. `GET /console/record-requests` lists, a page
at a time: for the bureau (cases:read) every department's, by state and department; for a department's
operator (requests:answer, a `users:` entry with `department:`), only the requests addressed to its
department still open, each with a form to answer it with one fact of the kind asked (the fields of
that kind: amounts typed as yuan, `¥350,000.00` or `350000`) or to decline it (no record, cannot
verify, with a reason). Answers and declines go through `gateway.department_requests`, so the API's
checks hold (the department's own kinds, its lines-per-second budget), and eligibility's after them.
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

from contracts.department import REPORTS, DepartmentFactReported
from gateway.console_lists import PAGE, next_href
from gateway.department_requests import AnswerIn, DeclineIn, DepartmentRequests, RecordRequestIn
from gateway.roles import Principal
from gateway.wording import label, word
from services.kit.http import Problem

if TYPE_CHECKING:
    from gateway.console import Console

Page = Callable[[Request, Callable[[Principal], Awaitable[Response]]], Awaitable[Response]]

STATES = ("open", "overdue", "joint_meeting", "closed", "all")
"""The bureau's filter, as `GET /api/department-requests?state=` takes it."""
WHY = ("missing", "stale", "conflict", "doubt")
CITIES = ("CN-FS", "CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ")
"""The cities an answer's city field offers (those the console has words for)."""

FACT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "financial_assets": (("amount", "money"),),
    "income": (("monthly_income", "money"),),
    "registration": (("hukou_city", "city"), ("actual_residence_city", "city")),
    "property": (("area_m2", "number"), ("city", "city"), ("property_ref", "text")),
    "tax": (("annual_taxable_income", "money"),),
    "social_insurance": (("employer", "text"), ("contribution_base", "money")),
    "employment": (("employer", "text"), ("start_date", "date")),
}
"""The fields of each kind of fact (`contracts.department`), and how the form asks for each."""

_YUAN = re.compile(r"[¥￥,，\s元]")


def yuan_text(typed: str) -> str:
    """An amount as typed (`¥350,000.00`, `350000`, `35万` is not one) as the contract's decimal text."""
    return _YUAN.sub("", typed)


def departments() -> list[tuple[str, list[str]]]:
    """Each department with the kinds of record it keeps (`contracts.department.REPORTS`)."""
    return [(d, sorted(kinds)) for d, kinds in REPORTS.items()]


def _valid(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """A form checked by the API's own model, as the service will get it (422 naming the fields)."""
    try:
        return model.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise Problem(422, "Invalid request", where) from None


def _text(form: FormData, name: str, limit: int = 1000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def asked_body(form: FormData, lang: str) -> dict[str, Any]:
    """The case page's form as `RecordRequestIn`; a record the department does not keep is refused
    here in the reader's words."""
    department, kind = _text(form, "department", 64), _text(form, "kind", 64)
    if department not in REPORTS:
        raise Problem(
            422, "Invalid request", "部门：请选择一个部门" if lang == "zh" else "department: choose one"
        )
    if kind not in REPORTS[department]:
        kept = ("、" if lang == "zh" else ", ").join(
            label(f"record.{k}", lang) for k in sorted(REPORTS[department])
        )
        asked, by = label(f"record.{kind}", lang), word(department, lang)
        said = (
            f"{by}不保存“{asked}”，只保存：{kept}"
            if lang == "zh"
            else f"{by} does not keep that record ({asked}), only: {kept}"
        )
        raise Problem(422, "Invalid request", said)
    body = {
        "department": department,
        "kind": kind,
        "why": _text(form, "why", 16),
        "note": _text(form, "note"),
    }
    return _valid(RecordRequestIn, body)


def answered_fact(form: FormData, request: dict[str, Any]) -> dict[str, Any]:
    """One fact of the kind asked, about the request's household (or one of its persons), from the
    department's form, checked by the contract (`housing.department.fact-reported`)."""
    kind = str(request.get("kind"))
    fact: dict[str, Any] = {"kind": kind}
    for name, how in FACT_FIELDS.get(kind, ()):
        typed = _text(form, name, 200)
        fact[name] = yuan_text(typed) if how in ("money", "number") else typed
    about = _text(form, "about", 64)
    persons = [str(x) for x in request.get("persons") or []]
    body = {
        "department": request.get("department"),
        "reference": _text(form, "reference", 128),
        "described_on": _text(form, "described_on", 10),
        "household_id": request.get("household_id"),
        "person_hash": about if about in persons else None,
        "fact": fact,
    }
    return _valid(DepartmentFactReported, body)


def request_routes(router: APIRouter, console: Console, page: Page) -> None:
    """Adds the record-request pages and forms to the console's router (before the case steps)."""
    console.env.globals.update(
        record_departments=departments(),
        record_why=WHY,
        record_states=STATES,
        fact_fields=FACT_FIELDS,
        record_cities=CITIES,
    )

    def requests_of(request: Request) -> DepartmentRequests:
        found: DepartmentRequests = request.app.state.department_requests
        return found

    async def posted(request: Request, p: Principal) -> FormData:
        form = await request.form()
        console.check_csrf(request, p, str(form.get("csrf", "")))
        return form

    @router.post("/console/cases/{case_id}/record-requests")
    async def ask(request: Request, case_id: UUID) -> Response:
        async def build(p: Principal) -> Response:
            form = await posted(request, p)
            body = asked_body(form, console.lang(request))
            await requests_of(request).ops.case_step(p, case_id, "record-requests", body)
            return RedirectResponse(f"/console/cases/{case_id}#record-requests", status_code=303)

        return await page(request, build)

    @router.get("/console/record-requests")
    async def listing(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            query = request.query_params
            filters: dict[str, str] = {}
            if p.department is None:  # the bureau: every department's, by state and department
                if query.get("state") in STATES:
                    filters["state"] = str(query["state"])
                if query.get("department") in REPORTS:
                    filters["department"] = str(query["department"])
            cursor = query.get("cursor")
            found = await requests_of(request).listing(
                p, filters.get("state", "open"), filters.get("department"), None, PAGE, cursor
            )
            return console.render(
                request,
                "record_requests.html",
                p,
                requests=found.items,
                filters=filters,
                next_href=next_href("/console/record-requests", filters, found.next),
                first_page=cursor is not None,
            )

        return await page(request, build)

    @router.post("/console/record-requests/{request_id}/answer")
    async def answer(request: Request, request_id: UUID) -> Response:
        async def build(p: Principal) -> Response:
            form = await posted(request, p)
            requests = requests_of(request)
            asked = await requests.one(p, request_id)
            await requests.answer(p, request_id, AnswerIn(facts=[answered_fact(form, asked)]))
            return RedirectResponse("/console/record-requests", status_code=303)

        return await page(request, build)

    @router.post("/console/record-requests/{request_id}/decline")
    async def decline(request: Request, request_id: UUID) -> Response:
        async def build(p: Principal) -> Response:
            form = await posted(request, p)
            body = _valid(DeclineIn, {"outcome": _text(form, "outcome", 32), "reason": _text(form, "reason")})
            await requests_of(request).decline(p, request_id, DeclineIn.model_validate(body))
            return RedirectResponse("/console/record-requests", status_code=303)

        return await page(request, build)
