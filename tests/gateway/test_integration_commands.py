"""The gateway before the real eligibility, penalties, resettlement and training apps (in process, SQLite,
no bus: what the bus would bring, a registration, a decision, a confirmed violation, is handed to each
app the way its inbox does). One command per service end to end: the estate check on the household
(eligibility's word) or on the object fetched first, the identity the service records, the service's
own status (201, or 200 for a repeat) and refusals passed through as problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.eligibility import ExitDecided, HouseholdRegistered, Member
from contracts.monitoring import ViolationConfirmed
from gateway.tokens import Tokens
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
from services.kit.uow import UnitOfWork
from services.penalties.application import PenaltiesApp
from services.penalties.service import build as build_penalties
from services.penalties.settings import PenaltiesSettings
from services.resettlement.application import ResettlementApp, UnitSpec
from services.resettlement.service import build as build_resettlement
from services.resettlement.settings import ResettlementSettings
from services.training.application import TrainingApp
from services.training.service import build as build_training
from services.training.settings import TrainingSettings
from tests.gateway.conftest import GatewayFactory, bearer

IN_ESTATE, OUT_ESTATE = "Chancheng Garden", "Nanhai Homes"


def clock() -> datetime:
    return datetime(2027, 2, 15, 2, 0, tzinfo=UTC)


@dataclass
class Stack:
    client: httpx.AsyncClient
    penalties: PenaltiesApp
    resettlement: ResettlementApp
    training: TrainingApp


def sqlite(tmp_path: Path, name: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / f"{name}.sqlite")}


@pytest.fixture
async def stack(tmp_path: Path, gateway: GatewayFactory) -> AsyncIterator[Stack]:
    eligibility = EligibilityApp(EligibilitySettings(var_dir=tmp_path), sqlite(tmp_path, "eligibility"))
    eligibility_api, _ = build_eligibility(EligibilitySettings(var_dir=tmp_path), app=eligibility)
    penalties = PenaltiesApp(PenaltiesSettings(var_dir=tmp_path), sqlite(tmp_path, "penalties"))
    penalties_api, _ = build_penalties(PenaltiesSettings(var_dir=tmp_path), app=penalties)
    resettlement_settings = ResettlementSettings(var_dir=tmp_path, resettlement_pools_file=None)
    resettlement = ResettlementApp(resettlement_settings, sqlite(tmp_path, "resettlement"), clock=clock)
    resettlement_api, _ = build_resettlement(resettlement_settings, app=resettlement)
    training_settings = TrainingSettings(var_dir=tmp_path, training_courses_file=None)
    training = TrainingApp(training_settings, sqlite(tmp_path, "training"), clock=clock)
    training_api, _ = build_training(training_settings, app=training)
    apps = {
        "eligibility": eligibility_api,
        "penalties": penalties_api,
        "resettlement": resettlement_api,
        "training": training_api,
    }
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        f"http://{name}": httpx.ASGITransport(app=api) for name, api in apps.items()
    }
    services = {name: f"http://{name}" for name in apps}
    try:
        async with gateway(mounts=mounts, services=services) as client:
            yield Stack(client, penalties, resettlement, training)
    finally:
        for app in (eligibility, penalties, resettlement, training):
            app.close()


def inbox(handler: Callable[[UnitOfWork, Any], object], app: Any, payload: Any) -> None:
    """What an inbox does with one message: the handler in a unit of work, then one commit."""
    uow = UnitOfWork(app)
    handler(uow, payload)
    uow.commit(None)


async def registered(stack: Stack, tokens: Tokens, estate: str) -> tuple[UUID, UUID]:
    """A household registered through the gateway (eligibility knows its estate) and the registration
    delivered to the other services, as the bus would; returns (household id, member id)."""
    body = {
        "region": "CN-FS",
        "estate": estate,
        "building": "3",
        "unit": "1204",
        "base_rent": "1000.00",
        "tenancy_start": "2019-05-01",
        "members": [{"id_number": f"4406041985071{uuid4().int % 10**5:05d}", "birth_date": "1985-07-15"}],
    }
    response = await stack.client.post("/api/households", json=body, headers=bearer(tokens, "admin"))
    assert response.status_code == 201, response.text
    household_id, member_id = UUID(response.json()["household_id"]), uuid4()
    payload = HouseholdRegistered(
        household_id=household_id,
        region="CN-FS",
        estate=estate,
        building="3",
        unit="1204",
        base_rent=Decimal("1000.00"),
        tenancy_start=date(2019, 5, 1),
        members=[Member(member_id=member_id, birth_date=date(1985, 7, 15), disabled=False)],
    )
    penalties = stack.penalties
    penalties.run(lambda uow: penalties.on_household_registered(uow, payload))
    inbox(stack.resettlement.on_household_registered, stack.resettlement, payload)
    inbox(stack.training.on_household_registered, stack.training, payload)
    return household_id, member_id


async def test_one_command_per_service_end_to_end(stack: Stack, tokens: Tokens) -> None:
    client, scoped = stack.client, bearer(tokens, "reviewer_scoped")  # reviewer.li: Chancheng Garden only
    house, member = await registered(stack, tokens, IN_ESTATE)
    other, other_member = await registered(stack, tokens, OUT_ESTATE)

    # -- penalties: a sanction on a confirmed violation, an appeal, its decision ---------------------
    warning = ViolationConfirmed(
        household_id=house,
        warning_id=uuid4(),
        violation="sublet",
        estate=IN_ESTATE,
        building="3",
        unit="1204",
        inspector_id="inspector.zhao",
        confirmed_on=date(2027, 2, 10),
    )
    stack.penalties.run(lambda uow: stack.penalties.on_violation_confirmed(uow, warning))
    sanction = {"kind": "credit_list", "violation": "sublet", "basis_id": str(warning.warning_id)}
    url = f"/api/households/{house}/sanctions"
    # the service's day is its clock's (2027-02-15): a day after it is refused, a day before needs a reason
    future = await client.post(url, json={**sanction, "on": "2027-03-11"}, headers=scoped)
    assert future.status_code == 422 and future.json()["service"] == "penalties", future.text
    imposed = await client.post(url, json=sanction, headers=scoped)
    assert imposed.status_code == 201, imposed.text
    assert imposed.json()["state"] == "proposed"  # a credit-list entry needs a second person
    assert imposed.json()["imposed_by"] == "reviewer.li" and imposed.json()["estate"] == IN_ESTATE
    again = await client.post(url, json=sanction, headers=scoped)
    assert again.status_code == 200 and again.json()["sanction_id"] == imposed.json()["sanction_id"]
    no_basis = await client.post(url, json={**sanction, "basis_id": str(uuid4())}, headers=scoped)
    assert no_basis.status_code == 422 and no_basis.json()["type"] == "/problems/sanction-without-basis"
    assert no_basis.headers["content-type"] == "application/problem+json"
    outside = await client.post(f"/api/households/{other}/sanctions", json=sanction, headers=scoped)
    assert outside.status_code == 403

    sanction_id = imposed.json()["sanction_id"]
    refused = await client.post(f"/api/sanctions/{sanction_id}/enter", headers=scoped)
    assert refused.status_code == 403  # sanctions:execute: a supervisor's
    entered = await client.post(f"/api/sanctions/{sanction_id}/enter", headers=bearer(tokens, "supervisor2"))
    assert entered.status_code == 200 and entered.json()["state"] == "active", entered.text
    lodged = await client.post(
        f"/api/sanctions/{sanction_id}/appeals",
        json={"grounds": "the lodger is my brother"},
        headers=scoped,
    )
    assert lodged.status_code == 201, lodged.text
    resolve = f"/api/appeals/{lodged.json()['appeal_id']}/resolve"
    decision = {"outcome": "upheld", "note": "family, not a tenant"}
    assert (await client.post(resolve, json=decision, headers=scoped)).status_code == 403  # a reviewer
    resolved = await client.post(resolve, json=decision, headers=bearer(tokens, "supervisor"))
    assert resolved.status_code == 200 and resolved.json()["state"] == "upheld", resolved.text
    sanctions = (await client.get(f"/api/households/{house}/sanctions", headers=scoped)).json()
    withdrawn = next(s for s in sanctions if s["sanction_id"] == sanction_id)
    assert withdrawn["state"] == "withdrawn"

    # -- resettlement: an offered transitional unit accepted for the household -----------------------
    units = [UnitSpec("transitional", "Test Court", "1", f"010{n}", Decimal("40.00")) for n in (1, 2)]
    stack.resettlement.add_units(units)
    for household in (house, other):
        stack.resettlement.exit_decided(
            ExitDecided(
                household_id=household,
                review_id=uuid4(),
                route="exit",
                decided_on=date(2027, 2, 1),
                low_income=True,
                wants_to_buy=False,
            )
        )
    placement = (await client.get(f"/api/households/{house}/placement", headers=scoped)).json()
    others = (
        await client.get(f"/api/households/{other}/placement", headers=bearer(tokens, "reviewer"))
    ).json()
    assert placement["state"] == "offered" and others["state"] == "offered"
    refused = await client.post(f"/api/resettlement-cases/{others['case_id']}/accept", headers=scoped)
    assert refused.status_code == 403
    accepted = await client.post(f"/api/resettlement-cases/{placement['case_id']}/accept", headers=scoped)
    assert accepted.status_code == 200, accepted.text
    twice = await client.post(f"/api/resettlement-cases/{placement['case_id']}/accept", headers=scoped)
    assert twice.status_code == 409 and twice.json()["service"] == "resettlement"
    placement = (await client.get(f"/api/households/{house}/placement", headers=scoped)).json()
    assert placement["state"] == "accepted"
    assert (await client.post("/api/resettlement-cases/expire", json={}, headers=scoped)).status_code == 403

    # -- training: a course in the estate, a referral, an enrolment, attendance ----------------------
    course = {
        "code": "electrician-2027",
        "title": "Electrician",
        "provider": "Foshan technical school",
        "estate": IN_ESTATE,
        "capacity": 10,
        "sessions": [{"on": "2027-02-15", "topic": "safety"}, {"on": "2027-02-22", "topic": "wiring"}],
    }  # the first session is today (the services' clock): its attendance can be recorded
    added = await client.post("/api/courses", json=course, headers=scoped)
    assert added.status_code == 201, added.text
    course_id = added.json()["course_id"]
    assert (
        await client.post("/api/courses", json={**course, "estate": OUT_ESTATE}, headers=scoped)
    ).status_code == 403
    referred = await client.post(
        "/api/referrals", json={"household_id": str(house), "member_id": str(member)}, headers=scoped
    )
    assert referred.status_code == 201, referred.text
    referral_id = referred.json()["referral_id"]
    other_referral = await client.post(
        "/api/referrals",
        json={"household_id": str(other), "member_id": str(other_member)},
        headers=bearer(tokens, "reviewer"),
    )
    assert other_referral.status_code in (200, 201)
    enrolments = f"/api/courses/{course_id}/enrolments"
    foreign = await client.post(
        enrolments, json={"referral_id": other_referral.json()["referral_id"]}, headers=scoped
    )
    assert foreign.status_code == 403
    enrolled = await client.post(enrolments, json={"referral_id": referral_id}, headers=scoped)
    assert enrolled.status_code == 201 and enrolled.json()["status"] == "enrolled", enrolled.text
    attended = await client.post(
        f"/api/courses/{course_id}/sessions/1/attendance",
        json={"attendees": [str(member)], "held_on": "2027-02-15"},
        headers=scoped,
    )
    assert attended.status_code == 200 and attended.json()["attendees"] == 1, attended.text
    training = (await client.get(f"/api/households/{house}/training", headers=scoped)).json()
    assert [r["state"] for r in training["referrals"]] == ["enrolled"]

    # who did what, as the services recorded it
    timeline = (await client.get(f"/api/households/{house}/timeline", headers=scoped)).json()
    by_service = {(e["service"], e["actor"]) for e in timeline["entries"]}
    assert ("penalties", "reviewer.li") in by_service and ("penalties", "supervisor.chen") in by_service
    assert ("resettlement", "reviewer.li") in by_service
