"""Resettlement's lists a page at a time, on SQLite and PostgreSQL: a pool's units by estate, building and
unit, the placement cases in the order they opened; `estate` filters, an estate-scoped caller walks its
estates only, every item once."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx

from services.resettlement.application import ResettlementApp, UnitSpec
from tests.resettlement.support import Clock, decision
from tests.support.identity import as_operator


async def walk(client: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[str]:
    query: dict[str, Any] = {"limit": 2, **params}
    found: list[str] = []
    while True:
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        found += [item[key] for item in response.json()["items"]]
        if response.json()["next"] is None:
            assert "link" not in response.headers
            return found
        assert response.headers["link"].endswith('>; rel="next"')
        query["cursor"] = response.json()["next"]


async def test_units_and_cases_are_walked_in_a_stable_order(
    client: httpx.AsyncClient, resettlement: ResettlementApp, clock: Clock
) -> None:
    specs = [
        UnitSpec("transitional", estate, "1", f"0{n}", None)
        for estate in ("B Court", "A Court")
        for n in (2, 1, 3)
    ]
    resettlement.add_units(specs)
    units = await walk(client, "/pools/transitional/units", "unit_id")
    listed = {u["unit_id"]: u for u in resettlement.units("transitional")}
    assert len(units) == len(set(units)) == 6
    assert [(listed[u]["estate"], listed[u]["unit"]) for u in units] == sorted(
        (s.estate, s.unit) for s in specs
    )
    assert len(await walk(client, "/pools/transitional/units", "unit_id", estate="A Court")) == 3

    households = []
    for _ in range(5):
        clock.advance(days=1)
        household = uuid4()
        resettlement.exit_decided(decision(household, low_income=True))
        households.append(str(household))
    assert await walk(client, "/cases", "household_id") == households, "in the order they opened"
    scoped = as_operator("officer-he", "reviewer", "resettlement", ["Elsewhere"])
    mine = await client.get("/cases", headers=scoped)
    assert mine.status_code == 200 and mine.json() == {"items": [], "next": None}
    assert (await client.get("/cases", params={"estate": "Nowhere"}, headers=scoped)).status_code == 403
