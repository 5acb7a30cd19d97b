"""One example of each status of the operator API (gateway/README.md, "Statuses"), through the gateway
before the real eligibility app (in process, SQLite): 422 invalid input (each line's reason passed on,
a refused date), 409 a valid request the state does not allow, 404 an unknown id, 403 outside the
caller's department, 401 without a token, 429 with `Retry-After`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from gateway.tokens import Tokens
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
from services.kit import clock
from tests.gateway.conftest import GatewayFactory, bearer
from tests.support.dates import yesterday

ID_NUMBER = "440604198507151234"
Stack = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def stack(tmp_path: Path, gateway: GatewayFactory) -> Stack:
    """`async with stack(**gateway settings) as client`: the gateway before the real eligibility."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = EligibilitySettings(var_dir=tmp_path)
        store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.sqlite")}
        eligibility = EligibilityApp(settings, store)
        api, _ = build_eligibility(settings, app=eligibility)
        mounts: dict[str, httpx.AsyncBaseTransport] = {"http://eligibility": httpx.ASGITransport(app=api)}
        try:
            async with gateway(
                mounts=mounts, services={"eligibility": "http://eligibility"}, **overrides
            ) as c:
                yield c
        finally:
            eligibility.close()

    return start


def household(id_number: str = ID_NUMBER, **changes: Any) -> dict[str, Any]:
    return {
        "region": "CN-FS",
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "base_rent": "680.00",
        "tenancy_start": "2019-05-01",
        "members": [{"id_number": id_number, "birth_date": "1985-07-15"}],
        **changes,
    }


def fact(household_id: str, reference: str, **changes: Any) -> dict[str, Any]:
    return {
        "department": "civil_affairs",
        "reference": reference,
        "described_on": yesterday(),
        "household_id": household_id,
        "fact": {"kind": "income", "monthly_income": "4200.00"},
        **changes,
    }


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_each_status_once(stack: Stack, tokens: Tokens) -> None:
    admin, department = bearer(tokens, "admin"), bearer(tokens, "department")
    async with stack() as client:
        registered = await client.post("/api/households", json=household(), headers=admin)
        assert registered.status_code == 201, registered.text
        home = registered.json()["household_id"]

        # 422: malformed or invalid input, each line's reason passed on from eligibility
        without_fact = {k: v for k, v in fact(home, "MZ-1").items() if k != "fact"}
        body = problem(await client.post("/api/facts", json=[without_fact], headers=department), 422)
        assert body["problems"][0]["line"] == 1 and body["problems"][0]["detail"] == "fact is required"
        assert "line 1: fact is required" in body["detail"]
        assert (body["received"], body["recorded"], body["results"]) == (1, 0, [])
        # ... a refused date: a fact describing a day that has not come
        future = (clock.now() + timedelta(days=3)).date().isoformat()
        dated = await client.post(
            "/api/facts", json=[fact(home, "MZ-2", described_on=future)], headers=department
        )
        assert problem(dated, 422)["problems"][0]["field"] == "described_on"
        # ... a member born in the future, an invalid ID number, money as a JSON number
        unborn = household(
            "44060420100301002X", members=[{"id_number": "44060420100301002X", "birth_date": future}]
        )
        born = problem(await client.post("/api/households", json=unborn, headers=admin), 422)
        assert "birth_date" in json_text(born)
        invalid = problem(
            await client.post("/api/households", json=household("12345678901234567A"), headers=admin), 422
        )
        assert "id_number" in json_text(invalid) and "12345678901234567A" not in json_text(invalid)
        number = await client.post(
            "/api/facts",
            json=[fact(home, "MZ-3", fact={"kind": "income", "monthly_income": 4200})],
            headers=department,
        )
        assert problem(number, 422)["problems"][0]["field"] == "fact.income.monthly_income"

        # 409: a valid request the state does not allow (the member already lives in a household)
        again = household(reference=None, unit="1205")
        problem(await client.post("/api/households", json=again, headers=admin), 409)

        # 404: an unknown id (a household, a reviewer who never took a step)
        problem(await client.get(f"/api/households/{uuid4()}", headers=bearer(tokens, "reviewer")), 404)
        problem(await client.get("/api/reviewers/nobody.here/report", headers=bearer(tokens, "auditor")), 404)

        # 403: not your department (civil affairs does not report property)
        foreign = fact(
            home,
            "FC-1",
            fact={"kind": "property", "area_m2": "60.00", "city": "CN-FS", "property_ref": "P-1"},
        )
        problem(await client.post("/api/facts", json=[foreign], headers=department), 403)

        # 401: no token
        unauthenticated = problem(await client.get(f"/api/households/{home}"), 401)
        assert unauthenticated["status"] == 401

        # the good path still answers 200
        pushed = await client.post("/api/facts", json=[fact(home, "MZ-4")], headers=department)
        assert pushed.status_code == 200 and pushed.json()["recorded"] == 1, pushed.text


async def test_too_many_lines_is_429_with_retry_after(stack: Stack, tokens: Tokens) -> None:
    async with stack(line_rate_per_s=0.01, line_rate_burst=1) as client:
        department = bearer(tokens, "department")
        home = str(uuid4())  # unmatched: the line is counted and answered all the same
        first = await client.post("/api/facts", json=[fact(home, "R-1")], headers=department)
        assert first.status_code == 200, first.text
        second = await client.post("/api/facts", json=[fact(home, "R-2")], headers=department)
        problem(second, 429)
        assert int(second.headers["retry-after"]) >= 1


def json_text(body: dict[str, Any]) -> str:
    return json.dumps(body)
