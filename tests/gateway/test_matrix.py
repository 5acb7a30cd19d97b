"""Role x route x estate: every combination, against fake services. The expected table is written out
here (not derived from gateway.roles), so a change of the scope table that opens a route fails a test.

For every refused combination: 403 problem+json (401 without a token), no personal value and no
out-of-estate data in the answer, and nothing forwarded to a service when the call would write."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.masking import mask
from gateway.tokens import Tokens
from gateway.users import Account
from tests.gateway.conftest import ACCOUNTS, GatewayFactory, bearer
from tests.gateway.fakes import (
    APPEAL_IN,
    APPEAL_OUT,
    APPEAL_OWN,
    CASE_IN,
    CASE_OUT,
    CHECK_OUT,
    COURSE_IN,
    COURSE_OUT,
    EVIDENCE_IN,
    EVIDENCE_OUT,
    HOUSE_IN,
    HOUSE_OUT,
    IN_ESTATE,
    INCOME,
    MEMBER_IN,
    OUT_ESTATE,
    PERSONAL_MARKERS,
    PROBLEM,
    RCASE_IN,
    RCASE_OUT,
    REFERRAL_IN,
    REFERRAL_OUT,
    REQUEST_IN,
    REQUEST_OUT,
    SANCTION_IN,
    SANCTION_OUT,
    UNIT_IN,
    UNIT_OUT,
    WARN_IN,
    WARN_OUT,
    Fakes,
)

READERS = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2", "inspector", "auditor", "admin"}
CASE_READERS = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2", "auditor", "admin"}


def UNSCOPED(roles: set[str]) -> set[str]:
    """The roles without the estate-scoped reviewer (for objects outside her estates)."""
    return roles - {"reviewer_scoped"}


REVIEWERS = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2"}
# penalties' officers (sanctions:write, exits:write, appeals:lodge), deciders of appeals, case workers
# of resettlement and training (placements:write, training:write)
OFFICERS = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2", "inspector", "admin"}
DECIDERS = {"supervisor", "supervisor2", "admin"}
# the second pair of eyes on irreversible steps (sanctions:execute): supervisors only
EXECUTORS = {"supervisor", "supervisor2"}
CASEWORKERS = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2", "admin"}
PERSONAL = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2"}

FINDING = {"findings": "payslips", "proposed_outcome": "exit_required", "reason_code": "INC"}
FACT = {
    "department": "civil_affairs",
    "reference": "r1",
    "described_on": "2026-11-01",
    "household_id": HOUSE_IN,
    "fact": {"kind": "income", "monthly_income": "3000.00"},
}
ASK = {"department": "civil_affairs", "kind": "income", "why": "stale"}
DECLINE = {"outcome": "no_record", "reason": "none since 2024"}
PROBLEM_IN = {"title": "t", "description": "d", "kind": "no_answer", "departments": ["tax"]}
ASSIGN = {"department": "tax", "owner": "reviewer.he"}
ASSESSMENT = {"assessor_id": "assessor.zhao", "deadline": "2026-12-31"}
REPORT = {"report": "income is seasonal", "recommendation": "transition"}
APPEAL_DECISION = {"decision": "overturned", "reason": "the job loss is documented"}
VALUE = {"region": "CN-FS", "effective_from": "2027-01-01", "value": "4000.00", "legal_reference": "x"}
WHAT_IF = {"on": "2026-11-27", "values": [{"rule": "income_per_capita", "region": "CN-FS", "value": "1"}]}
SANCTION = {"kind": "credit_list", "violation": "sublet", "basis_id": WARN_IN, "note": "confirmed"}
COURSE = {
    "code": "electrician-2027",
    "title": "Electrician",
    "provider": "Foshan technical school",
    "estate": IN_ESTATE,
    "capacity": 20,
    "sessions": [{"on": "2027-03-01", "topic": "safety"}],
}
EMPLOYMENT = {"employer": "Midea", "start_date": "2027-05-01"}
HOUSEHOLD = {
    "region": "CN-FS",
    "estate": "Chancheng Garden",
    "building": "1",
    "unit": "1",
    "base_rent": "500.00",
    "tenancy_start": "2020-01-01",
    "members": [{"id_number": "440604198507151234", "birth_date": "1985-07-15"}],
}

CREDENTIAL = {"kind": "card", "credential_id": "C-1", "member_id": MEMBER_IN}

# (method, path, body, roles allowed)
ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/api/me", None, set(ACCOUNTS)),
    ("GET", "/api/households", None, READERS),
    ("POST", "/api/households/search", {"id_number": "440604198507151234"}, READERS),
    ("GET", f"/api/households/{HOUSE_IN}", None, READERS),
    ("GET", f"/api/households/{HOUSE_OUT}", None, UNSCOPED(READERS)),
    ("GET", f"/api/households/{HOUSE_IN}/timeline", None, READERS),
    ("GET", f"/api/households/{HOUSE_OUT}/timeline", None, UNSCOPED(READERS)),
    ("GET", f"/api/households/{HOUSE_IN}/ledger", None, READERS),
    ("GET", f"/api/households/{HOUSE_OUT}/sanctions", None, UNSCOPED(READERS)),
    ("GET", f"/api/households/{HOUSE_IN}/notices", None, READERS),
    ("GET", f"/api/households/{HOUSE_IN}/placement", None, CASE_READERS),
    ("GET", f"/api/households/{HOUSE_OUT}/training", None, UNSCOPED(CASE_READERS)),
    ("POST", "/api/households", HOUSEHOLD, {"admin", "registry", "registry_scoped"}),
    ("POST", "/api/registrations", [HOUSEHOLD], {"admin", "registry", "registry_scoped"}),
    ("POST", "/api/credentials", [CREDENTIAL], {"admin", "registry", "registry_scoped"}),
    ("GET", "/api/review-queue", None, CASE_READERS),
    ("GET", "/api/cases", None, CASE_READERS),
    ("GET", f"/api/cases/{CASE_IN}", None, CASE_READERS),
    ("GET", f"/api/cases/{CASE_OUT}", None, UNSCOPED(CASE_READERS)),
    (
        "POST",
        f"/api/cases/{CASE_IN}/findings",
        FINDING,
        {"reviewer", "reviewer_scoped", "supervisor", "supervisor2"},
    ),
    ("POST", f"/api/cases/{CASE_OUT}/findings", FINDING, {"reviewer", "supervisor", "supervisor2"}),
    ("POST", f"/api/cases/{CASE_IN}/approval", {"reason": "ok"}, {"supervisor", "supervisor2"}),
    ("POST", f"/api/cases/{CASE_OUT}/send-back", {"reason": "no"}, {"supervisor", "supervisor2"}),
    ("POST", f"/api/cases/{CASE_IN}/assessment-requests", ASSESSMENT, REVIEWERS),
    ("GET", "/api/assessments", None, {"assessor"}),
    ("POST", f"/api/cases/{CASE_IN}/assessment-reports", REPORT, {"assessor"}),
    ("POST", f"/api/cases/{CASE_OUT}/assessment-reports", REPORT, set()),  # not assigned to it
    ("POST", f"/api/cases/{CASE_IN}/appeals", {"reason": "lost his job"}, REVIEWERS),
    ("POST", f"/api/cases/{CASE_OUT}/appeals", {"reason": "ill"}, UNSCOPED(REVIEWERS)),
    ("POST", f"/api/cases/{CASE_IN}/appeal-decision", APPEAL_DECISION, {"supervisor", "supervisor2"}),
    ("GET", "/api/reviewers/reviewer.he/report", None, CASE_READERS),
    ("GET", "/api/parameters", None, CASE_READERS),
    ("GET", "/api/parameters/history", None, CASE_READERS),
    ("POST", "/api/parameters/income_per_capita/values", VALUE, {"supervisor", "supervisor2"}),
    ("POST", "/api/what-if", WHAT_IF, CASE_READERS),
    ("POST", "/api/facts", [FACT], {"department"}),
    ("POST", f"/api/cases/{CASE_IN}/record-requests", ASK, REVIEWERS),
    ("POST", f"/api/cases/{CASE_OUT}/record-requests", ASK, UNSCOPED(REVIEWERS)),
    ("POST", f"/api/households/{HOUSE_IN}/record-requests", ASK, REVIEWERS),
    ("POST", f"/api/households/{HOUSE_OUT}/record-requests", ASK, UNSCOPED(REVIEWERS)),
    ("GET", "/api/department-requests", None, CASE_READERS | {"department"}),
    ("GET", f"/api/department-requests/{REQUEST_IN}", None, CASE_READERS | {"department"}),
    # the department's own (eligibility refuses another department's), or a bureau role in its estates
    ("GET", f"/api/department-requests/{REQUEST_OUT}", None, UNSCOPED(CASE_READERS) | {"department"}),
    ("POST", f"/api/department-requests/{REQUEST_IN}/answer", {"facts": [FACT]}, {"department"}),
    ("POST", f"/api/department-requests/{REQUEST_OUT}/decline", DECLINE, {"department"}),
    ("POST", f"/api/department-requests/{REQUEST_IN}/inspection", {"finding": "sublet"}, {"department"}),
    ("POST", "/api/coordination-problems", PROBLEM_IN, {"supervisor", "supervisor2"}),
    ("GET", "/api/coordination-problems", None, CASE_READERS),
    ("GET", f"/api/coordination-problems/{PROBLEM}", None, CASE_READERS),
    ("POST", f"/api/coordination-problems/{PROBLEM}/assignment", ASSIGN, {"supervisor", "supervisor2"}),
    ("POST", f"/api/coordination-problems/{PROBLEM}/discussion", {"note": "agreed"}, REVIEWERS),
    (
        "POST",
        f"/api/coordination-problems/{PROBLEM}/resolution",
        {"resolution": "x"},
        {"supervisor", "supervisor2"},
    ),
    ("GET", "/api/warnings", None, READERS - {"inspector"} | {"inspector"}),
    ("GET", f"/api/warnings/{WARN_IN}", None, READERS),
    ("GET", f"/api/warnings/{WARN_OUT}", None, UNSCOPED(READERS)),
    ("POST", f"/api/warnings/{WARN_IN}/confirm", {"finding": "vacant"}, {"inspector"}),
    ("GET", "/api/sanctions", None, READERS),
    ("GET", "/api/transitions", None, READERS),
    ("GET", "/api/appeals", None, READERS),
    ("GET", "/api/pools", None, CASE_READERS),
    ("GET", "/api/pools/transitional/units", None, CASE_READERS),
    ("GET", "/api/resettlement-cases", None, CASE_READERS),
    ("GET", "/api/courses", None, CASE_READERS),
    ("GET", f"/api/courses/{COURSE_IN}", None, CASE_READERS),
    ("GET", "/api/referrals", None, CASE_READERS),
    ("GET", "/api/federation/exchanges", None, {"auditor", "admin"}),
    ("GET", f"/api/federation/checks/{CHECK_OUT}", None, {"auditor", "admin"}),
    ("GET", "/api/figures", None, READERS),
    ("GET", "/api/cross-region/status", None, READERS),
    (
        "POST",
        "/api/cross-region/sweeps",
        {"region": "CN-FS", "reason": "annual"},
        {"supervisor", "supervisor2"},
    ),
    # -- penalties: commands
    ("POST", f"/api/households/{HOUSE_IN}/sanctions", SANCTION, OFFICERS),
    ("POST", f"/api/households/{HOUSE_OUT}/sanctions", SANCTION, UNSCOPED(OFFICERS)),
    ("POST", f"/api/households/{HOUSE_IN}/voluntary-exit", {}, OFFICERS),
    ("POST", f"/api/households/{HOUSE_OUT}/voluntary-exit", {}, UNSCOPED(OFFICERS)),
    ("POST", f"/api/households/{HOUSE_IN}/keys-returned", {"on": "2027-06-30"}, OFFICERS),
    ("POST", f"/api/households/{HOUSE_OUT}/keys-returned", {}, UNSCOPED(OFFICERS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/serve-notice", {}, OFFICERS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/serve-notice", {}, UNSCOPED(OFFICERS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/propose-execution", None, OFFICERS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/propose-execution", None, UNSCOPED(OFFICERS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/execute", {}, EXECUTORS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/execute", {}, UNSCOPED(EXECUTORS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/enter", None, EXECUTORS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/enter", None, UNSCOPED(EXECUTORS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/lift", {"reason": "moved back in"}, OFFICERS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/lift", {}, UNSCOPED(OFFICERS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/withdraw", {"reason": "in error"}, OFFICERS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/withdraw", {"reason": "in error"}, UNSCOPED(OFFICERS)),
    ("POST", f"/api/sanctions/{SANCTION_IN}/appeals", {"grounds": "away for work"}, OFFICERS),
    ("POST", f"/api/sanctions/{SANCTION_OUT}/appeals", {"grounds": "away"}, UNSCOPED(OFFICERS)),
    ("POST", f"/api/appeals/{APPEAL_IN}/resolve", {"outcome": "dismissed"}, DECIDERS),
    ("POST", f"/api/appeals/{APPEAL_OUT}/resolve", {"outcome": "upheld", "note": "n"}, DECIDERS),
    ("POST", "/api/transitions/overdue-check", None, UNSCOPED(OFFICERS)),
    # -- resettlement: commands
    ("POST", f"/api/resettlement-cases/{RCASE_IN}/accept", None, CASEWORKERS),
    ("POST", f"/api/resettlement-cases/{RCASE_OUT}/accept", None, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/resettlement-cases/{RCASE_IN}/decline", {"reason": "too far"}, CASEWORKERS),
    ("POST", f"/api/resettlement-cases/{RCASE_OUT}/decline", {}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/resettlement-cases/{RCASE_IN}/move-in", None, CASEWORKERS),
    ("POST", f"/api/resettlement-cases/{RCASE_OUT}/move-in", None, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/resettlement-cases/{RCASE_IN}/close", None, CASEWORKERS),
    ("POST", f"/api/resettlement-cases/{RCASE_OUT}/close", None, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/resettlement-cases/{RCASE_IN}/withdraw", {"reason": "bought"}, CASEWORKERS),
    ("POST", f"/api/resettlement-cases/{RCASE_OUT}/withdraw", {"reason": "x"}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/units/{UNIT_IN}/out-of-service", {"reason": "leak"}, CASEWORKERS),
    ("POST", f"/api/units/{UNIT_OUT}/out-of-service", {}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/units/{UNIT_IN}/back-in-service", {}, CASEWORKERS),
    ("POST", f"/api/units/{UNIT_OUT}/back-in-service", {}, UNSCOPED(CASEWORKERS)),
    ("POST", "/api/resettlement-cases/expire", {"as_of": "2027-01-01"}, UNSCOPED(CASEWORKERS)),
    # -- training: commands
    ("POST", "/api/courses", COURSE, CASEWORKERS),
    ("POST", "/api/courses", {**COURSE, "estate": OUT_ESTATE}, UNSCOPED(CASEWORKERS)),
    ("POST", "/api/referrals", {"household_id": HOUSE_IN, "member_id": MEMBER_IN}, CASEWORKERS),
    ("POST", "/api/referrals", {"household_id": HOUSE_OUT, "member_id": MEMBER_IN}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/courses/{COURSE_IN}/enrolments", {"referral_id": REFERRAL_IN}, CASEWORKERS),
    ("POST", f"/api/courses/{COURSE_IN}/enrolments", {"referral_id": REFERRAL_OUT}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/courses/{COURSE_IN}/sessions/1/attendance", {"attendees": [MEMBER_IN]}, CASEWORKERS),
    ("POST", f"/api/courses/{COURSE_OUT}/sessions/2/attendance", {"attendees": []}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/courses/{COURSE_IN}/completions", {"referral_id": REFERRAL_IN}, CASEWORKERS),
    ("POST", f"/api/courses/{COURSE_IN}/completions", {"referral_id": REFERRAL_OUT}, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/referrals/{REFERRAL_IN}/employment", EMPLOYMENT, CASEWORKERS),
    ("POST", f"/api/referrals/{REFERRAL_OUT}/employment", EMPLOYMENT, UNSCOPED(CASEWORKERS)),
    ("POST", f"/api/referrals/{REFERRAL_IN}/employment/stable", {"basis": "called"}, CASEWORKERS),
    ("POST", f"/api/referrals/{REFERRAL_OUT}/employment/stable", {"basis": "x"}, UNSCOPED(CASEWORKERS)),
    (
        "POST",
        f"/api/employment-evidence/{EVIDENCE_IN}/attribute",
        {"referral_id": REFERRAL_IN},
        CASEWORKERS,
    ),
    (
        "POST",
        f"/api/employment-evidence/{EVIDENCE_OUT}/attribute",
        {"referral_id": REFERRAL_OUT},
        UNSCOPED(CASEWORKERS),
    ),
    (
        "POST",
        f"/api/employment-evidence/{EVIDENCE_IN}/attribute",
        {"referral_id": REFERRAL_OUT},
        UNSCOPED(CASEWORKERS),
    ),
]


async def test_openapi_documents_every_api_route(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        schema = (await client.get("/openapi.json")).json()
        routes = {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}
    documented = {path for _, path in routes if path.startswith("/api/")}
    covered = {
        path.replace(SANCTION_IN, "{sanction_id}")
        .replace(SANCTION_OUT, "{sanction_id}")
        .replace(APPEAL_IN, "{appeal_id}")
        .replace(APPEAL_OUT, "{appeal_id}")
        .replace(RCASE_IN, "{case_id}")
        .replace(REQUEST_IN, "{request_id}")
        .replace(REQUEST_OUT, "{request_id}")
        .replace(PROBLEM, "{problem_id}")
        .replace(RCASE_OUT, "{case_id}")
        .replace(UNIT_IN, "{unit_id}")
        .replace(UNIT_OUT, "{unit_id}")
        .replace(REFERRAL_IN, "{referral_id}")
        .replace(REFERRAL_OUT, "{referral_id}")
        .replace(COURSE_IN, "{course_id}")
        .replace(COURSE_OUT, "{course_id}")
        .replace(EVIDENCE_IN, "{evidence_id}")
        .replace(EVIDENCE_OUT, "{evidence_id}")
        .replace("/sessions/1/", "/sessions/{session}/")
        .replace("/sessions/2/", "/sessions/{session}/")
        .replace(HOUSE_IN, "{household_id}")
        .replace(HOUSE_OUT, "{household_id}")
        .replace(CASE_IN, "{case_id}")
        .replace(CASE_OUT, "{case_id}")
        .replace(WARN_IN, "{warning_id}")
        .replace(WARN_OUT, "{warning_id}")
        .replace(CHECK_OUT, "{check_id}")
        .replace("/reviewer.he/", "/{operator_id}/")
        .replace("/transitional/", "/{pool}/")
        .replace("/c1", "/{course_id}")
        .replace("/income_per_capita/", "/{rule}/")
        .replace("/confirm", "/{step}")
        for _, path, _, _ in ROUTES
    }
    assert documented - covered <= {"/api/status"}, documented - covered
    assert ("POST", "/auth/token") in routes
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize("role", [*ACCOUNTS, "anonymous"])
async def test_role_route_estate_matrix(
    role: str, gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    headers = {} if role == "anonymous" else bearer(tokens, role)
    # identity headers sent by a client are never forwarded
    headers |= {"X-Operator-Id": "someone.else", "X-Operator-Role": "supervisor"}
    failures = []
    async with gateway() as client:
        for method, path, body, allowed in ROUTES:
            before = len(fakes.writes())
            response = await client.request(method, path, headers=headers, json=body)
            text = response.text
            if role in allowed:
                if response.status_code >= 300:
                    failures.append(
                        f"{role} {method} {path}: expected success, got {response.status_code} {text}"
                    )
                    continue
                if role == "reviewer_scoped" and (OUT_ESTATE in text or HOUSE_OUT in text):
                    failures.append(f"{role} {method} {path}: out-of-estate data in {text[:200]}")
                if role not in PERSONAL and any(marker in text for marker in PERSONAL_MARKERS):
                    failures.append(f"{role} {method} {path}: personal data unmasked")
                continue
            expected = 401 if role == "anonymous" else 403
            if response.status_code != expected:
                failures.append(
                    f"{role} {method} {path}: expected {expected}, got {response.status_code} {text}"
                )
            if response.headers.get("content-type") != "application/problem+json":
                failures.append(f"{role} {method} {path}: not problem+json")
            if any(marker in text for marker in (*PERSONAL_MARKERS, OUT_ESTATE)):
                failures.append(f"{role} {method} {path}: refusal leaks data: {text}")
            if len(fakes.writes()) != before:
                failures.append(f"{role} {method} {path}: a refused write reached a service")
    assert not failures, "\n".join(failures)
    # every call carries an assertion its service accepts, for that service, naming the token's operator
    forwarded = {
        (c.caller.subject, c.caller.role, c.caller.estates, c.caller.department) if c.caller else None
        for c in fakes.calls
    }
    if role == "anonymous":
        assert not fakes.calls
    else:
        account = ACCOUNTS[role]
        assert forwarded == {(account.id, account.role, account.estates, account.department)}
        assert not any("x-operator-id" in c.headers for c in fakes.calls)


async def test_personal_fields_are_shown_only_with_personal_read(
    gateway: GatewayFactory, tokens: Tokens
) -> None:
    async with gateway() as client:
        reviewer = await client.get(f"/api/households/{HOUSE_IN}", headers=bearer(tokens, "reviewer"))
        auditor = await client.get(f"/api/households/{HOUSE_IN}", headers=bearer(tokens, "auditor"))
    assert reviewer.json()["facts"]["income"]["household"][0]["value"] == INCOME
    masked = auditor.json()
    assert masked["facts"]["income"]["household"][0] == {
        "value": "***",
        "department": "civil_affairs",
        "reference": "r",
    }
    assert masked["members"][0]["birth_date"] == "***"
    assert masked["decision"]["rules"][0]["observed"] == "***"
    assert masked["decision"]["rules"][0]["comparison"] == "*** > 3960.00"  # words kept, value hidden
    assert masked["decision"]["outcome"] == "exit_triggered"  # the decision itself stays visible
    area = {"rule": "housing_area", "observed": "0.00", "comparison": "0.00 <= 60.00 m2: within the limit"}
    assert mask(area)["comparison"] == "*** <= 60.00 m2: within the limit"
    per_capita = {
        "rule": "income_per_capita",
        "observed": "2197.00",
        "threshold": "3960.00",
        "comparison": "(0.00 + 0.00 + 0.00 + 8788.00) / 4 members = 2197.00 <= 3960.00 yuan/person/month",
    }
    assert (
        mask(per_capita)["comparison"]
        == "(*** + *** + *** + ***) / 4 members = *** <= 3960.00 yuan/person/month"
    )


async def test_lists_are_filtered_to_the_operators_estates(gateway: GatewayFactory, tokens: Tokens) -> None:
    async with gateway() as client:
        scoped = bearer(tokens, "reviewer_scoped")
        households = (await client.get("/api/households", headers=scoped)).json()["items"]
        queue = (await client.get("/api/review-queue", headers=scoped)).json()["items"]
        asked_other = await client.get("/api/households", params={"estate": OUT_ESTATE}, headers=scoped)
        everyone = (await client.get("/api/households", headers=bearer(tokens, "reviewer"))).json()["items"]
    assert [h["household_id"] for h in households] == [HOUSE_IN]
    assert [c["case_id"] for c in queue] == [CASE_IN]
    assert asked_other.status_code == 403
    assert {h["household_id"] for h in everyone} == {HOUSE_IN, HOUSE_OUT}


async def test_a_department_pushes_only_its_own_kind_of_facts(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    department = bearer(tokens, "department")
    other_department = {
        **FACT,
        "department": "finance",
        "fact": {"kind": "financial_assets", "amount": "1.00"},
    }
    other_kind = {
        **FACT,
        "fact": {"kind": "property", "area_m2": "80.00", "city": "CN-FS", "property_ref": "p"},
    }
    async with gateway() as client:
        ok = await client.post("/api/facts", headers=department, json=[FACT])
        refused = await client.post(
            "/api/facts", headers=department, json=[FACT, other_department, other_kind]
        )
        ndjson = await client.post(
            "/api/facts",
            headers={**department, "content-type": "application/x-ndjson"},
            content=(json.dumps(FACT) + "\n" + json.dumps(other_kind)).encode(),
        )
    assert ok.status_code == 200
    assert refused.status_code == 403
    assert [line["line"] for line in refused.json()["lines"]] == [2, 3]
    assert ndjson.status_code == 403 and [line["line"] for line in ndjson.json()["lines"]] == [2]
    posted = [c for c in fakes.writes() if c.path == "/facts"]
    assert len(posted) == 1 and json.loads(posted[0].body) == [FACT]


async def test_scoped_what_if_shows_only_own_estates(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    async with gateway() as client:
        scoped = await client.post("/api/what-if", headers=bearer(tokens, "reviewer_scoped"), json=WHAT_IF)
        everyone = await client.post("/api/what-if", headers=bearer(tokens, "reviewer"), json=WHAT_IF)
    sent = json.loads(next(c for c in fakes.writes() if c.path == "/what-if").body)
    assert sent["list_households"] is False
    assert scoped.json()["flips"]["qualifies->exit_triggered"] == {"count": 1, "by_estate": {IN_ESTATE: 1}}
    assert everyone.json()["flips"]["qualifies->exit_triggered"]["count"] == 3


async def test_names_in_paths_cannot_climb_out_of_their_route(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    async with gateway() as client:
        for path in (
            "/api/pools/..%2F..%2Fadmin/units",
            "/api/courses/%2E%2E",
            "/api/reviewers/..%2Fx/report",
        ):
            response = await client.get(path, headers=bearer(tokens, "auditor"))
            assert response.status_code in (404, 422), (path, response.status_code)
    assert not fakes.calls


async def test_an_appeal_is_not_decided_by_who_imposed_the_sanction(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    """SANCTION_OWN was imposed by supervisor.chen: he cannot decide the appeal against it, another
    supervisor can; the refusal forwards nothing."""
    url = f"/api/appeals/{APPEAL_OWN}/resolve"
    async with gateway() as client:
        own = await client.post(url, json={"outcome": "upheld"}, headers=bearer(tokens, "supervisor"))
        assert own.status_code == 403 and own.json()["title"] == "Four-eyes principle"
        assert not fakes.writes()
        other = await client.post(url, json={"outcome": "upheld"}, headers=bearer(tokens, "supervisor2"))
        unknown = await client.post(
            f"/api/appeals/{CASE_IN}/resolve",
            json={"outcome": "upheld"},
            headers=bearer(tokens, "supervisor2"),
        )
    assert other.status_code == 200
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    (call,) = fakes.writes()
    assert call.path == url.removeprefix("/api") and call.caller and call.caller.subject == "supervisor.wang"
    assert json.loads(call.body) == {"outcome": "upheld", "note": ""}


async def test_a_scoped_supervisor_decides_appeals_of_her_estates_only(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    scoped = Account("supervisor.he", "supervisor", "", estates=frozenset({IN_ESTATE}))
    headers = {"authorization": f"Bearer {tokens.issue(scoped)['access_token']}"}
    async with gateway() as client:
        inside = await client.post(
            f"/api/appeals/{APPEAL_IN}/resolve", json={"outcome": "dismissed"}, headers=headers
        )
        outside = await client.post(
            f"/api/appeals/{APPEAL_OUT}/resolve", json={"outcome": "dismissed"}, headers=headers
        )
        units = (await client.get("/api/pools/transitional/units", headers=headers)).json()["items"]
    assert inside.status_code == 200
    assert outside.status_code == 403 and OUT_ESTATE not in outside.text
    assert [c.path for c in fakes.writes()] == [f"/appeals/{APPEAL_IN}/resolve"]
    assert [u["unit_id"] for u in units] == [UNIT_IN]  # a pool's units: those in her estates


async def test_commands_forward_what_the_service_takes_as_the_caller(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    reviewer = bearer(tokens, "reviewer")
    async with gateway() as client:
        served = await client.post(
            f"/api/sanctions/{SANCTION_IN}/serve-notice", json={"on": "2027-04-01"}, headers=reviewer
        )
        imposed = await client.post(f"/api/households/{HOUSE_IN}/sanctions", json=SANCTION, headers=reviewer)
        attributed = await client.post(
            f"/api/employment-evidence/{EVIDENCE_IN}/attribute",
            json={"referral_id": REFERRAL_IN},
            headers=reviewer,
        )
        expired = await client.post(
            "/api/resettlement-cases/expire", json={"as_of": "2027-01-01"}, headers=reviewer
        )
        bad = [
            await client.post(
                f"/api/households/{HOUSE_IN}/sanctions", json={**SANCTION, "kind": "fine"}, headers=reviewer
            ),
            await client.post(
                f"/api/sanctions/{SANCTION_IN}/appeals", json={"grounds": ""}, headers=reviewer
            ),
            await client.post(f"/api/resettlement-cases/{RCASE_IN}/withdraw", json={}, headers=reviewer),
            await client.post(
                f"/api/courses/{COURSE_IN}/sessions/0/attendance", json={"attendees": []}, headers=reviewer
            ),
        ]
        too_big = await client.post("/api/courses", json={**COURSE, "title": "x" * 70_000}, headers=reviewer)
    assert {r.status_code for r in (served, imposed, attributed, expired)} == {200}
    assert {r.status_code for r in bad} == {422}
    assert {r.headers["content-type"] for r in bad} == {"application/problem+json"}
    assert too_big.status_code == 413 and too_big.headers["content-type"] == "application/problem+json"
    sent = {c.path: c for c in fakes.writes()}
    assert set(sent) == {
        f"/sanctions/{SANCTION_IN}/serve-notice",
        f"/households/{HOUSE_IN}/sanctions",
        f"/employment-evidence/{EVIDENCE_IN}/attribute",
        "/offers/expire",
    }
    assert json.loads(sent[f"/sanctions/{SANCTION_IN}/serve-notice"].body) == {"on": "2027-04-01"}
    assert json.loads(sent[f"/households/{HOUSE_IN}/sanctions"].body) == SANCTION
    assert json.loads(sent[f"/employment-evidence/{EVIDENCE_IN}/attribute"].body) == {
        "referral_id": REFERRAL_IN
    }
    assert sent["/offers/expire"].query == "as_of=2027-01-01"
    assert all(c.caller and c.caller.subject == "reviewer.he" for c in sent.values())
    assert imposed.json()["by"] == "reviewer.he"
