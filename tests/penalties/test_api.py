"""Penalties' HTTP API (without the bus: the ASGI app is called directly, no lifespan): problem+json for
a sanction without a basis, operators named, concurrent voluntary-exit requests paid once, the read
endpoints the gateway relies on, the timeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.penalties.application import PenaltiesApp
from services.penalties.service import build
from services.penalties.settings import PenaltiesSettings
from tests.penalties.support import exit_decision, feed, make_app, move_to, registered_household, violation
from tests.support.identity import ANONYMOUS, OperatorAuth, as_operator

OFFICER = as_operator("officer.li", "reviewer", "penalties")
SUPERVISOR = as_operator("supervisor.chen", "supervisor", "penalties")
HOUSEHOLD = as_operator("desk.clerk", "household", "penalties")
READER = OperatorAuth("auditor.sun", "auditor", "penalties")
"""The clients' default operator: reads; every command names who takes it."""


@pytest.fixture
async def client_and_app(
    tmp_path: Path, persistence: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, PenaltiesApp]]:
    api, runtime = build(
        PenaltiesSettings(var_dir=tmp_path), persistence, app=make_app(tmp_path, persistence)
    )
    app = runtime.app
    assert isinstance(app, PenaltiesApp)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://penalties", auth=READER
    ) as client:
        yield client, app
    app.close()


