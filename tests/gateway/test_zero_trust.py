"""Zero trust inside (issue 18): every service, called directly on its own app as a caller past the
gateway would, believes only a valid service assertion minted for it, and applies the object-level
rules again from the assertion's claims; and the gateway's calls carry assertions the services accept.

The six real services in process, on one `ManualClock` (expiry is the clock moved, never a sleep), each
with one object of the household of `IN_ESTATE`. For each: no assertion, made-up `X-Operator-*`
headers, an assertion for another service, an expired one, one signed by a key nobody pinned and one
of an unknown issuer are all 401 problem+json with `WWW-Authenticate: Bearer`; a reviewer whose estates
do not include the object's is 403; the right assertion gets the same answer as through the gateway.
Health, readiness, metrics and the OpenAPI document stay open, and so does federation's peer protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from contracts.eligibility import HouseholdRegistered, Member
from services.eligibility.application import EligibilityApp, MemberInput
from services.kit.clock import ManualClock
from services.kit.uow import UnitOfWork
from services.resettlement.application import UnitSpec
from tests.gateway.conftest import GatewayFactory, bearer
from tests.support.identity import OTHER_KEY, AssertionHeaders, as_operator

IN_ESTATE, OUT_ESTATE = "Chancheng Garden", "Nanhai Homes"
START = datetime(2027, 2, 15, 2, 0, tzinfo=UTC)
SERVICES = ("eligibility", "penalties", "resettlement", "training", "monitoring", "federation")


@dataclass
class World:
    clock: ManualClock
    apps: dict[str, FastAPI]
    household: UUID
    unit: UUID
    reads: dict[str, tuple[str, str]]
    """service -> (a read of the `IN_ESTATE` household's object, the role that reads it)"""
    same: dict[str, tuple[str, str, str]]
    """service -> (its own path, the gateway's path to the same answer, the role)"""

    def client(self, service: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.apps[service], raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=f"http://{service}")


def sqlite(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(directory / "store.sqlite")}


def handed(app: Any, handler: Any, payload: Any) -> None:
    """What an inbox does with one message: the handler in a unit of work, then one commit."""
    uow = UnitOfWork(app)
    handler(uow, payload)
    uow.commit(None)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    from federation.demo import SIGNING_KEY, write_demo
    from federation.service import build as build_federation
    from federation.settings import FederationSettings
    from services.eligibility.service import build as build_eligibility
    from services.eligibility.settings import EligibilitySettings
    from services.monitoring.service import build as build_monitoring
    from services.monitoring.settings import MonitoringSettings
    from services.penalties.application import PenaltiesApp
    from services.penalties.service import build as build_penalties
    from services.penalties.settings import PenaltiesSettings
    from services.resettlement.application import ResettlementApp
    from services.resettlement.service import build as build_resettlement
    from services.resettlement.settings import ResettlementSettings
    from services.training.application import TrainingApp
    from services.training.service import build as build_training
    from services.training.settings import TrainingSettings

    clock = ManualClock(START)
    nowhere = "nats://127.0.0.1:1"  # lifespans are not run: no bus
    eligibility = EligibilityApp(EligibilitySettings(var_dir=tmp_path), sqlite(tmp_path / "e"), clock=clock)
    penalties = PenaltiesApp(PenaltiesSettings(var_dir=tmp_path), sqlite(tmp_path / "p"), clock=clock)
    resettlement_settings = ResettlementSettings(var_dir=tmp_path, resettlement_pools_file=None)
    resettlement = ResettlementApp(resettlement_settings, sqlite(tmp_path / "r"), clock=clock)
    training_settings = TrainingSettings(var_dir=tmp_path, training_courses_file=None)
    training = TrainingApp(training_settings, sqlite(tmp_path / "t"), clock=clock)
    monitoring_api, monitoring_runtime = build_monitoring(
        MonitoringSettings(var_dir=tmp_path / "m", nats_url=nowhere), sqlite(tmp_path / "m")
    )
    demo = tmp_path / "federation"
    write_demo(demo, {"CN-FS": 18006, "CN-GZ": 18106, "CN-DG": 18206})
    federation_settings = FederationSettings(
        var_dir=tmp_path / "f",
        nats_url=nowhere,
        federation_city="CN-FS",
        federation_private_key_file=demo / "CN-FS" / SIGNING_KEY,
        federation_peers_file=demo / "CN-FS" / "peers.yaml",
        federation_data_file=demo / "CN-FS" / "data.yaml",
        federation_audit_file=tmp_path / "f" / "audit.jsonl",
    )
    federation_api, node = build_federation(federation_settings, sqlite(tmp_path / "f"), clock)

    household = eligibility.register_household(
        region="CN-FS",
        estate=IN_ESTATE,
        building="3",
        unit="1204",
        base_rent=Decimal("1000.00"),
        tenancy_start=date(2019, 5, 1),
        members=[MemberInput("440604198507151234", date(1985, 7, 15), False)],
        registered_by="clerk.intake",
    ).id
    registered = HouseholdRegistered(
        household_id=household,
        region="CN-FS",
        estate=IN_ESTATE,
        building="3",
        unit="1204",
        base_rent=Decimal("1000.00"),
        tenancy_start=date(2019, 5, 1),
        members=[Member(member_id=uuid4(), birth_date=date(1985, 7, 15), disabled=False)],
    )
    penalties.run(lambda uow: penalties.on_household_registered(uow, registered))
    handed(training, training.on_household_registered, registered)
    monitoring = monitoring_runtime.app
    handed(monitoring, monitoring.on_household_registered, registered)  # type: ignore[attr-defined]
    resettlement.add_units([UnitSpec("transitional", IN_ESTATE, "9", "0901")])
    (unit,) = [UUID(str(u["unit_id"])) for u in resettlement.units("transitional")]

    apps = {
        "eligibility": build_eligibility(EligibilitySettings(var_dir=tmp_path), app=eligibility)[0],
        "penalties": build_penalties(PenaltiesSettings(var_dir=tmp_path), app=penalties)[0],
        "resettlement": build_resettlement(resettlement_settings, app=resettlement)[0],
        "training": build_training(training_settings, app=training)[0],
        "monitoring": monitoring_api,
        "federation": federation_api,
    }
    h = household
    reads = {
        "eligibility": (f"/households/{h}", "reviewer"),
        "penalties": (f"/households/{h}/sanctions", "reviewer"),
        "resettlement": (f"/units/{unit}", "reviewer"),
        "training": (f"/households/{h}/training", "reviewer"),
        "monitoring": (f"/households/{h}", "reviewer"),
        "federation": ("/federation/v1/exchanges", "auditor"),
    }
    same = {
        "eligibility": (f"/households/{h}", f"/api/households/{h}", "reviewer"),
        "penalties": (f"/households/{h}/sanctions", f"/api/households/{h}/sanctions", "reviewer"),
        "resettlement": ("/pools/transitional/units", "/api/pools/transitional/units", "reviewer"),
        "training": (f"/households/{h}/training", f"/api/households/{h}/training", "reviewer"),
        "monitoring": ("/warnings?state=raised", "/api/warnings?state=raised", "reviewer"),
        "federation": ("/federation/v1/exchanges", "/api/federation/exchanges", "auditor"),
    }
    yield World(clock, apps, household, unit, reads, same)
    for app in (eligibility, penalties, resettlement, training, monitoring, node.app):
        app.close()


def refused_as_unauthenticated(response: httpx.Response) -> str:
    """The 401 every service gives a caller it does not believe; returns the problem's detail."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    problem = response.json()
    assert problem["title"] == "Caller not authenticated" and problem["status"] == 401
    detail: str = problem["detail"]
    return detail


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_believes_only_an_assertion_minted_for_it(world: World, service: str) -> None:
    path, role = world.reads[service]
    other = SERVICES[(SERVICES.index(service) + 1) % len(SERVICES)]
    right = as_operator("reviewer.he", role, service)
    async with world.client(service) as client:
        missing = await client.get(path)
        made_up = await client.get(path, headers={"X-Operator-Id": "mallory", "X-Operator-Role": "admin"})
        for_another = await client.get(path, headers=as_operator("reviewer.he", role, other))
        foreign_key = AssertionHeaders("reviewer.he", role, service, key=OTHER_KEY)
        signed_by_nobody = await client.get(path, headers=foreign_key)
        unknown = AssertionHeaders("reviewer.he", role, service, issuer="housing-gateway-2")
        by_unknown_issuer = await client.get(path, headers=unknown)
        minted = dict(right)  # minted now, by the service's clock
        world.clock.advance(seconds=66)  # past `exp` and the 5 s leeway
        expired = await client.get(path, headers=minted)
        accepted = await client.get(path, headers=right)  # a fresh one
        open_paths = [await client.get(p) for p in ("/healthz", "/readyz", "/metrics", "/openapi.json")]

    assert "no service assertion" in refused_as_unauthenticated(missing)
    assert "X-Operator-* headers are not read" in refused_as_unauthenticated(made_up)
    assert f"is for '{other}', this service is '{service}'" in refused_as_unauthenticated(for_another)
    assert "bad signature" in refused_as_unauthenticated(signed_by_nobody)
    assert "not one this service trusts" in refused_as_unauthenticated(by_unknown_issuer)
    assert "expired 6 s ago" in refused_as_unauthenticated(expired)
    assert accepted.status_code == 200, accepted.text
    assert [r.status_code for r in open_paths] in ([200, 200, 200, 200], [200, 503, 200, 200])


@pytest.mark.parametrize("service", SERVICES)
async def test_an_estate_scoped_caller_meets_the_estate_rule_at_the_service(
    world: World, service: str
) -> None:
    path, role = world.reads[service]
    async with world.client(service) as client:
        elsewhere = await client.get(path, headers=as_operator("reviewer.li", role, service, [OUT_ESTATE]))
        own = await client.get(path, headers=as_operator("reviewer.li", role, service, [IN_ESTATE]))
    assert elsewhere.status_code == 403, elsewhere.text
    assert elsewhere.headers["content-type"] == "application/problem+json"
    if service == "federation":  # the exchange log spans every estate: no scoped caller reads it
        assert own.status_code == 403 and "spans every estate" in own.json()["detail"]
    else:
        assert elsewhere.json()["detail"] == "outside the estates you are assigned"
        assert own.status_code == 200, own.text


@pytest.fixture
async def through_gateway(world: World, gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        f"http://{name}": httpx.ASGITransport(app=api) for name, api in world.apps.items()
    }
    services = {name: f"http://{name}" for name in world.apps}
    async with gateway(mounts=mounts, services=services) as client:
        yield client


@pytest.mark.parametrize("service", SERVICES)
async def test_the_right_assertion_gets_what_the_gateway_answers(
    world: World, through_gateway: httpx.AsyncClient, tokens: Any, service: str
) -> None:
    """The gateway mints for each service an assertion that service accepts, naming the operator of
    the token (reviewer.he, auditor.sun), and passes on the service's answer unchanged for a role that
    sees personal fields; called directly with the same operator's assertion, the service answers alike."""
    path, gateway_path, role = world.same[service]
    account = {"reviewer": "reviewer.he", "auditor": "auditor.sun"}[role]
    async with world.client(service) as client:
        direct = await client.get(path, headers=as_operator(account, role, service))
    assert direct.status_code == 200, direct.text
    via = await through_gateway.get(gateway_path, headers=bearer(tokens, role))
    assert via.status_code == 200, via.text
    assert via.json() == direct.json()


async def test_a_gateway_whose_key_no_service_pins_is_told_so(
    world: World, gateway: GatewayFactory, tokens: Any, tmp_path: Path
) -> None:
    """A deployment fault (the services pin another key, or the clocks are out of step), not the
    operator's: 502 naming the service and its reason, never the service's 401 passed on (the console
    would take that for an expired session)."""
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        "http://eligibility": httpx.ASGITransport(app=world.apps["eligibility"])
    }
    services = {"eligibility": "http://eligibility"}
    stray = tmp_path / "stray" / "assertion-key.pem"  # created by the gateway, pinned by nobody
    async with gateway(mounts=mounts, services=services, assertion_key_file=stray) as client:
        answer = await client.get(f"/api/households/{world.household}", headers=bearer(tokens, "reviewer"))
    assert answer.status_code == 502, answer.text
    problem = answer.json()
    assert (
        problem["title"] == "Service refused the gateway's identity" and problem["service"] == "eligibility"
    )
    assert problem["detail"].startswith("eligibility: bad signature")
    assert stray.exists() and (stray.stat().st_mode & 0o777) == 0o600


