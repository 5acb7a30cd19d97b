"""The gateway before the real eligibility and monitoring apps (in process, SQLite, no bus): the
department intake, the estate scoping, the real four-eyes rule and accountability trail with the
identities the gateway sets, the merged timeline, masking and the figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.tokens import Tokens
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
from tests.gateway.conftest import GatewayFactory, bearer
from tests.support.dates import yesterday

FINDING = {"findings": "payslips for two quarters", "proposed_outcome": "exit_required", "reason_code": "INC"}


@pytest.fixture
async def real(tmp_path: Path, gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    from services.monitoring.service import build as build_monitoring
    from services.monitoring.settings import MonitoringSettings

    eligibility = EligibilityApp(
        EligibilitySettings(var_dir=tmp_path),
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "eligibility.sqlite")},
    )
    eligibility_api, _ = build_eligibility(EligibilitySettings(var_dir=tmp_path), app=eligibility)
    monitoring_api, _ = build_monitoring(
        MonitoringSettings(var_dir=tmp_path),
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "monitoring.sqlite")},
    )
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        "http://eligibility": httpx.ASGITransport(app=eligibility_api),
        "http://monitoring": httpx.ASGITransport(app=monitoring_api),
    }
    services = {"eligibility": "http://eligibility", "monitoring": "http://monitoring"}
    try:
        async with gateway(mounts=mounts, services=services) as client:
            yield client
    finally:
        eligibility.close()


async def seed(client: httpx.AsyncClient, tokens: Tokens) -> dict[str, tuple[str, str]]:
    """(household id, case id) per estate, registered by the admin, reported on by civil affairs."""
    households = {}
    for estate, id_number in (
        ("Chancheng Garden", "440604198507151234"),
        ("Nanhai Homes", "440605199001011238"),
    ):
        body = {
            "region": "CN-FS",
            "estate": estate,
            "building": "3",
            "unit": "1204",
            "base_rent": "680.00",
            "tenancy_start": "2019-05-01",
            "members": [{"id_number": id_number, "birth_date": "1985-07-15"}],
        }
        response = await client.post("/api/households", json=body, headers=bearer(tokens, "admin"))
        assert response.status_code == 201, response.text
        assert id_number not in response.text
        households[estate] = response.json()["household_id"]
    facts = [
        {
            "department": "civil_affairs",
            "reference": f"MZ-{n}",
            "described_on": yesterday(),
            "household_id": household,
            "fact": {"kind": "income", "monthly_income": "4200.00"},
        }
        for n, household in enumerate(households.values())
    ]
    pushed = await client.post("/api/facts", json=facts, headers=bearer(tokens, "department"))
    assert pushed.status_code == 200 and pushed.json()["recorded"] == 2, pushed.text
    out = {}
    for estate, household in households.items():
        view = (await client.get(f"/api/households/{household}", headers=bearer(tokens, "reviewer"))).json()
        out[estate] = (household, view["open_case"])
    return out


async def test_four_eyes_through_the_gateway_with_scoping_and_timeline(
    real: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = real
    seeded = await seed(client, tokens)
    (house, case), (other_house, other_case) = seeded["Chancheng Garden"], seeded["Nanhai Homes"]
    scoped = bearer(tokens, "reviewer_scoped")

    queue = (await client.get("/api/review-queue", headers=scoped)).json()["items"]
    assert [c["case_id"] for c in queue] == [case]
    assert (await client.get(f"/api/cases/{other_case}", headers=scoped)).status_code == 403
    assert (
        await client.post(f"/api/cases/{other_case}/findings", json=FINDING, headers=scoped)
    ).status_code == 403

    # a client's own identity headers are ignored: the trail names the token's subject
    spoofed = {**scoped, "X-Operator-Id": "supervisor.wang", "X-Operator-Role": "supervisor"}
    proposed = await client.post(f"/api/cases/{case}/findings", json=FINDING, headers=spoofed)
    assert proposed.status_code == 200 and proposed.json()["status"] == "proposed"
    assert proposed.json()["trail"][-1]["actor"] == "reviewer.li"
    assert (await client.post(f"/api/cases/{case}/approval", json={}, headers=scoped)).status_code == 403

    # a supervisor who proposes cannot approve his own proposal: eligibility's rule, passed through
    await client.post(f"/api/cases/{other_case}/findings", json=FINDING, headers=bearer(tokens, "supervisor"))
    own = await client.post(
        f"/api/cases/{other_case}/approval", json={"reason": "ok"}, headers=bearer(tokens, "supervisor")
    )
    assert own.status_code == 403 and own.json()["title"] == "Four-eyes principle"
    assert own.headers["content-type"] == "application/problem+json"

    approved = await client.post(
        f"/api/cases/{case}/approval", json={"reason": "agreed"}, headers=bearer(tokens, "supervisor")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "decided" and approved.json()["final_outcome"] == "exit_required"
    trail = [(s["action"], s["actor"], s["role"]) for s in approved.json()["trail"]]
    assert trail[1:] == [
        ("finding", "reviewer.li", "reviewer"),
        ("approved", "supervisor.chen", "supervisor"),
    ]

    timeline = (await client.get(f"/api/households/{house}/timeline", headers=scoped)).json()
    assert timeline["sources"] == {"eligibility": "ok", "monitoring": "ok"}
    actors = [e["actor"] for e in timeline["entries"]]
    assert "reviewer.li" in actors and "supervisor.chen" in actors and "admin.qian" in actors
    assert [e["at"] for e in timeline["entries"]] == sorted(e["at"] for e in timeline["entries"])
    assert (await client.get(f"/api/households/{other_house}/timeline", headers=scoped)).status_code == 403

    # personal amounts: a reviewer sees them, an auditor does not
    assert "4200.00" in (await client.get(f"/api/households/{house}", headers=scoped)).text
    audited = await client.get(f"/api/households/{house}", headers=bearer(tokens, "auditor"))
    assert audited.status_code == 200 and "4200.00" not in audited.text and "1985-07-15" not in audited.text

    figures: dict[str, Any] = (await client.get("/api/figures", headers=bearer(tokens, "auditor"))).json()
    assert figures["headline"]["households_under_review"] == 1
    assert figures["headline"]["exit_rate"] == 1.0
    assert "monitoring" in figures["services"] and figures["unavailable"] == []
    warnings = await client.get("/api/warnings", headers=bearer(tokens, "inspector"))
    assert warnings.status_code == 200 and warnings.json() == {"items": [], "next": None}
