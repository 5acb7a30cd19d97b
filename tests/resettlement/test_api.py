"""The read endpoints the gateway relies on and the operator steps, through the real HTTP app."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import httpx

from services.resettlement.application import ResettlementApp
from tests.resettlement.support import Clock, decision
from tests.support.identity import ANONYMOUS, as_operator

OPERATOR = as_operator("officer-chen", "reviewer", "resettlement")


async def test_pools_cases_placement_figures_and_steps(
    client: httpx.AsyncClient, resettlement: ResettlementApp, clock: Clock
) -> None:
    units = {
        "units": [
            {"estate": "Test Court", "building": "1", "unit": f"010{n}", "area_m2": "40.00"} for n in (1, 2)
        ]
    }
    assert (await client.post("/pools/transitional/units", json=units, auth=ANONYMOUS)).status_code == 401
    added = await client.post("/pools/transitional/units", json=units, headers=OPERATOR)
    assert added.status_code == 201 and added.json() == {"added": 2, "already_present": 0}
    again = await client.post("/pools/transitional/units", json=units, headers=OPERATOR)
    assert again.json() == {"added": 0, "already_present": 2}
    assert (await client.post("/pools/elsewhere/units", json=units, headers=OPERATOR)).status_code == 422

    households = [uuid4() for _ in range(3)]
    for household in households:
        resettlement.exit_decided(decision(household, low_income=True))

    pools = {p["pool"]: p for p in (await client.get("/pools")).json()}
    assert pools["transitional"]["total"] == 2 and pools["transitional"]["states"]["offered"] == 2
    assert pools["affordable"]["total"] == 0
    listed = (await client.get("/pools/transitional/units", params={"state": "offered"})).json()["items"]
    assert len(listed) == 2 and all(u["household_id"] and u["household_estate"] for u in listed)
    assert (await client.get("/pools/transitional/units", params={"state": "let"})).status_code == 422

    offered = (await client.get("/cases", params={"state": "offered"})).json()["items"]
    waiting = (await client.get("/cases", params={"state": "waitlisted"})).json()["items"]
    assert len(offered) == 2 and len(waiting) == 1
    assert all({"household_id", "estate", "placement_class", "reasons"} <= set(c) for c in offered + waiting)
    assert (await client.get("/cases", params={"state": "lost"})).status_code == 422
    queue = (await client.get("/pools/transitional/waitlist")).json()
    assert [(w["household_id"], w["position"]) for w in queue] == [(waiting[0]["household_id"], 1)]

    # Declining passes the unit to the waiting household.
    case = offered[0]
    declined = await client.post(
        f"/cases/{case['case_id']}/decline", json={"reason": "too far"}, headers=OPERATOR
    )
    assert declined.status_code == 200
    now_offered = (await client.get(f"/households/{waiting[0]['household_id']}/placement")).json()
    assert now_offered["state"] == "offered" and now_offered["unit_id"] == case["unit_id"]
    assert (await client.post(f"/cases/{case['case_id']}/accept", headers=OPERATOR)).status_code == 409
    assert (await client.post(f"/cases/{uuid4()}/accept", headers=OPERATOR)).status_code == 404

    history = (await client.get(f"/units/{case['unit_id']}/history")).json()
    assert [h["type"] for h in history] == ["Added", "Offered", "Released", "Offered"]
    assert (await client.get(f"/units/{uuid4()}/history")).status_code == 404
    assert (await client.get(f"/households/{uuid4()}/placement")).status_code == 404

    # The sweep over HTTP runs on today: nothing is due today, and no caller names a later day to
    # expire offers early (422); once the clock has passed the deadline, everything is due.
    assert (await client.post("/offers/expire")).json() == {"expired": []}
    later = (resettlement.today() + timedelta(days=15)).isoformat()
    early = await client.post("/offers/expire", params={"as_of": later})
    assert early.status_code == 422 and early.json()["errors"][0]["location"] == "body.as_of"
    yesterday = (resettlement.today() - timedelta(days=1)).isoformat()
    assert (await client.post("/offers/expire", params={"as_of": yesterday})).status_code == 422
    clock.advance(days=15)
    today = resettlement.today().isoformat()
    assert len((await client.post("/offers/expire", params={"as_of": today})).json()["expired"]) == 2

    figures = (await client.get("/figures")).json()
    assert figures["cases_by_class"] == {"special_hardship": 3}
    assert sum(figures["cases_by_state"].values()) == 3
    assert (
        figures["units_by_pool_and_state"]["transitional"]["free"]
        + figures["units_by_pool_and_state"]["transitional"]["offered"]
        == 2
    )
    assert "/figures" in (await client.get("/openapi.json")).json()["paths"]

    timeline = (await client.get(f"/households/{households[0]}/timeline")).json()
    assert timeline["household_id"] == str(households[0])
    assert timeline["entries"][0]["type"] == "PlacementCase.Classified"
    assert all(e["service"] == "resettlement" for e in timeline["entries"])
    assert (await client.get(f"/households/{uuid4()}/timeline")).json()["entries"] == []
