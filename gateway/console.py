"""The web console: server-rendered pages (Jinja2) over the same operations as the API.

Session: the login form gets a token from the built-in issuer and keeps it in a cookie (`hx_session`,
HttpOnly, SameSite=Strict, Secure behind HTTPS); the console never reads a bearer header and the API
never reads the cookie. CSRF: the login form uses a double-submit cookie (`hx_csrf`); every form of a
logged-in page carries a synchronizer token bound to the session (HMAC of the token id), and a POST
whose `Origin` names another site is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from uuid import UUID

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from gateway.assignments import Assignments
from gateway.bodies import (
    AttendanceIn,
    DatedIn,
    DeclineIn,
    EnrolIn,
    ResolveIn,
    SanctionIn,
    SanctionStepIn,
    SweepOrderIn,
)
from gateway.charts import bar_chart, numeric_series, rate_gauge
from gateway.console_accounts import account_routes
from gateway.console_coordination import coordination_routes
from gateway.console_lists import list_routes
from gateway.console_requests import request_routes
from gateway.explain import Unavailable, explain, proposer
from gateway.figures_view import checked, log_total, series
from gateway.i18n import LANGS
from gateway.navigation import lang_link, may, return_page
from gateway.operations import Operations
from gateway.parts import part
from gateway.readable import Reader
from gateway.roles import Principal
from gateway.security import SESSION_COOKIE
from gateway.settings import GatewaySettings
from gateway.tokens import InvalidToken, Tokens
from gateway.users import Directory
from gateway.wording import label
from services.kit.http import Problem

TEMPLATES = Path(__file__).with_name("templates")
LANG_COOKIE = "hx_lang"
LOGIN_CSRF_COOKIE = "hx_csrf"

NAV = [
    ("dashboard", "/console/dashboard", "figures:read"),
    ("queue", "/console/queue", "cases:read"),
    ("household_search", "/console/households", "households:read"),
    ("warnings", "/console/warnings", "warnings:read"),
    ("sanctions", "/console/sanctions", "sanctions:read"),
    ("pools", "/console/pools", "placements:read"),
    ("training", "/console/training", "training:read"),
    ("federation", "/console/federation", "federation:read"),
    ("parameters", "/console/parameters", "parameters:read"),
    ("accounts", "/console/accounts", "accounts:estates"),
    ("assessments", "/console/assessments", "assessments:read"),
    ("record_requests", "/console/record-requests", "record-requests"),
    ("coordination", "/console/coordination", "cases:read"),
]


# What the household page shows beside the timeline, from the service that keeps it.
HOUSEHOLD_PARTS = [
    ("ledger", "penalties", "/ledger", "sanctions:read"),
    ("sanctions", "penalties", "/sanctions", "sanctions:read"),
    ("placement", "resettlement", "/placement", "placements:read"),
    ("training", "training", "/training", "training:read"),
]


class LoginRequired(Exception):
    pass


def as_rows(data: Any) -> list[dict[str, Any]]:
    """A service's answer as table rows: a list of objects, one object, or an object of objects
    (e.g. occupancy per pool), each keyed by its name."""
    if isinstance(data, list):
        return [r if isinstance(r, dict) else {"value": r} for r in data]
    if isinstance(data, dict):
        if data and all(isinstance(v, dict) for v in data.values()):
            return [{"name": k, **v} for k, v in data.items()]
        return [data]
    return []


class Console:
    def __init__(self, settings: GatewaySettings, tokens: Tokens, directory: Directory) -> None:
        self.settings, self.tokens, self.directory = settings, tokens, directory
        # derived from the issuer's private key: forms keep working across a restart, and nobody
        # without that key can compute a session's token
        secret = tokens.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        self.csrf_key = hmac.new(secret, b"console csrf", hashlib.sha256).digest()
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False
        )
        self.env.globals.update(bar_chart=bar_chart, rate_gauge=rate_gauge, numeric_series=numeric_series)
        # The administrator's estate assignments, applied over the accounts file (the same directory
        # object logs in the API's clients: an assignment holds for both).
        self.assignments = Assignments(
            directory, settings.var_dir / "gateway" / "estate-assignments.yaml", tokens.clock
        )

    # -- sessions and CSRF ------------------------------------------------------------------------

    def principal(self, request: Request) -> Principal:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise LoginRequired
        try:
            return self.tokens.verify(token)
        except InvalidToken:
            raise LoginRequired from None

    def csrf_token(self, p: Principal) -> str:
        return hmac.new(self.csrf_key, f"{p.subject}:{p.token_id}".encode(), hashlib.sha256).hexdigest()

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            raise Problem(403, "Cross-site request refused", "the form was not sent from this console")

    def check_csrf(self, request: Request, p: Principal, sent: str) -> None:
        self.check_origin(request)
        if not hmac.compare_digest(sent.encode(), self.csrf_token(p).encode()):
            raise Problem(403, "CSRF token missing or wrong", "reload the page and try again")

    # -- rendering --------------------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGS:
            return asked
        cookie = request.cookies.get(LANG_COOKIE)
        return cookie if cookie in LANGS else "zh"

    def render(
        self, request: Request, template: str, p: Principal | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = self.lang(request)
        other = "en" if lang == "zh" else "zh"
        reader = Reader(lang, self.settings.zone)
        html = self.env.get_template(template).render(
            t=lambda key: label(key, lang),
            r=reader,
            lang=lang,
            other_lang=other,
            lang_link=lang_link(request, other),
            p=p,
            csrf=self.csrf_token(p) if p is not None else "",
            nav=[(key, href) for key, href, scope in NAV if p is not None and may(p, scope)],
            path=request.url.path,
            trace_url=lambda trace_id: self.settings.trace_link(quote(str(trace_id), safe="")),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", secure=self.settings.cookie_secure
            )
        return response

    def error_page(self, request: Request, p: Principal | None, exc: Problem) -> HTMLResponse:
        """What happened and who may act, in the reader's words (the service's own words below)."""
        why = explain(exc, p, self.lang(request))
        return self.render(
            request, "error.html", p, status=exc.status, problem=exc, why=why, back=return_page(request)
        )


def safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return "/console/dashboard"


def filled(form: FormData, *names: str) -> dict[str, str]:
    """The form's non-empty text fields among `names` (an empty date or reason is left out)."""
    return {n: str(form[n])[:2000] for n in names if isinstance(form.get(n), str) and form[n]}


