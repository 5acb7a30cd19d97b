"""Small in-process stand-ins for the services behind the gateway, for the unit-level routing and
authorisation matrix only (the real integration runs the real services). Every answer about a household
carries its estate; personal values are distinctive strings so a test can prove they never leak.

Like a real service, a fake verifies the gateway's assertion (`services.kit.identity`, the test key,
its own name as the audience) and answers 401 without a valid one, except `/healthz` and `/readyz`;
each call records the verified caller (`Call.caller`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.kit.http import Problem, problem_response
from services.kit.identity import Caller, Verifier
from tests.support.identity import TRUST

IN_ESTATE, OUT_ESTATE = "Chancheng Garden", "Nanhai Homes"
HOUSE_IN = "11111111-1111-4111-8111-111111111111"
HOUSE_OUT = "22222222-2222-4222-8222-222222222222"
HOUSE_SUBSIDY = "33333333-3333-4333-8333-333333333333"
"""On a rent subsidy: no estate, building or unit."""
CASE_IN = "33333333-3333-4333-8333-333333333333"
CASE_OUT = "44444444-4444-4444-8444-444444444444"
WARN_IN = "55555555-5555-4555-8555-555555555555"
WARN_OUT = "66666666-6666-4666-8666-666666666666"
CHECK_OUT = "77777777-7777-4777-8777-777777777777"
# Objects of penalties, resettlement and training named by their own ids (one per estate).
SANCTION_IN = "a1111111-1111-4111-8111-111111111111"
SANCTION_OUT = "a2222222-2222-4222-8222-222222222222"
SANCTION_OWN = "a3333333-3333-4333-8333-333333333333"  # imposed by supervisor.chen
APPEAL_IN = "b1111111-1111-4111-8111-111111111111"
APPEAL_OUT = "b2222222-2222-4222-8222-222222222222"
APPEAL_OWN = "b3333333-3333-4333-8333-333333333333"  # against SANCTION_OWN
RCASE_IN = "d1111111-1111-4111-8111-111111111111"
RCASE_OUT = "d2222222-2222-4222-8222-222222222222"
UNIT_IN = "e1111111-1111-4111-8111-111111111111"
UNIT_OUT = "e2222222-2222-4222-8222-222222222222"
REFERRAL_IN = "f1111111-1111-4111-8111-111111111111"
REFERRAL_OUT = "f2222222-2222-4222-8222-222222222222"
COURSE_IN = "99111111-1111-4111-8111-111111111111"
COURSE_OUT = "99222222-2222-4222-8222-222222222222"
EVIDENCE_IN = "88111111-1111-4111-8111-111111111111"
EVIDENCE_OUT = "88222222-2222-4222-8222-222222222222"
MEMBER_IN = "12121212-1212-4212-8212-121212121212"
REQUEST_IN = "c1111111-1111-4111-8111-111111111111"
REQUEST_OUT = "c2222222-2222-4222-8222-222222222222"
"""Record requests to departments (civil affairs), one per estate."""
PROBLEM = "77111111-1111-4111-8111-111111111111"
"""A cross-department problem of the coordination register (city-wide: no estate)."""
MEMBER_OUT = "13131313-1313-4313-8313-131313131313"

# Personal values that only `personal:read` roles may see.
INCOME = "98765.43"
BIRTH = "1961-02-03"
PERSON_HASH = "ab" * 32
PERSONAL_MARKERS = (INCOME, BIRTH, PERSON_HASH)

SERVICES = ("eligibility", "penalties", "resettlement", "training", "monitoring", "federation")
TRACE = "0af7651916cd43dd8448eb211c80319c"


def estate_of(household: str) -> str:
    return IN_ESTATE if household == HOUSE_IN else OUT_ESTATE


def household_view(household: str) -> dict[str, Any]:
    subsidy = household == HOUSE_SUBSIDY
    return {
        "household_id": household,
        "region": "CN-FS",
        "estate": None if subsidy else estate_of(household),
        "building": None if subsidy else "3",
        "unit": None if subsidy else "1204",
        "members": [
            {
                "member_id": "m1",
                "person_hash": PERSON_HASH,
                "id_number_masked": "4406**1234",
                "birth_date": BIRTH,
            }
        ],
        "facts": {
            "income": {"household": [{"value": INCOME, "department": "civil_affairs", "reference": "r"}]}
        },
        "decision": {
            "outcome": "exit_triggered",
            "rules": [{"rule": "income_per_capita", "observed": INCOME, "comparison": f"{INCOME} > 3960.00"}],
        },
        "open_case": CASE_IN if household == HOUSE_IN else CASE_OUT,
    }


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A list as the services answer it: one page, the last (`next` None)."""
    return {"items": items, "next": None}