async def test_federations_peer_protocol_keeps_its_own_verification(world: World) -> None:
    """Peers sign their queries (PROTOCOL.md) and never hold a gateway assertion: the wire routes are
    not behind it, and refuse an unsigned query with their own problem, not the assertion's 401."""
    async with world.client("federation") as client:
        keys = await client.get("/federation/v1/keys")
        unsigned = await client.post("/federation/v1/household-status", content=b"{}")
        refusals = await client.get("/federation/v1/refusals")  # an operator route: behind it
    assert keys.status_code == 200 and keys.json()["keys"]
    assert 400 <= unsigned.status_code < 500 and unsigned.json().get("title") != "Caller not authenticated"
    refused_as_unauthenticated(refusals)


async def test_object_level_rules_on_commands_and_lists_at_the_services(world: World) -> None:
    household = world.household
    scoped = as_operator("reviewer.li", "reviewer", "eligibility", [OUT_ESTATE])
    async with world.client("eligibility") as client:
        listed = await client.get("/households", headers=scoped)
        members = {"members": [{"id_number": "440604198507151234", "birth_date": "1985-07-15"}]}
        changed = await client.put(f"/households/{household}/members", json=members, headers=scoped)
        sweep = await client.post(
            "/cross-region/sweeps",
            json={"reason": "all"},
            headers=as_operator("supervisor.li", "supervisor", "eligibility", [OUT_ESTATE]),
        )
    assert listed.status_code == 200 and listed.json() == {"items": [], "next": None}
    assert changed.status_code == 403
    assert sweep.status_code == 403 and "spans every estate" in sweep.json()["detail"]

    async with world.client("penalties") as client:
        exit_elsewhere = await client.post(
            f"/households/{household}/voluntary-exit",
            json={},
            headers=as_operator("officer.li", "reviewer", "penalties", [OUT_ESTATE]),
        )
        overdue = await client.post(
            "/transitions/overdue-check",
            json={},
            headers=as_operator("officer.li", "reviewer", "penalties", [IN_ESTATE]),
        )
    assert exit_elsewhere.status_code == 403
    assert overdue.status_code == 403 and "spans every estate" in overdue.json()["detail"]

    async with world.client("resettlement") as client:
        out_of_service = await client.post(
            f"/units/{world.unit}/out-of-service",
            json={"reason": "repairs"},
            headers=as_operator("officer.he", "reviewer", "resettlement", [OUT_ESTATE]),
        )
        units = await client.get(
            "/pools/transitional/units",
            headers=as_operator("officer.he", "reviewer", "resettlement", [OUT_ESTATE]),
        )
    assert out_of_service.status_code == 403 and units.json()["items"] == []

    async with world.client("monitoring") as client:
        someone_else = await client.post(
            f"/warnings/{uuid4()}/assign",
            json={"inspector_id": "inspector.wu"},
            headers=as_operator("inspector.zhao", "inspector", "monitoring"),
        )
    assert someone_else.status_code == 403 and "own name" in someone_else.json()["detail"]


async def test_a_department_system_posts_only_its_own_departments_facts(world: World) -> None:
    yesterday = "2027-02-14"
    income = {
        "department": "civil_affairs",
        "reference": "MZ-1",
        "described_on": yesterday,
        "household_id": str(world.household),
        "fact": {"kind": "income", "monthly_income": "3000.00"},
    }
    assets = {
        **income,
        "department": "finance",
        "reference": "CZ-1",
        "fact": {"kind": "financial_assets", "amount": "1.00"},
    }
    civil_affairs = as_operator("dept.civil-affairs", "department", "eligibility", department="civil_affairs")
    async with world.client("eligibility") as client:
        foreign = await client.post("/facts", json=[income, assets], headers=civil_affairs)
        nameless = await client.post(
            "/facts", json=[income], headers=as_operator("dept.x", "department", "eligibility")
        )
        own = await client.post("/facts", json=[income], headers=civil_affairs)
    assert foreign.status_code == 403
    assert foreign.json()["lines"] == [{"line": 2, "detail": "department must be civil_affairs"}]
    assert nameless.status_code == 403
    assert own.status_code == 200 and own.json()["recorded"] == 1