def uuid_field(form: FormData, name: str) -> UUID:
    try:
        return UUID(str(form.get(name, "")))
    except ValueError:
        raise Problem(422, "Invalid request", f"{name}: an id is expected") from None


def valid(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """A form checked by the API's own model of the step, as the service will get it."""
    try:
        return model.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise Problem(422, "Invalid request", where) from None


Page = Callable[[Principal], Awaitable[Response]]


def console_router(console: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def ops(request: Request) -> Operations:
        found: Operations = request.app.state.operations
        return found

    async def page(request: Request, build: Page) -> Response:
        try:
            p = await run_in_threadpool(console.principal, request)
        except LoginRequired:
            target = quote(request.url.path)
            return RedirectResponse(f"/login?next={target}", status_code=303)
        try:
            return await build(p)
        except Problem as exc:
            return console.error_page(request, p, exc)

    async def section(call: Awaitable[Any]) -> tuple[Any, str | None]:
        """A part of a page from one service: its data, or the problem when it fails (a text that
        keeps the problem, for the page to say in the reader's language)."""
        try:
            return await call, None
        except Problem as exc:
            return None, Unavailable(exc)

    # -- login ------------------------------------------------------------------------------------

    @router.get("/login")
    async def login_form(request: Request, next: str | None = None) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = console.render(request, "login.html", None, login_csrf=token, next=safe_next(next))
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=console.settings.cookie_secure
        )
        return response

    @router.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=128)],
        password: Annotated[str, Form(max_length=256)],
        csrf: Annotated[str, Form(max_length=128)],
        next: Annotated[str, Form(max_length=512)] = "/console/dashboard",
    ) -> Response:
        console.check_origin(request)
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
            return console.error_page(
                request, None, Problem(403, "CSRF token missing or wrong", "reload the login page")
            )
        account = await run_in_threadpool(console.directory.authenticate, username, password, client=False)
        if account is None:
            return console.render(
                request, "login.html", None, status=401, login_csrf=cookie, next=safe_next(next), failed=True
            )
        issued = console.tokens.issue(account)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            issued["access_token"],
            max_age=int(issued["expires_in"]),
            httponly=True,
            samesite="strict",
            secure=console.settings.cookie_secure,
            path="/",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        try:
            p = console.principal(request)
            console.check_csrf(request, p, csrf)
            console.tokens.revoke(p)
        except LoginRequired:
            pass
        except Problem as exc:
            return console.error_page(request, None, exc)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/console")
    async def home() -> Response:
        return RedirectResponse("/console/dashboard", status_code=303)

    # -- review -----------------------------------------------------------------------------------

    request_routes(router, console, page)  # before `/console/cases/{id}/{step}`: it adds a case's form

    @router.get("/console/cases/{case_id}")
    async def case(request: Request, case_id: UUID) -> Response:
        async def build(p: Principal) -> Response:
            found = await ops(request).case(p, case_id)
            household, _ = await section(ops(request).household(p, UUID(found["household_id"])))
            # the four-eyes rule, shown before it refuses: the proposer is offered no approval
            own = proposer(found) == p.subject
            # the appeal's four eyes, shown before they refuse: its lodger and the decision's approver
            appeals = found.get("appeals") or []
            approver = (found.get("final_proposal") or {}).get("approver")
            own_appeal = bool(appeals) and p.subject in (approver, appeals[-1].get("lodged_by"))
            return console.render(
                request, "case.html", p, case=found, household=household, own=own, own_appeal=own_appeal
            )

        return await page(request, build)

    @router.post("/console/cases/{case_id}/{step}")
    async def case_step(request: Request, case_id: UUID, step: str) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            if step == "findings":
                body: dict[str, Any] = {
                    "findings": str(form.get("findings", ""))[:2000],
                    "proposed_outcome": str(form.get("proposed_outcome", "")),
                    "reason_code": str(form.get("reason_code", ""))[:64],
                    "low_income": form.get("low_income") == "on",
                    "wants_to_buy": form.get("wants_to_buy") == "on",
                }
            elif step in ("approval", "send-back", "appeals"):
                body = {"reason": str(form.get("reason", ""))[:2000]}
            elif step == "appeal-decision":
                decision = str(form.get("decision", ""))
                body = {"decision": decision, "reason": str(form.get("reason", ""))[:2000]}
            else:
                raise Problem(404, "Not found", "no such step")
            await ops(request).case_step(p, case_id, step, body)
            return RedirectResponse(f"/console/cases/{case_id}", status_code=303)

        return await page(request, build)

    # -- households -------------------------------------------------------------------------------

    @router.get("/console/households/{household_id}")
    async def household(request: Request, household_id: UUID) -> Response:
        async def build(p: Principal) -> Response:
            found = await ops(request).household(p, household_id)
            timeline = await ops(request).timeline(p, household_id)
            parts = []
            for heading, service, path, scope in HOUSEHOLD_PARTS:
                if p.may(scope):
                    data, error = await section(
                        ops(request).household_part(p, household_id, service, path, scope)
                    )
                    parts.append(part(heading, data, error))
            return console.render(
                request, "household.html", p, household=found, timeline=timeline, parts=parts
            )

        return await page(request, build)

    # -- dashboard and boards ---------------------------------------------------------------------

    @router.get("/console/assessments")
    async def assessments(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            found = await ops(request).assessments(p, "all", 100, request.query_params.get("cursor"))
            return console.render(
                request, "assessments.html", p, assessments=found.items, next_cursor=found.next
            )

        return await page(request, build)

    @router.post("/console/assessments/{case_id}/report")
    async def assessment_report(request: Request, case_id: UUID) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            body = {
                "report": str(form.get("report", ""))[:2000],
                "recommendation": str(form.get("recommendation", "")),
            }
            await ops(request).assessment_report(p, case_id, body)
            return RedirectResponse("/console/assessments", status_code=303)

        return await page(request, build)

    @router.get("/console/dashboard")
    async def dashboard(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            if not p.may("figures:read") and p.may("assessments:read"):
                return RedirectResponse("/console/assessments", status_code=303)  # an assessor's start
            if not p.may("figures:read") and p.may("requests:answer"):
                return RedirectResponse("/console/record-requests", status_code=303)  # a department's
            # the cross-region figure is eligibility's checks (`Operations.figures`), as on the
            # federation page
            figures = await ops(request).figures(p)
            reader = Reader(console.lang(request), console.settings.zone)
            charts = series(figures, reader)
            return console.render(request, "dashboard.html", p, figures=figures, charts=charts)

        return await page(request, build)

    Load = Callable[[Operations, Principal], Awaitable[Any]]

    def board(name: str, parts: list[tuple[str, Load]]) -> None:
        async def view(request: Request) -> Response:
            async def build(p: Principal) -> Response:
                sections = []
                for heading, load in parts:
                    data, error = await section(load(ops(request), p))
                    sections.append(
                        {"heading": heading, "rows": as_rows(data), "error": error, "total": log_total(data)}
                    )
                # the federation page's summary: the same checks the dashboard counts (one source)
                checks = None
                if name == "federation" and not all(s["error"] for s in sections):
                    checks, _ = await section(ops(request).cross_region_status(p))
                return console.render(
                    request,
                    "board.html",
                    p,
                    title=name,
                    sections=sections,
                    checks=checks,
                    checked=checked(checks),
                )

            return await page(request, build)

        router.add_api_route(f"/console/{name}", view, methods=["GET"], name=f"console_{name}")

    @router.get("/console/warnings")
    async def warnings(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            cursor = {"cursor": request.query_params.get("cursor")}
            found, error = await section(
                ops(request).listing(p, "monitoring", "/warnings", "warnings:read", cursor)
            )
            listed, next_cursor = (found.items, found.next) if found else ([], None)
            return console.render(
                request, "warnings.html", p, warnings=listed, error=error, next_cursor=next_cursor
            )

        return await page(request, build)

    @router.post("/console/warnings/{warning_id}/{step}")
    async def warning_step(request: Request, warning_id: UUID, step: str) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            if step not in ("assign", "confirm", "dismiss"):
                raise Problem(404, "Not found", "no such step")
            body = {k: str(form[k])[:2000] for k in ("finding", "note", "reason") if form.get(k)}
            await ops(request).warning_step(p, warning_id, step, body)
            return RedirectResponse("/console/warnings", status_code=303)

        return await page(request, build)

    # -- sanctions, pools, training: boards with the steps an operator takes there -----------------

    @router.get("/console/sanctions")
    async def sanctions(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            found: dict[str, Any] = {}
            next_cursor: dict[str, str | None] = {}  # one list's next page: `?{name}_cursor=`
            for name in ("sanctions", "appeals", "transitions"):
                cursor = {"cursor": request.query_params.get(f"{name}_cursor")}
                data, error = await section(
                    ops(request).listing(p, "penalties", f"/{name}", "sanctions:read", cursor)
                )
                found[name], found[f"{name}_error"] = as_rows(data.items if data else None), error
                next_cursor[name] = data.next if data else None
            return console.render(request, "sanctions.html", p, **found, next_cursor=next_cursor)

        return await page(request, build)

    @router.get("/console/pools")
    async def pools(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            found, pools_error = await section(ops(request).pools(p))
            cursor = {"cursor": request.query_params.get("cursor")}
            cases, cases_error = await section(
                ops(request).listing(p, "resettlement", "/cases", "placements:read", cursor)
            )
            return console.render(
                request,
                "pools.html",
                p,
                pools=as_rows(found),
                pools_error=pools_error,
                cases=as_rows(cases.items if cases else None),
                cases_error=cases_error,
                next_cursor=cases.next if cases else None,
            )

        return await page(request, build)

    @router.get("/console/training")
    async def training(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            courses, courses_error = await section(
                ops(request).reference(p, "training", "/courses", "training:read")
            )
            cursor = {"cursor": request.query_params.get("cursor")}
            referrals, referrals_error = await section(
                ops(request).listing(p, "training", "/referrals", "training:read", cursor)
            )
            return console.render(
                request,
                "training.html",
                p,
                courses=as_rows(courses),
                courses_error=courses_error,
                referrals=as_rows(referrals.items if referrals else None),
                referrals_error=referrals_error,
                next_cursor=referrals.next if referrals else None,
            )

        return await page(request, build)

    Step = Callable[[Operations, Principal, UUID, FormData], Awaitable[str]]

    def action(prefix: str, steps: dict[str, Step]) -> None:
        """`POST {prefix}/{id}/{step}`: CSRF checked first, then the step through the same operations
        (so the same checks) as the API, then back to the page (303), or the problem as an error page."""

        async def post(request: Request, object_id: UUID, step: str) -> Response:
            async def build(p: Principal) -> Response:
                form = await request.form()
                console.check_csrf(request, p, str(form.get("csrf", "")))
                run = steps.get(step)
                if run is None:
                    raise Problem(404, "Not found", "no such step")
                return RedirectResponse(await run(ops(request), p, object_id, form), status_code=303)

            return await page(request, build)

        name = prefix.strip("/").replace("/", "_").replace("-", "_")
        router.add_api_route(f"{prefix}/{{object_id}}/{{step}}", post, methods=["POST"], name=name)

    @router.post("/console/sanctions/impose")
    async def impose(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            household_id = uuid_field(form, "household_id")
            body = valid(SanctionIn, filled(form, "kind", "violation", "basis_id", "note", "on"))
            await ops(request).household_command(
                p, household_id, "sanctions:write", "penalties", "/sanctions", body
            )
            return RedirectResponse("/console/sanctions", status_code=303)

        return await page(request, build)

    def sanction_step(step: str) -> Step:
        model: type[BaseModel] = SanctionStepIn if step in ("lift", "withdraw") else DatedIn
        bodiless = step in ("propose-execution", "enter")

        async def run(o: Operations, p: Principal, sanction_id: UUID, form: FormData) -> str:
            body = None if bodiless else valid(model, filled(form, "on", "reason"))
            scope = "sanctions:execute" if step in ("execute", "enter") else "sanctions:write"
            await o.sanction_command(p, sanction_id, scope, step, body)
            return "/console/sanctions"

        return run

    action(
        "/console/sanctions",
        {
            s: sanction_step(s)
            for s in ("serve-notice", "propose-execution", "execute", "enter", "lift", "withdraw")
        },
    )

    async def resolve(o: Operations, p: Principal, appeal_id: UUID, form: FormData) -> str:
        await o.resolve_appeal(p, appeal_id, valid(ResolveIn, filled(form, "outcome", "note", "on")))
        return "/console/sanctions"

    action("/console/appeals", {"resolve": resolve})

    def exit_step(step: str) -> Step:
        async def run(o: Operations, p: Principal, household_id: UUID, form: FormData) -> str:
            body = valid(DatedIn, filled(form, "on"))
            await o.household_command(p, household_id, "exits:write", "penalties", f"/{step}", body)
            return f"/console/households/{household_id}"

        return run

    action("/console/households", {s: exit_step(s) for s in ("voluntary-exit", "keys-returned")})

    def case_step_of(step: str) -> Step:
        async def run(o: Operations, p: Principal, case_id: UUID, form: FormData) -> str:
            body = valid(DeclineIn, filled(form, "reason")) if step == "decline" else None
            await o.placement_command(p, case_id, step, body)
            return "/console/pools"

        return run

    action("/console/resettlement-cases", {s: case_step_of(s) for s in ("accept", "decline", "move-in")})

    async def enrol(o: Operations, p: Principal, referral_id: UUID, form: FormData) -> str:
        course_id = uuid_field(form, "course_id")
        body = valid(EnrolIn, {"referral_id": str(referral_id), **filled(form, "on")})
        await o.referral_command(p, referral_id, f"/courses/{course_id}/enrolments", body)
        return "/console/training"

    action("/console/referrals", {"enrol": enrol})

    async def attendance(o: Operations, p: Principal, course_id: UUID, form: FormData) -> str:
        session = str(form.get("session", ""))
        if not session.isdigit() or not 1 <= int(session) <= 500:
            raise Problem(422, "Invalid request", "session: a number from 1")
        attendees = [str(a) for a in form.getlist("attendees")]
        body = valid(AttendanceIn, {"attendees": attendees, **filled(form, "held_on")})
        await o.attendance(p, course_id, int(session), body)
        return "/console/training"

    action("/console/courses", {"attendance": attendance})

    async def federation_log(o: Operations, p: Principal) -> list[Any]:
        return (await o.federation_exchanges(p, 100)).items

    board("federation", [("federation", federation_log)])

    # -- accounts: the administrator assigns estates -------------------------------------------------

    account_routes(router, console, page)
    list_routes(router, console, page)
    coordination_routes(router, console, page)

    # -- parameters and what-if ---------------------------------------------------------------------

    async def parameters_page(
        request: Request, p: Principal, result: Any = None, asked: Any = None, ordered: Any = None
    ) -> Response:
        values, error = await section(ops(request).parameters(p, "CN-FS", None))
        # The cross-region checks beside the parameters: the supervisor who sets the rules orders the
        # neighbour cities asked again (eligibility's sweep), and everyone who reads the figures sees
        # how far the checks are.
        checks, checks_error = (
            await section(ops(request).cross_region_status(p)) if p.may("figures:read") else (None, None)
        )
        return console.render(
            request,
            "parameters.html",
            p,
            values=values,
            error=error,
            result=result,
            asked=asked or {},
            checks=checks if isinstance(checks, dict) else None,
            checks_error=checks_error,
            ordered=ordered,
        )

    @router.get("/console/parameters")
    async def parameters(request: Request) -> Response:
        return await page(request, lambda p: parameters_page(request, p))

    @router.post("/console/parameters/what-if")
    async def what_if(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            asked = {k: str(form.get(k, "")) for k in ("rule", "region", "value", "on")}
            body = {
                "on": asked["on"],
                "values": [{"rule": asked["rule"], "region": asked["region"], "value": asked["value"]}],
                "list_households": False,
            }
            result = await ops(request).what_if(p, body)
            return await parameters_page(request, p, result=result, asked=asked)

        return await page(request, build)

    @router.post("/console/cross-region/sweeps")
    async def order_sweep(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            body = valid(SweepOrderIn, filled(form, "region", "estate", "reason"))
            ordered = await ops(request).order_cross_region_sweep(p, body)
            return await parameters_page(request, p, ordered=ordered.body)

        return await page(request, build)

    @router.post("/console/parameters/values")
    async def add_value(request: Request) -> Response:
        async def build(p: Principal) -> Response:
            form = await request.form()
            console.check_csrf(request, p, str(form.get("csrf", "")))
            fields = ("region", "effective_from", "value", "legal_reference", "reason")
            body = {k: str(form.get(k, ""))[:2000] for k in fields}
            rule = str(form.get("rule", ""))
            if not rule.replace("_", "").isalnum():
                raise Problem(422, "Invalid request", "unknown rule")
            await ops(request).add_parameter_value(p, rule, body)
            return RedirectResponse("/console/parameters", status_code=303)

        return await page(request, build)

    return router
