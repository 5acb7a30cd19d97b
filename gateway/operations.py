"""What an operator may do through the gateway, checked in one place for the API and the console:
the scope a step needs, the estates an operator may see (object level), the department a system may
speak for, masking of personal fields, and the aggregated views (timeline, review queue, figures).

Object-level rule: a household's estate is what eligibility says (`GET /households/{id}`); any list
item about a household carries `estate` and is dropped when outside the operator's estates (an item
without an estate is dropped too: fail closed). A step on one household, case or warning outside them
is refused with 403 before anything is forwarded.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from uuid import UUID

from gateway.figures_view import with_checks
from gateway.masking import mask
from gateway.roles import Principal
from gateway.upstream import Upstream
from services.kit.http import Problem
from services.kit.paging import DEFAULT_LIMIT, Page, items_of, page_of

T = TypeVar("T")

OPEN_CASE_STATES = ("open", "proposed", "assessment", "appealed")
TIMELINE_SERVICES = ("eligibility", "penalties", "resettlement", "training", "monitoring", "federation")

TRAIL_WORDS = {
    "opened": "Review case opened after the automated first review",
    "finding": "Reviewer recorded findings and proposed an outcome",
    "approved": "Supervisor approved the proposal (four-eyes)",
    "sent_back": "Supervisor sent the proposal back",
    "assessment_requested": "Third-party assessment requested",
    "assessment_received": "Third-party assessment received",
    "appeal_lodged": "Appeal lodged",
    "appeal_decided": "Appeal decided by a supervisor (four-eyes)",
}


@dataclass(frozen=True)
class Forwarded:
    """A command's answer from its service, with the service's status (200, or 201 for a creation)."""

    status: int
    body: Any


def forbidden(detail: str, **extra: Any) -> Problem:
    return Problem(403, "Forbidden", detail, **extra)


class Operations:
    def __init__(self, upstream: Upstream) -> None:
        self.up = upstream

    # -- authorisation helpers ----------------------------------------------------------------------

    @staticmethod
    def require(p: Principal, scope: str) -> None:
        if not p.may(scope):
            raise forbidden(f"the role {p.role} does not hold the scope {scope}", scope=scope)

    @staticmethod
    def shown(p: Principal, data: T) -> T:
        return data if p.may("personal:read") else cast(T, mask(data))

    @staticmethod
    def visible(p: Principal, items: Any) -> list[Any]:
        if not isinstance(items, list):
            raise Problem(502, "Service error", "a list was expected")
        return [i for i in items if isinstance(i, dict) and p.sees_estate(i.get("estate"))]

    @staticmethod
    def check_estate(p: Principal, estate: str | None) -> None:
        if estate is not None and not p.sees_estate(estate):
            raise forbidden("that estate is outside the estates you are assigned")

    @staticmethod
    def check_object(p: Principal, item: Any) -> None:
        if not isinstance(item, dict) or not p.sees_estate(item.get("estate")):
            raise forbidden("outside the estates you are assigned")

    # -- households ---------------------------------------------------------------------------------

    async def _household(self, p: Principal, household_id: UUID) -> dict[str, Any]:
        household = await self.up.json("eligibility", "GET", f"/households/{household_id}", p)
        self.check_object(p, household)
        return dict(household)

    async def households(
        self,
        p: Principal,
        *,
        outcome: str | None = None,
        estate: str | None = None,
        building: str | None = None,
        unit: str | None = None,
        reference: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Any]:
        """A page of households, asked once: eligibility lists an estate-scoped operator's estates only
        (the assertion names them), so one cursor walks all of them."""
        params: dict[str, Any] = {"outcome": outcome, "estate": estate, "building": building, "unit": unit}
        params |= {"reference": reference, "limit": limit, "cursor": cursor}
        return await self.listing(p, "eligibility", "/households", "households:read", params)

    async def search_households(
        self, p: Principal, id_number: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[Any]:
        """Households with a member of this ID number: the number goes to eligibility in the body of a
        POST (never a URL, which access logs and traces keep) and is named in no log line."""
        self.require(p, "households:read")
        params = {"limit": limit, "cursor": cursor}
        body = {"id_number": id_number}
        found = page_of(
            await self.up.json("eligibility", "POST", "/households/search", p, json=body, params=params)
        )
        return Page(self.shown(p, self.visible(p, found.items)), found.next)

    async def household(self, p: Principal, household_id: UUID) -> Any:
        self.require(p, "households:read")
        return self.shown(p, await self._household(p, household_id))

    async def household_part(
        self, p: Principal, household_id: UUID, service: str, path: str, scope: str
    ) -> Any:
        """A household's ledger, sanctions, notices, placement or training, from its service."""
        self.require(p, scope)
        await self._household(p, household_id)
        return self.shown(p, await self.up.json(service, "GET", f"/households/{household_id}{path}", p))

    async def timeline(self, p: Principal, household_id: UUID) -> dict[str, Any]:
        """Every service's timeline of the household merged, oldest first; a service that is down or not
        deployed is named in `sources` rather than failing the whole view."""
        self.require(p, "households:read")
        await self._household(p, household_id)
        services = [s for s in TIMELINE_SERVICES if s in self.up.services]

        async def one(service: str) -> tuple[str, str, list[dict[str, Any]]]:
            try:
                response = await self.up.send(service, "GET", f"/households/{household_id}/timeline", p)
            except Problem as exc:
                return service, "timeout" if exc.status == 504 else "unavailable", []
            if response.status_code == 404 and service == "eligibility":
                return service, "ok (case trail)", await self._case_trail(p, household_id)
            if response.status_code == 404:
                return service, "ok", []
            if response.status_code != 200:
                return service, "unavailable", []
            try:
                entries = response.json().get("entries", [])
            except (ValueError, AttributeError):
                return service, "unavailable", []
            return service, "ok", [e for e in entries if isinstance(e, dict)]

        results = await asyncio.gather(*(one(s) for s in services))
        entries = [e for _, _, found in results for e in found]
        entries.sort(key=lambda e: str(e.get("at", "")))
        sources = {service: state for service, state, _ in results}
        return self.shown(p, {"household_id": str(household_id), "entries": entries, "sources": sources})

    async def _case_trail(self, p: Principal, household_id: UUID) -> list[dict[str, Any]]:
        """Eligibility's steps from its review cases' trails, for an eligibility without a timeline."""
        try:
            cases = await self.up.json("eligibility", "GET", "/cases", p, params={"limit": 1000})
        except Problem:
            return []
        entries: list[dict[str, Any]] = []
        for case in items_of(cases):
            if case.get("household_id") != str(household_id):
                continue
            for step in case.get("trail", []):
                action = str(step.get("action", ""))
                actor = step.get("actor")
                entries.append(
                    {
                        "at": step.get("at"),
                        "service": "eligibility",
                        "type": f"ReviewCase.{action}",
                        "summary": TRAIL_WORDS.get(action, action.replace("_", " ")),
                        "actor": None if actor == "system" else actor,
                        "reason": str(step.get("reason") or step.get("findings") or case.get("reason") or ""),
                        "trace_id": step.get("trace_id"),
                    }
                )
        return entries

    # -- review cases -------------------------------------------------------------------------------

    async def cases(
        self,
        p: Principal,
        status: Sequence[str] | None = None,
        estate: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Any]:
        """A page of review cases (in any of `status`), oldest first, as eligibility orders them."""
        params = {
            "status": list(status) if status else None,
            "estate": estate,
            "limit": limit,
            "cursor": cursor,
        }
        return await self.listing(p, "eligibility", "/cases", "cases:read", params)

    async def queue(
        self,
        p: Principal,
        estate: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        escalated: bool | None = None,
    ) -> Page[Any]:
        """Cases waiting for a person (not decided), oldest first: one walk over the open states;
        `escalated` keeps those with an assessment or appeal past its day (or those without)."""
        params = {
            "status": list(OPEN_CASE_STATES),
            "estate": estate,
            "escalated": None if escalated is None else str(escalated).lower(),
            "limit": limit,
            "cursor": cursor,
        }
        return await self.listing(p, "eligibility", "/cases", "cases:read", params)

    async def case(self, p: Principal, case_id: UUID) -> Any:
        self.require(p, "cases:read")
        case = await self.up.json("eligibility", "GET", f"/cases/{case_id}", p)
        self.check_object(p, case)
        return self.shown(p, case)

    async def case_step(self, p: Principal, case_id: UUID, step: str, body: dict[str, Any]) -> Any:
        """findings, assessment-requests, appeals (cases:review; eligibility keeps the appeal window by
        its own clock); approval, send-back, appeal-decision (cases:approve; eligibility's four-eyes rule,
        403 naming it, passed on)."""
        scope = "cases:approve" if step in ("approval", "send-back", "appeal-decision") else "cases:review"
        self.require(p, scope)
        case = await self.up.json("eligibility", "GET", f"/cases/{case_id}", p)
        self.check_object(p, case)
        answer = await self.up.json("eligibility", "POST", f"/cases/{case_id}/{step}", p, json=body)
        return self.shown(p, answer)

    # -- third-party assessments and exit-decision appeals ------------------------------------------

    async def assessments(
        self,
        p: Principal,
        state: str = "pending",
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Any]:
        """The assessments assigned to the caller (an assessor: eligibility lists only the assertion's
        subject's), masked like any list for a role without `personal:read`."""
        self.require(p, "assessments:read")
        params = {"assessor_id": p.subject, "state": state, "limit": limit, "cursor": cursor}
        return await self.listing(p, "eligibility", "/assessments", "assessments:read", params)

    async def assessment_report(self, p: Principal, case_id: UUID, body: dict[str, Any]) -> Any:
        """Only by the assessor the case's assessment was requested from (403 before anything is
        forwarded otherwise; eligibility holds the same rule); the case goes back to the reviewer."""
        self.require(p, "assessments:report")
        case = await self.up.json("eligibility", "GET", f"/cases/{case_id}", p)
        self.check_object(p, case)
        assigned = {a.get("assessor_id") for a in case.get("assessments") or [] if isinstance(a, dict)}
        if p.subject not in assigned:
            raise forbidden("this case's assessment was not requested from you")
        path = f"/cases/{case_id}/assessment-reports"
        answer = await self.up.json("eligibility", "POST", path, p, json=body)
        return _assessor_view(answer)

    async def reviewer_report(self, p: Principal, operator_id: str) -> Any:
        self.require(p, "cases:read")
        return await self.up.json("eligibility", "GET", f"/reviewers/{operator_id}/report", p)

    # -- parameters ---------------------------------------------------------------------------------

    async def parameters(self, p: Principal, region: str, on: str | None) -> Any:
        self.require(p, "parameters:read")
        return await self.up.json("eligibility", "GET", "/parameters", p, params={"region": region, "on": on})

    async def parameter_history(self, p: Principal, rule: str | None, region: str | None) -> Any:
        self.require(p, "parameters:read")
        return await self.up.json(
            "eligibility", "GET", "/parameters/history", p, params={"rule": rule, "region": region}
        )

    async def add_parameter_value(self, p: Principal, rule: str, body: dict[str, Any]) -> Any:
        self.require(p, "parameters:write")
        return await self.up.json("eligibility", "POST", f"/parameters/{rule}/values", p, json=body)

    async def what_if(self, p: Principal, body: dict[str, Any]) -> Any:
        """Flips under candidate values; an operator scoped to estates sees counts of those estates only."""
        self.require(p, "parameters:read")
        if p.estates is not None:
            body = {**body, "list_households": False}
        answer = await self.up.json("eligibility", "POST", "/what-if", p, json=body)
        if p.estates is not None and isinstance(answer, dict):
            flips = answer.get("flips") or {}
            for flip in flips.values():
                if isinstance(flip, dict):
                    by_estate = {e: n for e, n in (flip.get("by_estate") or {}).items() if p.sees_estate(e)}
                    flip["by_estate"] = by_estate
                    flip["count"] = sum(int(n) for n in by_estate.values())
                    flip.pop("households", None)
                    flip.pop("by_region", None)
            answer.pop("households", None)
        return answer

    # -- other services' lists ----------------------------------------------------------------------

    async def listing(
        self, p: Principal, service: str, path: str, scope: str, params: dict[str, Any] | None = None
    ) -> Page[Any]:
        """A page of a list about households (every item carries `estate`), passed through with its
        cursor: the service pages and filters by the operator's estates (the assertion names them);
        the page is filtered here again (defence in depth: an item outside them, or without an
        estate, is dropped) and masked."""
        self.require(p, scope)
        estate = (params or {}).get("estate")
        self.check_estate(p, estate)
        found = page_of(await self.up.json(service, "GET", path, p, params=params))
        return Page(self.shown(p, self.visible(p, found.items)), found.next)

    async def reference(self, p: Principal, service: str, path: str, scope: str) -> Any:
        """Data about no household in particular (courses, pools): scope only."""
        self.require(p, scope)
        return self.shown(p, await self.up.json(service, "GET", path, p))

    async def item(self, p: Principal, service: str, path: str, scope: str) -> Any:
        """One item about a household (a warning, a check), refused outside the operator's estates."""
        self.require(p, scope)
        found = await self.up.json(service, "GET", path, p)
        if isinstance(found, dict) and "estate" not in found and "household_id" in found:
            await self._household(p, UUID(str(found["household_id"])))
        else:
            self.check_object(p, found)
        return self.shown(p, found)

    async def pools(self, p: Principal) -> Any:
        self.require(p, "placements:read")
        pools = await self.up.json("resettlement", "GET", "/pools", p)
        return self.shown(p, pools)

    async def federation_exchanges(
        self, p: Principal, limit: int = 50, cursor: str | None = None
    ) -> Page[Any]:
        """A page of the federation log, newest first (every estate: not for an estate-scoped account)."""
        self.require(p, "federation:read")
        if p.estates is not None:
            raise forbidden("the federation log spans every estate; an estate-scoped account cannot read it")
        params = {"limit": limit, "cursor": cursor}
        return page_of(await self.up.json("federation", "GET", "/federation/v1/exchanges", p, params=params))

    async def federation_check(self, p: Principal, check_id: UUID) -> Any:
        self.require(p, "federation:read")
        found = await self.up.json("federation", "GET", f"/federation/v1/checks/{check_id}", p)
        if p.estates is not None:
            await self._household(p, UUID(str(found["household_id"])))
        return found

    # -- cross-region checks (eligibility asks federation) ------------------------------------------

    async def order_cross_region_sweep(self, p: Principal, body: dict[str, Any]) -> Forwarded:
        """A supervisor's order to ask the neighbour cities again about a region's and/or an estate's
        households (eligibility records it; its periodic sweep asks at the peers' pace). An
        estate-scoped account orders one for an estate of its own, never for the whole city or a
        region: a sweep without an estate spans every estate of it."""
        self.require(p, "cross-region:order")
        if p.estates is not None:
            if body.get("estate") is None:
                raise forbidden("without an estate a sweep spans every estate; name one of yours")
            self.check_estate(p, body["estate"])
        return await self._command(p, "eligibility", "/cross-region/sweeps", body)

    async def cross_region_status(self, p: Principal) -> Any:
        """Counts over the whole city that name no household: read as the dashboard's figures are
        (figures:read, estate-scoped accounts included)."""
        self.require(p, "figures:read")
        return await self.up.json("eligibility", "GET", "/cross-region/status", p)

    async def warning_step(self, p: Principal, warning_id: UUID, step: str, body: dict[str, Any]) -> Any:
        """assign, confirm, dismiss, rectify: the acting inspector is the caller, whatever the body said."""
        self.require(p, "warnings:write")
        warning = await self.up.json("monitoring", "GET", f"/warnings/{warning_id}", p)
        self.check_object(p, warning)
        who = {"operator_id": p.subject} if step == "rectify" else {"inspector_id": p.subject}
        return await self.up.json(
            "monitoring", "POST", f"/warnings/{warning_id}/{step}", p, json={**body, **who}
        )

    # -- commands on penalties, resettlement and training ---------------------------------------------
    #
    # Each needs one scope; a step on a household checks the household's estate (eligibility's word);
    # a step on an object named by its own id (a sanction, an appeal, a resettlement case, a unit, a
    # referral, a course, an employment fact) fetches that one object from its service's single read
    # (never a whole list: 12,300 units, 38,600 households) and checks its estate; a sweep over the whole
    # city is refused to an estate-scoped account. Nothing is forwarded before the checks.

    async def _command(
        self,
        p: Principal,
        service: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Forwarded:
        status, answer = await self.up.call(service, "POST", path, p, json=body, params=params)
        return Forwarded(status, self.shown(p, answer))

    async def _object(self, p: Principal, service: str, path: str) -> dict[str, Any]:
        """One object from its service's single read, refused unless in the operator's estates (an
        unknown id is the service's 404, passed on)."""
        found = await self.up.json(service, "GET", path, p)
        self.check_object(p, found)
        return dict(found)

    def _no_sweep_when_scoped(self, p: Principal) -> None:
        if p.estates is not None:
            raise forbidden("a sweep spans every estate; an estate-scoped account cannot run it")

    async def household_command(
        self, p: Principal, household_id: UUID, scope: str, service: str, path: str, body: dict[str, Any]
    ) -> Forwarded:
        """A step on one household (sanction imposed, voluntary exit, keys returned)."""
        self.require(p, scope)
        await self._household(p, household_id)
        return await self._command(p, service, f"/households/{household_id}{path}", body)

    async def _sanction(self, p: Principal, sanction_id: UUID) -> dict[str, Any]:
        return await self._object(p, "penalties", f"/sanctions/{sanction_id}")

    async def sanction_command(
        self, p: Principal, sanction_id: UUID, scope: str, step: str, body: dict[str, Any] | None
    ) -> Forwarded:
        """serve-notice, propose-execution, lift, withdraw (sanctions:write); execute, enter
        (sanctions:execute: a supervisor, four eyes on the proposal, enforced by penalties); appeals
        (appeals:lodge)."""
        self.require(p, scope)
        await self._sanction(p, sanction_id)
        return await self._command(p, "penalties", f"/sanctions/{sanction_id}/{step}", body)

    async def resolve_appeal(self, p: Principal, appeal_id: UUID, body: dict[str, Any]) -> Forwarded:
        """A supervisor decides; never on a sanction the same person imposed (four eyes). Penalties
        holds the same rule (and refuses whoever recorded the appeal) for callers that bypass us."""
        self.require(p, "appeals:decide")
        appeal = await self._object(p, "penalties", f"/appeals/{appeal_id}")
        sanction = await self._sanction(p, UUID(str(appeal.get("sanction_id"))))
        if sanction.get("imposed_by") == p.subject:
            raise Problem(
                403,
                "Four-eyes principle",
                "an appeal is decided by someone other than who imposed the sanction",
            )
        return await self._command(p, "penalties", f"/appeals/{appeal_id}/resolve", body)

    async def sweep(
        self,
        p: Principal,
        scope: str,
        service: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Forwarded:
        """The overdue check, the offers' expiry: city-wide, so not for an estate-scoped account."""
        self.require(p, scope)
        self._no_sweep_when_scoped(p)
        return await self._command(p, service, path, body, params)

    async def placement_command(
        self, p: Principal, case_id: UUID, step: str, body: dict[str, Any] | None
    ) -> Forwarded:
        """accept, decline, move-in, close, withdraw a resettlement case."""
        self.require(p, "placements:write")
        await self._object(p, "resettlement", f"/cases/{case_id}")
        return await self._command(p, "resettlement", f"/cases/{case_id}/{step}", body)

    async def unit_command(self, p: Principal, unit_id: UUID, step: str, body: dict[str, Any]) -> Forwarded:
        """A unit out of or back in service; an estate-scoped account only for units in its estates."""
        self.require(p, "placements:write")
        if p.estates is not None:
            await self._object(p, "resettlement", f"/units/{unit_id}")
        return await self._command(p, "resettlement", f"/units/{unit_id}/{step}", body)

    async def _referral(self, p: Principal, referral_id: UUID) -> None:
        await self._object(p, "training", f"/referrals/{referral_id}")

    async def add_course(self, p: Principal, body: dict[str, Any]) -> Forwarded:
        """A course held in one of the operator's estates."""
        self.require(p, "training:write")
        if not p.sees_estate(body.get("estate")):
            raise forbidden("that estate is outside the estates you are assigned")
        return await self._command(p, "training", "/courses", body)

    async def refer(self, p: Principal, body: dict[str, Any]) -> Forwarded:
        self.require(p, "training:write")
        await self._household(p, UUID(str(body["household_id"])))
        return await self._command(p, "training", "/referrals", body)

    async def referral_command(
        self, p: Principal, referral_id: UUID, path: str, body: dict[str, Any]
    ) -> Forwarded:
        """A step on a referral: enrolment or completion (`path` on a course), employment, stable work."""
        self.require(p, "training:write")
        await self._referral(p, referral_id)
        return await self._command(p, "training", path, body)

    async def attendance(
        self, p: Principal, course_id: UUID, session: int, body: dict[str, Any]
    ) -> Forwarded:
        """Who attended a session: a course held in the operator's estates."""
        self.require(p, "training:write")
        self.check_object(p, await self.up.json("training", "GET", f"/courses/{course_id}", p))
        return await self._command(p, "training", f"/courses/{course_id}/sessions/{session}/attendance", body)

    async def attribute_employment(self, p: Principal, evidence_id: UUID, referral_id: UUID) -> Forwarded:
        """An unmatched employment fact given to a trainee: both in the operator's estates."""
        self.require(p, "training:write")
        await self._object(p, "training", f"/employment-evidence/{evidence_id}")
        await self._referral(p, referral_id)
        return await self._command(
            p,
            "training",
            f"/employment-evidence/{evidence_id}/attribute",
            {"referral_id": str(referral_id)},
        )

    # -- figures ------------------------------------------------------------------------------------

    async def figures(self, p: Principal) -> dict[str, Any]:
        """Each service's `/figures` (computed here from its lists where a service has none yet), plus
        the bureau's headline rates. A service that does not answer is listed in `unavailable`."""
        self.require(p, "figures:read")
        services = [s for s in TIMELINE_SERVICES if s in self.up.services]

        async def one(service: str) -> tuple[str, dict[str, Any] | None]:
            try:
                response = await self.up.send(service, "GET", "/figures", p)
                if response.status_code == 200:
                    body = response.json()
                    return service, body if isinstance(body, dict) else None
                if response.status_code == 404:
                    return service, await self._computed_figures(service, p)
            except (Problem, ValueError):
                return service, None
            return service, None

        async def checks() -> Any:
            try:
                return await self.up.json("eligibility", "GET", "/cross-region/status", p)
            except Problem:
                return None

        status, *answers = await asyncio.gather(checks(), *(one(s) for s in services))
        found = dict(answers)
        by_service = {s: f for s, f in found.items() if f is not None}
        return with_checks(
            {
                "headline": headline(by_service),
                "services": by_service,
                "unavailable": sorted(s for s, f in found.items() if f is None),
            },
            status,
        )

    async def _computed_figures(self, service: str, p: Principal) -> dict[str, Any] | None:
        """Figures from the lists of a service that has no `/figures` yet."""
        try:
            if service == "monitoring":
                warnings = items_of(
                    await self.up.json("monitoring", "GET", "/warnings", p, params={"limit": 1000})
                )
                return {
                    "open_warnings_by_condition": dict(Counter(str(w.get("condition")) for w in warnings))
                }
            if service == "federation":
                exchanges = await self.up.json(
                    "federation", "GET", "/federation/v1/exchanges", p, params={"limit": 500}
                )
                return {"exchanges_by_kind": dict(Counter(str(e.get("kind")) for e in items_of(exchanges)))}
        except Problem:
            return None
        return None


def _assessor_view(case: Any) -> Any:
    """What an assessor is told back after filing: the case's state and its own reports, not the
    reviewers' trail or the household's facts (an assessor holds no `cases:read`)."""
    if not isinstance(case, dict):
        return case
    return {
        "case_id": case.get("case_id"),
        "status": case.get("status"),
        "assessments": case.get("assessments"),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _total(value: Any) -> float | None:
    """The sum of a flat count object, or the number itself."""
    if isinstance(value, dict):
        numbers = [_number(v) for v in value.values()]
        return sum(n for n in numbers if n is not None)
    return _number(value)


def headline(by_service: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The bureau's headline figures, from the services' own names (None where a service is absent)."""
    e = by_service.get("eligibility") or {}
    m = by_service.get("monitoring") or {}
    r = by_service.get("resettlement") or {}
    t = by_service.get("training") or {}
    pen = by_service.get("penalties") or {}

    def rate(part: float | None, whole: float | None) -> float | None:
        return None if part is None or not whole else round(part / whole, 4)

    sent_back, overturned = _number(e.get("proposals_sent_back")), _number(e.get("appeals_overturned"))
    overturns = None if sent_back is None and overturned is None else (sent_back or 0) + (overturned or 0)
    violations = pen.get("violations_by_kind") or m.get("violations_confirmed_by_kind")
    resettled = r.get("cases_by_state") or {}
    return {
        "households_under_review": _number(e.get("households_under_review")),
        "exit_rate": rate(_number(e.get("exit_decisions")), _total(e.get("final_outcomes"))),
        "review_overturn_rate": rate(overturns, _number(e.get("proposals"))),
        "violations_by_kind": violations if isinstance(violations, dict) else None,
        "warnings_open": _total(m.get("open_warnings_by_condition")),
        # households verified in the neighbour cities: eligibility's count (`figures_view.with_checks`),
        # never the federation log's rows
        "cross_region_verifications": None,
        "placements": _number(r.get("placements"))
        or (
            _total({k: v for k, v in resettled.items() if k in ("moved_in", "placed", "closed")})
            if r
            else None
        ),
        "people_trained": _number(t.get("people_trained")),
        "people_employed": _number(t.get("people_employed")),
    }
