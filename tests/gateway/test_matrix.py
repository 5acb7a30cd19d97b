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
from tests.gateway.conftest import ACCOUNTS, GatewayFactory, bearer
from tests.gateway.fakes import (
    CASE_IN,
    CASE_OUT,
    CHECK_OUT,
    HOUSE_IN,
    HOUSE_OUT,
    IN_ESTATE,
    INCOME,
    OUT_ESTATE,
    PERSONAL_MARKERS,
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
PERSONAL = {"reviewer", "reviewer_scoped", "supervisor", "supervisor2"}

FINDING = {"findings": "payslips", "proposed_outcome": "exit_required", "reason_code": "INC"}
FACT = {
    "department": "civil_affairs",
    "reference": "r1",
    "described_on": "2026-11-01",
    "household_id": HOUSE_IN,
    "fact": {"kind": "income", "monthly_income": "3000.00"},
}
ASSESSMENT = {"assessor_id": "assessor.zhao", "deadline": "2026-12-31"}
VALUE = {"region": "CN-FS", "effective_from": "2027-01-01", "value": "4000.00", "legal_reference": "x"}
WHAT_IF = {"on": "2026-11-27", "values": [{"rule": "income_per_capita", "region": "CN-FS", "value": "1"}]}
HOUSEHOLD = {
    "region": "CN-FS",
    "estate": "Chancheng Garden",
    "building": "1",
    "unit": "1",
    "base_rent": "500.00",
    "tenancy_start": "2020-01-01",
    "members": [{"id_number": "440604198507151234", "birth_date": "1985-07-15"}],
}

# (method, path, body, roles allowed)
ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/api/me", None, set(ACCOUNTS)),
    ("GET", "/api/households", None, READERS),
    ("GET", f"/api/households/{HOUSE_IN}", None, READERS),
    ("GET", f"/api/households/{HOUSE_OUT}", None, UNSCOPED(READERS)),
    ("GET", f"/api/households/{HOUSE_IN}/timeline", None, READERS),
    ("GET", f"/api/households/{HOUSE_OUT}/timeline", None, UNSCOPED(READERS)),
    ("GET", f"/api/households/{HOUSE_IN}/ledger", None, READERS),
    ("GET", f"/api/households/{HOUSE_OUT}/sanctions", None, UNSCOPED(READERS)),
    ("GET", f"/api/households/{HOUSE_IN}/notices", None, READERS),
    ("GET", f"/api/households/{HOUSE_IN}/placement", None, CASE_READERS),
    ("GET", f"/api/households/{HOUSE_OUT}/training", None, UNSCOPED(CASE_READERS)),
    ("POST", "/api/households", HOUSEHOLD, {"admin"}),
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
    ("GET", "/api/reviewers/reviewer.he/report", None, CASE_READERS),
    ("GET", "/api/parameters", None, CASE_READERS),
    ("GET", "/api/parameters/history", None, CASE_READERS),
    ("POST", "/api/parameters/income_per_capita/values", VALUE, {"supervisor", "supervisor2"}),
    ("POST", "/api/what-if", WHAT_IF, CASE_READERS),
    ("POST", "/api/facts", [FACT], {"department"}),
    ("GET", "/api/warnings", None, READERS - {"inspector"} | {"inspector"}),
    ("GET", f"/api/warnings/{WARN_IN}", None, READERS),
    ("GET", f"/api/warnings/{WARN_OUT}", None, UNSCOPED(READERS)),
    ("POST", f"/api/warnings/{WARN_IN}/confirm", {"finding": "vacant"}, {"inspector"}),
    ("GET", "/api/sanctions", None, READERS),
    ("GET", "/api/transitions", None, READERS),
    ("GET", "/api/appeals", None, READERS),
    ("GET", "/api/pools", None, CASE_READERS),
    ("GET", "/api/pools/public_rental/units", None, CASE_READERS),
    ("GET", "/api/resettlement-cases", None, CASE_READERS),
    ("GET", "/api/courses", None, CASE_READERS),
    ("GET", "/api/courses/c1", None, CASE_READERS),
    ("GET", "/api/referrals", None, CASE_READERS),
    ("GET", "/api/federation/exchanges", None, {"auditor", "admin"}),
    ("GET", f"/api/federation/checks/{CHECK_OUT}", None, {"auditor", "admin"}),
    ("GET", "/api/figures", None, READERS),
]


async def test_openapi_documents_every_api_route(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        schema = (await client.get("/openapi.json")).json()
        routes = {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}
    documented = {path for _, path in routes if path.startswith("/api/")}
    covered = {
        path.replace(HOUSE_IN, "{household_id}")
        .replace(HOUSE_OUT, "{household_id}")
        .replace(CASE_IN, "{case_id}")
        .replace(CASE_OUT, "{case_id}")
        .replace(WARN_IN, "{warning_id}")
        .replace(WARN_OUT, "{warning_id}")
        .replace(CHECK_OUT, "{check_id}")
        .replace("/reviewer.he/", "/{operator_id}/")
        .replace("/public_rental/", "/{pool}/")
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
    forwarded = {(c.headers.get("x-operator-id"), c.headers.get("x-operator-role")) for c in fakes.calls}
    if role == "anonymous":
        assert not fakes.calls
    else:
        assert forwarded == {(ACCOUNTS[role].id, ACCOUNTS[role].role)}


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


async def test_lists_are_filtered_to_the_operators_estates(gateway: GatewayFactory, tokens: Tokens) -> None:
    async with gateway() as client:
        scoped = bearer(tokens, "reviewer_scoped")
        households = (await client.get("/api/households", headers=scoped)).json()
        queue = (await client.get("/api/review-queue", headers=scoped)).json()
        asked_other = await client.get("/api/households", params={"estate": OUT_ESTATE}, headers=scoped)
        everyone = (await client.get("/api/households", headers=bearer(tokens, "reviewer"))).json()
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
