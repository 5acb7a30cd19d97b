"""Eligibility's cross-region sweep through the gateway: `POST /api/cross-region/sweeps` is a
supervisor's order (an estate-scoped supervisor's for one of her estates only), `GET
/api/cross-region/status` the city's counts; declared as strictly as eligibility takes them, and
answered by the real eligibility app (in process, on a fresh store) as the service answers them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.api import create_gateway
from gateway.settings import GatewaySettings
from gateway.tokens import Tokens
from gateway.users import Account, Directory
from tests.fuzz.conftest import eligibility
from tests.gateway.conftest import GatewayFactory, bearer
from tests.gateway.fakes import IN_ESTATE, OUT_ESTATE, Fakes
from tests.gateway.test_console import hidden_csrf, log_in
from tests.gateway.test_declarations import body, looser

SWEEPS = "/api/cross-region/sweeps"
STATUS = "/api/cross-region/status"
HOUSEHOLD: dict[str, Any] = {
    "region": "CN-FS",
    "building": "1",
    "unit": "1",
    "base_rent": "500.00",
    "tenancy_start": "2020-01-01",
    "members": [{"id_number": "440604198507151234", "birth_date": "1985-07-15"}],
}


def scoped_supervisor(tokens: Tokens) -> dict[str, str]:
    account = Account("supervisor.he", "supervisor", "", estates=frozenset({IN_ESTATE}))
    return {"authorization": f"Bearer {tokens.issue(account)['access_token']}"}


def test_the_order_is_declared_at_least_as_strictly_as_eligibility_takes_it(tmp_path: Path) -> None:
    theirs = eligibility(tmp_path / "eligibility", "nats://127.0.0.1:1").openapi()
    settings = GatewaySettings(var_dir=tmp_path, services={"eligibility": "http://eligibility"})
    gateway = create_gateway(
        settings,
        tokens=Tokens(settings, Ed25519PrivateKey.generate()),
        directory=Directory([], allow_demo=False),
        mounts={},
    ).openapi()
    mine = body(gateway, ("post", SWEEPS))
    assert looser(mine, body(theirs, ("post", "/cross-region/sweeps")), "body") == []
    assert set(mine["properties"]) == {"region", "estate", "reason"}
    assert gateway["paths"][SWEEPS]["post"]["responses"].keys() >= {"202", "403"}
    assert "parameters" not in gateway["paths"][STATUS]["get"] or all(
        p["in"] == "header" for p in gateway["paths"][STATUS]["get"]["parameters"]
    )


async def test_an_estate_scoped_supervisor_orders_for_her_estates_only(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    """Her estate: forwarded as sent, as herself. The whole city, a region alone or another estate:
    403 before anything is forwarded (each would cover households outside her estates)."""
    headers = scoped_supervisor(tokens)
    async with gateway() as client:
        refused = [
            await client.post(SWEEPS, json={}, headers=headers),
            await client.post(SWEEPS, json={"region": "CN-FS"}, headers=headers),
            await client.post(SWEEPS, json={"estate": OUT_ESTATE}, headers=headers),
            await client.post(SWEEPS, json={"region": "CN-FS", "estate": OUT_ESTATE}, headers=headers),
        ]
        assert [r.status_code for r in refused] == [403] * 4
        assert {r.headers["content-type"] for r in refused} == {"application/problem+json"}
        assert not fakes.writes()
        ordered = await client.post(
            SWEEPS, json={"region": "CN-FS", "estate": IN_ESTATE, "reason": "annual"}, headers=headers
        )
        invalid = [
            await client.post(SWEEPS, json={"region": "Foshan"}, headers=headers),
            await client.post(SWEEPS, json={"estate": ""}, headers=headers),
            await client.post(SWEEPS, json={"estate": "x" * 65}, headers=headers),
        ]
    assert ordered.status_code < 300, ordered.text
    assert {r.status_code for r in invalid} == {422}
    (call,) = fakes.writes()
    assert (call.service, call.path) == ("eligibility", "/cross-region/sweeps")
    assert json.loads(call.body) == {"region": "CN-FS", "estate": IN_ESTATE, "reason": "annual"}
    assert call.caller is not None and (call.caller.subject, call.caller.role) == (
        "supervisor.he",
        "supervisor",
    )


async def test_orders_and_status_against_eligibility(
    gateway: GatewayFactory, tokens: Tokens, tmp_path: Path
) -> None:
    """The real service behind: its 202 and `requested` come through; eligibility's own rule (only a
    supervisor orders) and the gateway's scope agree, so the admin is refused at the gateway."""
    app = eligibility(tmp_path / "eligibility", "nats://127.0.0.1:1")
    mounts: dict[str, httpx.AsyncBaseTransport] = {"http://eligibility": httpx.ASGITransport(app=app)}
    admin, supervisor = bearer(tokens, "admin"), bearer(tokens, "supervisor")
    async with gateway(mounts=mounts) as client:
        for number, estate in enumerate((IN_ESTATE, IN_ESTATE, OUT_ESTATE)):
            member = {**HOUSEHOLD["members"][0], "id_number": f"44060419850715{1234 + number}"}
            registered = await client.post(
                "/api/households",
                json={**HOUSEHOLD, "estate": estate, "unit": str(number), "members": [member]},
                headers=admin,
            )
            assert registered.status_code == 201, registered.text
        status = await client.get(STATUS, headers=bearer(tokens, "inspector"))
        refused = await client.post(SWEEPS, json={}, headers=admin)
        city = await client.post(SWEEPS, json={"reason": "annual"}, headers=supervisor)
        mine = await client.post(SWEEPS, json={"estate": IN_ESTATE}, headers=scoped_supervisor(tokens))
        unknown_region = await client.post(SWEEPS, json={"region": "CN-GZ"}, headers=supervisor)
    assert status.status_code == 200, status.text
    counts: dict[str, Any] = status.json()
    assert counts["households"] == 3 and set(counts) >= {"never_checked", "due", "matched", "unverified"}
    assert refused.status_code == 403 and "cross-region:order" in refused.text
    assert (city.status_code, city.json()["requested"]) == (202, 3), city.text
    assert (mine.status_code, mine.json()["requested"], mine.json()["estate"]) == (202, 2, IN_ESTATE)
    assert (unknown_region.status_code, unknown_region.json()["requested"]) == (202, 0)