def request_view(request: str) -> dict[str, Any]:
    household = HOUSE_IN if request == REQUEST_IN else HOUSE_OUT
    return {
        "request_id": request,
        "department": "civil_affairs",
        "kind": "income",
        "household_id": household,
        "estate": estate_of(household),
        "state": "open",
    }


def case_view(case: str) -> dict[str, Any]:
    household = HOUSE_IN if case == CASE_IN else HOUSE_OUT
    # the case inside the scoped reviewer's estates waits for assessor.zhao's report
    assessments = [{"assessor_id": "assessor.zhao", "deadline": "2026-12-31"}] if case == CASE_IN else []
    return {
        "case_id": case,
        "household_id": household,
        "estate": estate_of(household),
        "status": "open",
        "assessments": assessments,
    }


def warning_view(warning: str) -> dict[str, Any]:
    household = HOUSE_IN if warning == WARN_IN else HOUSE_OUT
    return {
        "warning_id": warning,
        "household_id": household,
        "estate": estate_of(household),
        "status": "raised",
    }


def sanction_view(sanction: str) -> dict[str, Any]:
    household = HOUSE_OUT if sanction == SANCTION_OUT else HOUSE_IN
    return {
        "sanction_id": sanction,
        "household_id": household,
        "estate": estate_of(household),
        "kind": "credit_list",
        "violation": "sublet",
        "state": "active",
        "imposed_by": "supervisor.chen" if sanction == SANCTION_OWN else "inspector.zhao",
    }


def appeal_view(appeal: str) -> dict[str, Any]:
    sanction = {APPEAL_IN: SANCTION_IN, APPEAL_OUT: SANCTION_OUT, APPEAL_OWN: SANCTION_OWN}[appeal]
    view = sanction_view(sanction)
    return {
        "appeal_id": appeal,
        "sanction_id": sanction,
        "household_id": view["household_id"],
        "estate": view["estate"],
        "state": "open",
        "grounds": "we were away for work",
    }


def resettlement_case_view(case: str) -> dict[str, Any]:
    household = HOUSE_IN if case == RCASE_IN else HOUSE_OUT
    return {"case_id": case, "household_id": household, "estate": estate_of(household), "state": "offered"}


def unit_view(unit: str, estate: str) -> dict[str, Any]:
    return {"unit_id": unit, "pool": "transitional", "estate": estate, "unit": "A-1", "state": "free"}


def evidence_view(evidence: str) -> dict[str, Any]:
    household = HOUSE_IN if evidence == EVIDENCE_IN else HOUSE_OUT
    return {
        "evidence_id": evidence,
        "household_id": household,
        "estate": estate_of(household),
        "state": "unmatched",
    }


def in_or_out(thing: str, inside: str, outside: str) -> tuple[str, str] | None:
    """(household, estate) of an object that is one of the pair, else None."""
    if thing not in (inside, outside):
        return None
    household = HOUSE_IN if thing == inside else HOUSE_OUT
    return household, estate_of(household)


@dataclass
class Call:
    service: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""
    caller: Caller | None = None
    """Who the verified assertion named (None: the call carried none, or an invalid one)."""


@dataclass
class Fakes:
    calls: list[Call] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)

    def mounts(self) -> dict[str, httpx.AsyncBaseTransport]:
        mounts: dict[str, httpx.AsyncBaseTransport] = {}
        for name in SERVICES:
            app = self.app(name)
            if name in self.down:
                mounts[f"http://{name}"] = Refusing()
            else:
                mounts[f"http://{name}"] = httpx.ASGITransport(app=app)
        return mounts

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    def app(self, name: str) -> FastAPI:
        api = FastAPI()
        verifier = Verifier(name, TRUST)

        @api.api_route("/{path:path}", methods=["GET", "POST", "PUT"])
        async def any_route(request: Request, path: str) -> JSONResponse:
            body = await request.body()
            caller: Caller | None = None
            refused: Problem | None = None
            if path not in ("healthz", "readyz"):
                try:
                    caller = verifier.authenticate(request.headers.get("authorization"))
                except Problem as exc:
                    refused = exc
            self.calls.append(
                Call(name, request.method, "/" + path, dict(request.headers), body, request.url.query, caller)
            )
            if refused is not None:
                return problem_response(
                    refused.status, refused.title, refused.detail, headers=refused.headers
                )
            if name in self.slow:
                await asyncio.sleep(5)
            found = answer(name, request.method, "/" + path, request, caller)
            if found is None:
                return JSONResponse({"title": "Not found", "status": 404}, status_code=404)
            status, content = found
            return JSONResponse(content, status_code=status)

        return api


