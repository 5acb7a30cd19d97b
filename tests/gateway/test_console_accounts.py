"""The administrator assigns estates to operators on the console, and the demo accounts' estates are
estates the demo city has.

An assignment is the administrator's alone (anyone else gets the error page naming who may), goes
through the session's CSRF token like every console form, holds from the operator's next token on (the
console's and the API's, which share one directory), and outlives a restart (kept in
`<VAR_DIR>/gateway/estate-assignments.yaml`, over the accounts file)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.assignments import Assignments
from gateway.settings import DEMO_USERS_FILE, GatewaySettings
from gateway.users import Account, Directory
from infra.demo import DEFAULT_SCALE
from infra.population import params as P
from infra.population.model import estate_names, scaled
from tests.gateway.conftest import ACCOUNTS, PASSWORD, GatewayFactory
from tests.gateway.fakes import IN_ESTATE, OUT_ESTATE
from tests.gateway.test_console import hidden_csrf, log_in

DISTRICTS = {"Chancheng": [IN_ESTATE, "Chancheng Court"]}


def at() -> datetime:
    return datetime(2027, 2, 15, 2, 0, tzinfo=UTC)


@pytest.fixture
def directory(password_hash: str) -> Directory:
    """The test accounts, with a district to pick (the conftest's directory has none)."""
    accounts = [
        Account(a.id, a.role, password_hash, estates=a.estates, department=a.department)
        for a in ACCOUNTS.values()
    ]
    return Directory(accounts, allow_demo=False, districts=DISTRICTS)


async def estates_of(client: httpx.AsyncClient, account: str) -> list[str] | None:
    token = await client.post(
        "/auth/token", data={"grant_type": "password", "username": account, "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    me = await client.get("/api/me", headers={"authorization": f"Bearer {token.json()['access_token']}"})
    found: list[str] | None = me.json()["estates"]
    return found


async def test_the_administrator_assigns_estates_and_the_next_login_carries_them(
    gateway: GatewayFactory, settings: GatewaySettings
) -> None:
    async with gateway() as client:
        assert await estates_of(client, "reviewer.he") is None  # every estate, as the file says
        await log_in(client, "admin.qian")
        page = await client.get("/console/accounts", params={"lang": "en"})
        assert page.status_code == 200 and 'id="account-reviewer.he"' in page.text
        assert 'action="/console/accounts/dept.civil-affairs/estates"' not in page.text  # systems have none
        assigned = await client.post(
            "/console/accounts/reviewer.he/estates",
            data={"csrf": hidden_csrf(page.text), "districts": "Chancheng", "estates": f"{OUT_ESTATE}\n"},
        )
        assert assigned.status_code == 303 and assigned.headers["location"] == "/console/accounts"
        assert await estates_of(client, "reviewer.he") == sorted({IN_ESTATE, "Chancheng Court", OUT_ESTATE})
        listed = await client.get("/console/accounts", params={"lang": "en"})
        assert "admin.qian · " in listed.text  # who assigned them, and when
        every = await client.post(
            "/console/accounts/reviewer.li/estates", data={"csrf": hidden_csrf(listed.text), "every": "on"}
        )
        assert every.status_code == 303 and await estates_of(client, "reviewer.li") is None
        empty = await client.post(
            "/console/accounts/reviewer.li/estates", data={"csrf": hidden_csrf(listed.text)}
        )
        assert empty.status_code == 422
        forged = await client.post(
            "/console/accounts/reviewer.li/estates",
            data={"csrf": hidden_csrf(listed.text), "estates": IN_ESTATE},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403 and await estates_of(client, "reviewer.li") is None
    kept = yaml.safe_load((settings.var_dir / "gateway" / "estate-assignments.yaml").read_text())
    assert kept["accounts"]["reviewer.he"]["assigned_by"] == "admin.qian"
    assert kept["accounts"]["reviewer.li"]["estates"] is None


async def test_only_the_administrator_assigns_and_the_refusal_says_so(
    gateway: GatewayFactory, settings: GatewaySettings
) -> None:
    async with gateway() as client:
        await log_in(client, "supervisor.chen")
        page = await client.get("/console/accounts", params={"lang": "en"})
        assert page.status_code == 403 and "Administrator" in page.text and "assign estates" in page.text
        dashboard = await client.get("/console/dashboard")
        assert 'href="/console/accounts"' not in dashboard.text  # not in her menu
        refused = await client.post(
            "/console/accounts/reviewer.he/estates",
            data={"csrf": hidden_csrf(dashboard.text), "estates": OUT_ESTATE},
        )
        assert refused.status_code == 403
        assert await estates_of(client, "reviewer.he") is None
    assert not (settings.var_dir / "gateway" / "estate-assignments.yaml").exists()


def test_assignments_outlive_a_restart(tmp_path: Path, directory: Directory) -> None:
    from gateway.roles import Principal, scopes_for

    admin = Principal("admin.qian", "admin", scopes_for("admin"))
    path = tmp_path / "estate-assignments.yaml"
    Assignments(directory, path, at).assign(admin, "reviewer.he", frozenset({OUT_ESTATE}))
    fresh = Directory(list(ACCOUNTS.values()), allow_demo=False)
    Assignments(fresh, path, at)
    assert fresh.accounts["reviewer.he"].estates == frozenset({OUT_ESTATE})
    assert fresh.accounts["reviewer.li"].estates == frozenset({IN_ESTATE})  # as the accounts file says


def test_the_demo_accounts_estates_are_estates_of_the_demo_city() -> None:
    """`make demo`'s synthetic Foshan (infra/population at the demo's scale) has every estate a demo
    account is scoped to, so that a scoped reviewer has households to review."""
    n_units = scaled(P.UNITS, DEFAULT_SCALE)
    city = {name for name, _ in estate_names(min(P.ESTATES, n_units))}
    demo = Directory.load(DEMO_USERS_FILE, allow_demo=True)
    scoped = {a.id: a.estates for a in demo.operators() if a.estates is not None}
    assert {"reviewer.li", "supervisor.wang", "inspector.zhao"} <= set(scoped)
    for account, estates in scoped.items():
        assert estates is not None and estates <= city, (account, sorted(estates - city))
    for district, names in demo.districts.items():
        assert set(names) <= city, district