async def test_the_parameters_page_shows_the_checks_and_a_supervisors_order_form(
    gateway: GatewayFactory, fakes: Fakes
) -> None:
    async with gateway() as client:
        await log_in(client, "auditor.sun")
        page = await client.get("/console/parameters", params={"lang": "en"})
        assert 'id="cross-region-status"' in page.text and "Never checked" in page.text
        assert 'id="cross-region-order-form"' not in page.text
        refused = await client.post(
            "/console/cross-region/sweeps", data={"region": "CN-FS", "csrf": hidden_csrf(page.text)}
        )
        assert refused.status_code == 403 and "cross-region:order" in refused.text
        assert not fakes.writes()
        await log_in(client, "supervisor.chen")
        page = await client.get("/console/parameters")
        assert 'id="cross-region-order-form"' in page.text
        forged = await client.post("/console/cross-region/sweeps", data={"region": "CN-FS", "csrf": "x"})
        assert forged.status_code == 403 and not fakes.writes()
        ordered = await client.post(
            "/console/cross-region/sweeps",
            data={"region": "CN-FS", "estate": "", "reason": "annual", "csrf": hidden_csrf(page.text)},
        )
    assert ordered.status_code == 200 and 'id="cross-region-ordered"' in ordered.text
    (call,) = fakes.writes()
    assert call.path == "/cross-region/sweeps" and call.caller and call.caller.subject == "supervisor.chen"
    assert json.loads(call.body) == {"region": "CN-FS", "reason": "annual"}  # an empty estate: every one
