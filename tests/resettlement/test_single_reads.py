"""One placement case and one unit by id (`GET /cases/{id}`, `GET /units/{id}`): what the gateway reads to
check an object's estate before a step, instead of a whole city's list of cases or every pool's units."""

from __future__ import annotations

from uuid import uuid4

import httpx

from services.resettlement.application import ResettlementApp
from tests.resettlement.support import decision, small_pool
from tests.support.identity import as_operator

OPERATOR = as_operator("officer-chen", "reviewer", "resettlement")


async def test_one_case_and_one_unit_by_id(client: httpx.AsyncClient, resettlement: ResettlementApp) -> None:
    resettlement.add_units(small_pool("transitional", 2))
    households = [uuid4() for _ in range(3)]
    for household in households:
        resettlement.exit_decided(decision(household, low_income=True))
    resettlement.exit_decided(decision(market := uuid4()))  # market rental: guided, no pool

    listed = {c["case_id"]: c for c in (await client.get("/cases")).json()["items"]}
    assert len(listed) == 4
    for case_id, item in listed.items():
        one = await client.get(f"/cases/{case_id}")
        assert one.status_code == 200
        placement = (await client.get(f"/households/{item['household_id']}/placement")).json()
        # the household's placement; `position` always there (null unless waiting)
        assert one.json() == {"position": None, **placement}
        assert {k: v for k, v in one.json().items() if k != "position"} == item
    waiting = next(c for c in listed.values() if c["state"] == "waitlisted")
    assert (await client.get(f"/cases/{waiting['case_id']}")).json()["position"] == 1
    guided = next(c for c in listed.values() if c["household_id"] == str(market))
    assert (await client.get(f"/cases/{guided['case_id']}")).json()["pool"] is None

    units = {u["unit_id"]: u for u in (await client.get("/pools/transitional/units")).json()["items"]}
    assert len(units) == 2
    for unit_id, item in units.items():
        one = await client.get(f"/units/{unit_id}")
        assert one.status_code == 200 and one.json() == item
        assert one.json()["state"] == "offered" and one.json()["case_id"] in listed

    # A step is seen at once: the declined unit passes to the waiting household.
    offered = next(c for c in listed.values() if c["state"] == "offered")
    declined = await client.post(
        f"/cases/{offered['case_id']}/decline", json={"reason": "too far"}, headers=OPERATOR
    )
    assert declined.status_code == 200
    unit = (await client.get(f"/units/{offered['unit_id']}")).json()
    assert (unit["household_id"], unit["case_id"]) == (waiting["household_id"], waiting["case_id"])
    now = (await client.get(f"/cases/{waiting['case_id']}")).json()
    assert (now["state"], now["unit_id"], now["position"]) == ("offered", offered["unit_id"], None)

    for path in (
        f"/cases/{uuid4()}",
        f"/cases/{households[0]}",  # a household's id is not its case's
        f"/cases/{offered['unit_id']}",
        f"/units/{uuid4()}",
        f"/units/{offered['case_id']}",
    ):
        missing = await client.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["status"] == 404
    assert (await client.get("/cases/not-a-uuid")).status_code == 422

    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, model in (("/cases/{case_id}", "CaseOut"), ("/units/{unit_id}", "UnitOut")):
        responses = paths[path]["get"]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{model}"
        }
        assert "application/problem+json" in responses["404"]["content"]