class Refusing(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


def answer(
    service: str, method: str, path: str, request: Request, caller: Caller | None = None
) -> tuple[int, Any] | None:
    parts = path.strip("/").split("/")
    if method == "POST" and path == "/what-if":
        flip = {"count": 3, "households": [HOUSE_IN, HOUSE_OUT], "by_estate": {IN_ESTATE: 1, OUT_ESTATE: 2}}
        return 200, {
            "households": 2,
            "flips": {"qualifies->exit_triggered": {**flip, "by_region": {"CN-FS": 3}}},
        }
    if method == "POST" and service == "eligibility" and path == "/households/search":
        return 200, page([household_view(h) for h in (HOUSE_IN, HOUSE_OUT)])
    if method == "POST":
        return 200, {"status": "ok", "by": None if caller is None else caller.subject, "path": path}
    if path == "/figures":
        return 200, {"things": 3, "things_by_kind": {"a": 1, "b": 2}}
    if parts[0] == "households" and len(parts) == 3 and parts[2] == "timeline":
        return 200, {
            "household_id": parts[1],
            "entries": [
                {
                    "at": f"2026-11-27T09:0{SERVICES.index(service)}:00+00:00",
                    "service": service,
                    "type": "Thing.Happened",
                    "summary": f"{service} did something",
                    "actor": "reviewer.he",
                    "reason": "because",
                    "trace_id": TRACE,
                }
            ],
        }
    if service == "eligibility":
        if path == "/households":
            return 200, page(
                [
                    {"household_id": h, "estate": estate_of(h), "outcome": "needs_manual"}
                    for h in (HOUSE_IN, HOUSE_OUT)
                ]
            )
        if parts[0] == "households" and len(parts) == 2:
            return (
                (200, household_view(parts[1])) if parts[1] in (HOUSE_IN, HOUSE_OUT, HOUSE_SUBSIDY) else None
            )
        if path == "/cases":
            status = request.query_params.getlist("status")
            return 200, page(
                [c for c in (case_view(CASE_IN), case_view(CASE_OUT)) if not status or c["status"] in status]
            )
        if parts[0] == "cases" and len(parts) == 2:
            return (200, case_view(parts[1])) if parts[1] in (CASE_IN, CASE_OUT) else None
        if path == "/record-requests":
            return 200, page([request_view(r) for r in (REQUEST_IN, REQUEST_OUT)])
        if parts[0] == "record-requests" and len(parts) == 2:
            return (200, request_view(parts[1])) if parts[1] in (REQUEST_IN, REQUEST_OUT) else None
        problem = {"problem_id": PROBLEM, "kind": "data_conflict", "state": "open"}
        if path == "/coordination-problems":
            return 200, page([problem])
        if parts[0] == "coordination-problems" and len(parts) == 2:
            return (200, problem) if parts[1] == PROBLEM else None
        if path == "/assessments":
            mine = request.query_params.get("assessor_id") == "assessor.zhao"
            item = {"case_id": CASE_IN, "household_id": HOUSE_IN, "estate": estate_of(HOUSE_IN)}
            return 200, page([item] if mine else [])
        if path.startswith("/parameters"):
            value = {
                "value": "3960.00",
                "unit": "yuan",
                "effective_from": "2020-01-01",
                "legal_reference": "x",
            }
            return 200, {"region": "CN-FS", "on": "2026-11-27", "values": {"income_per_capita": value}}
        if parts[0] == "reviewers":
            return 200, {"cases_handled": 1}
        if path == "/cross-region/status":
            counts = ("households", "never_checked", "awaiting_answers", "due", "matched", "unverified")
            return 200, dict(zip(counts, (40, 3, 5, 2, 1, 4), strict=True))
    if service == "monitoring":
        if path == "/warnings":
            return 200, page([warning_view(WARN_IN), warning_view(WARN_OUT)])
        if parts[0] == "warnings" and len(parts) == 2:
            return (200, warning_view(parts[1])) if parts[1] in (WARN_IN, WARN_OUT) else None
    if service == "penalties":
        if path == "/appeals":
            return 200, page([appeal_view(a) for a in (APPEAL_IN, APPEAL_OUT, APPEAL_OWN)])
        if parts[0] == "appeals" and len(parts) == 2:
            return (200, appeal_view(parts[1])) if parts[1] in (APPEAL_IN, APPEAL_OUT, APPEAL_OWN) else None
        if parts[0] == "sanctions" and len(parts) == 2:
            return (
                (200, sanction_view(parts[1]))
                if parts[1] in (SANCTION_IN, SANCTION_OUT, SANCTION_OWN)
                else None
            )
        if path == "/sanctions":
            return 200, page([sanction_view(s) for s in (SANCTION_IN, SANCTION_OUT)])
        if path == "/transitions":
            return 200, page(
                [
                    {"household_id": h, "estate": estate_of(h), "kind": "rent_surcharge"}
                    for h in (HOUSE_IN, HOUSE_OUT)
                ]
            )
        if parts[0] == "households" and len(parts) == 3:
            return 200, {"household_id": parts[1], "estate": estate_of(parts[1]), "entries": []}
    if service == "resettlement":
        if path == "/pools":
            return 200, [{"pool": "transitional", "total": 13, "states": {"free": 3, "occupied": 10}}]
        if parts[0] == "pools":
            return 200, page(
                [unit_view(u, estate_of(h)) for u, h in ((UNIT_IN, HOUSE_IN), (UNIT_OUT, HOUSE_OUT))]
            )
        if path == "/cases":
            return 200, page([resettlement_case_view(c) for c in (RCASE_IN, RCASE_OUT)])
        if parts[0] == "cases" and len(parts) == 2:
            return (200, resettlement_case_view(parts[1])) if parts[1] in (RCASE_IN, RCASE_OUT) else None
        if parts[0] == "units" and len(parts) == 2 and (where := in_or_out(parts[1], UNIT_IN, UNIT_OUT)):
            return 200, unit_view(parts[1], where[1])
        if parts[0] == "households":
            return 200, {"household_id": parts[1], "estate": estate_of(parts[1]), "state": "none"}
    if service == "training":
        if (
            parts[0] == "courses"
            and len(parts) == 2
            and (where := in_or_out(parts[1], COURSE_IN, COURSE_OUT))
        ):
            return 200, {"course_id": parts[1], "code": "electrician", "estate": where[1], "trainees": []}
        if parts[0] == "referrals" and len(parts) == 2:
            where = in_or_out(parts[1], REFERRAL_IN, REFERRAL_OUT)
            if where is None:
                return None
            return 200, {
                "referral_id": parts[1],
                "member_id": MEMBER_IN,
                "household_id": where[0],
                "estate": where[1],
                "state": "open",
            }
        if path == "/employment-evidence":
            return 200, page([evidence_view(e) for e in (EVIDENCE_IN, EVIDENCE_OUT)])
        if parts[0] == "employment-evidence" and len(parts) == 2:
            return (200, evidence_view(parts[1])) if parts[1] in (EVIDENCE_IN, EVIDENCE_OUT) else None
        if path == "/courses" or parts[0] == "courses":
            return 200, [
                {"course_id": "c1", "title": "Electrician"},
                {"course_id": COURSE_IN, "code": "electrician", "title": "Electrician", "estate": IN_ESTATE},
            ]
        if path == "/referrals":
            return 200, page(
                [
                    {
                        "referral_id": REFERRAL_IN,
                        "member_id": MEMBER_IN,
                        "household_id": HOUSE_IN,
                        "estate": IN_ESTATE,
                        "state": "open",
                        "course_id": None,
                    },
                    {
                        "referral_id": REFERRAL_OUT,
                        "member_id": MEMBER_OUT,
                        "household_id": HOUSE_OUT,
                        "estate": OUT_ESTATE,
                        "state": "enrolled",
                        "course_id": COURSE_IN,
                    },
                ]
            )
        if parts[0] == "households":
            return 200, {"household_id": parts[1], "estate": estate_of(parts[1]), "referrals": []}
    if service == "federation":
        if path == "/federation/v1/exchanges":
            return 200, page([{"seq": 1, "kind": "CheckCompleted", "id": CHECK_OUT}])
        if parts[:3] == ["federation", "v1", "checks"]:
            return 200, {"check_id": parts[3], "household_id": HOUSE_OUT, "results": {}}
    return None