async def test_concurrent_voluntary_exit_requests_pay_the_subsidy_once(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    household_id = registered_household(app)
    feed(app, "on_exit_decided", exit_decision(household_id, "exit", low_income=True, wants_to_buy=True))
    url = f"/households/{household_id}/voluntary-exit"
    move_to(app, date(2027, 2, 1))
    responses = await asyncio.gather(*(client.post(url, json={}, headers=HOUSEHOLD) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["subsidy"]["subsidy_id"] for r in responses}) == 1
    subsidy = (await client.get(f"/households/{household_id}/subsidy")).json()
    assert subsidy["amount"] == "5000.00"
    figures = (await client.get("/figures")).json()
    assert figures["subsidies_awarded"] == 1 and figures["subsidies_total_fen"] == 500_000
    assert (await client.post(url, json={}, auth=ANONYMOUS)).status_code == 401


async def test_sanctions_appeals_and_reads_over_http(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    household_id = registered_household(app)
    sanctions_url = f"/households/{household_id}/sanctions"
    body: dict[str, Any] = {"kind": "credit_list", "violation": "sublet", "basis_id": str(uuid4())}

    refused = await client.post(sanctions_url, json=body, headers=OFFICER)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/sanction-without-basis"
    assert (await client.post(sanctions_url, json=body, auth=ANONYMOUS)).status_code == 401
    assert (await client.post(sanctions_url, json=body, headers=HOUSEHOLD)).status_code == 403
    unknown = await client.get(f"/households/{uuid4()}/ledger")
    assert unknown.status_code == 404 and unknown.json()["title"] == "Not found"

    confirmed = violation(household_id, "sublet", date(2027, 3, 10))
    feed(app, "on_violation_confirmed", confirmed)
    move_to(app, date(2027, 3, 11))
    created = await client.post(
        sanctions_url, json={**body, "basis_id": str(confirmed.warning_id)}, headers=OFFICER
    )
    assert created.status_code == 201 and created.json()["imposed_by"] == "officer.li"
    assert created.json()["state"] == "proposed"
    entered = await client.post(f"/sanctions/{created.json()['sanction_id']}/enter", headers=SUPERVISOR)
    assert entered.status_code == 200 and entered.json()["state"] == "active"
    again = await client.post(
        sanctions_url, json={**body, "basis_id": str(confirmed.warning_id)}, headers=OFFICER
    )
    assert again.status_code == 200 and again.json()["sanction_id"] == created.json()["sanction_id"]

    listed = (await client.get(sanctions_url)).json()
    surcharge = next(s for s in listed if s["kind"] == "rent_surcharge")
    future = await client.post(
        f"/sanctions/{surcharge['sanction_id']}/appeals",
        json={"grounds": "x", "on": "2027-05-01"},
        headers=HOUSEHOLD,
    )
    assert future.status_code == 422 and future.json()["errors"][0]["location"] == "body.on"
    move_to(app, date(2027, 3, 20))
    lodged = await client.post(
        f"/sanctions/{surcharge['sanction_id']}/appeals",
        json={"grounds": "the lodger is my brother"},
        headers=HOUSEHOLD,
    )
    assert lodged.status_code == 201
    appeal_id = lodged.json()["appeal_id"]
    ledger = await client.get(
        f"/households/{household_id}/ledger", params={"from": "2027-04", "to": "2027-04"}
    )
    assert ledger.json()["months"][0]["adjustments"][0]["status"] == "suspended"
    assert (await client.get("/appeals", params={"state": "open"})).json()["items"][0][
        "estate"
    ] == "Chancheng Garden"
    resolve_url = f"/appeals/{appeal_id}/resolve"
    assert (await client.post(resolve_url, json={"outcome": "dismissed"}, headers=OFFICER)).status_code == 403
    move_to(app, date(2027, 4, 15))
    resolved = await client.post(resolve_url, json={"outcome": "dismissed"}, headers=SUPERVISOR)
    assert resolved.status_code == 200 and resolved.json()["state"] == "dismissed"
    assert (await client.post(resolve_url, json={"outcome": "upheld"}, headers=SUPERVISOR)).status_code == 409

    active = (await client.get("/sanctions", params={"state": "active"})).json()["items"]
    assert {s["kind"] for s in active} == {"rent_surcharge", "credit_list"}
    assert all(s["household_id"] == str(household_id) and s["estate"] for s in active)
    notices = (await client.get(f"/households/{household_id}/notices")).json()
    assert [n["kind"] for n in notices] == [
        "sanction_imposed",
        "sanction_imposed",
        "appeal_received",
        "appeal_decided",
    ]
    timeline = (await client.get(f"/households/{household_id}/timeline")).json()
    summaries = [entry["summary"] for entry in timeline["entries"]]
    assert (
        "Credit-list entry proposed: credit_list for sublet" in summaries and "Appeal dismissed" in summaries
    )
    assert any(s.startswith("Credit-list entry entered until") for s in summaries)
    assert any(e["actor"] == "officer.li" for e in timeline["entries"])
    assert (await client.get("/transitions", params={"state": "active"})).json()["items"] == []
    assert (await client.get("/sanctions", params={"state": "bogus"})).status_code == 422

    feed(app, "on_exit_decided", exit_decision(household_id, "transition"))
    (plan,) = (await client.get("/transitions", params={"state": "active"})).json()["items"]
    assert plan["estate"] == "Chancheng Garden" and plan["schedule"][-1] == {
        "month": "2027-07",
        "rent": "1600.00",
    }
    move_to(app, date(2027, 8, 1))
    checked = await client.post("/transitions/overdue-check", headers=OFFICER)
    assert checked.status_code == 200 and len(checked.json()["sanctioned"]) == 1
    move_to(app, date(2027, 8, 20))
    returned = await client.post(f"/households/{household_id}/keys-returned", json={}, headers=OFFICER)
    assert returned.status_code == 200 and returned.json()["completed_on"] == "2027-08-20"
    assert (await client.get("/transitions", params={"state": "exited"})).json()["items"][0][
        "state"
    ] == "exited"
    parameters = (await client.get("/parameters")).json()
    assert {p["parameter"] for p in parameters} >= {"transition_rule", "subsidy_amount", "surcharge_rate"}


async def test_one_sanction_by_id(client_and_app: tuple[httpx.AsyncClient, PenaltiesApp]) -> None:
    client, app = client_and_app
    household_id = registered_household(app)
    feed(app, "on_violation_confirmed", violation(household_id, "vacant", date(2027, 3, 10)))
    (listed,) = (await client.get(f"/households/{household_id}/sanctions")).json()
    one = await client.get(f"/sanctions/{listed['sanction_id']}")
    assert one.status_code == 200 and one.json() == listed
    assert (await client.get(f"/sanctions/{household_id}")).status_code == 404  # a tenancy, not a sanction
    assert (await client.get(f"/sanctions/{uuid4()}")).status_code == 404


async def test_ledger_periods_are_checked(client_and_app: tuple[httpx.AsyncClient, PenaltiesApp]) -> None:
    client, app = client_and_app
    household_id = registered_household(app)
    url = f"/households/{household_id}/ledger"
    assert (await client.get(url, params={"from": "2027-05", "to": "2027-04"})).status_code == 422
    assert (await client.get(url, params={"from": "2000-01", "to": "2027-04"})).status_code == 422
    assert (await client.get(url, params={"from": "2027-13"})).status_code == 422
    one = (await client.get(url, params={"from": "2027-04", "to": "2027-04"})).json()
    assert one["months"] == [
        {"month": "2027-04", "base_rent": "1000.00", "adjustments": [], "total_due": "1000.00"}
    ]
    assert one["estate"] == "Chancheng Garden" and one["household_id"] == str(household_id)
