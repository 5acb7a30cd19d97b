"""The gateway's object-level check reads one object from its service's single read (an appeal, a
resettlement case, a unit, an employment fact), never the service's whole list; and penalties' own
four-eyes rule answers through the gateway when the gateway's check lets a step pass.

First against the fake services (which record every call), then against the real penalties,
resettlement and training apps in process (their transports record the paths asked)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.department import DepartmentFactReported, EmploymentFact
from contracts.monitoring import ViolationConfirmed
from gateway.tokens import Tokens
from gateway.users import Account
from services.eligibility.application import EligibilityApp
from services.eligibility.service import build as build_eligibility
from services.eligibility.settings import EligibilitySettings
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
from tests.gateway.fakes import (
    APPEAL_IN,
    APPEAL_OUT,
    EVIDENCE_IN,
    EVIDENCE_OUT,
    IN_ESTATE,
    OUT_ESTATE,
    RCASE_IN,
    RCASE_OUT,
    REFERRAL_IN,
    UNIT_IN,
    UNIT_OUT,
    Fakes,
)
from tests.gateway.test_integration_commands import Stack, clock, inbox, registered, sqlite

LISTS = {"/appeals", "/cases", "/pools", "/employment-evidence"}


def listed(calls: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The calls that fetched a list (or a pool's units) from a service."""
    return [c for c in calls if c[1] == "GET" and (c[2] in LISTS or c[2].startswith("/pools/"))]


# -- against the fakes ------------------------------------------------------------------------------


async def test_each_object_check_reads_one_object(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    scoped = Account("supervisor.he", "supervisor", "", estates=frozenset({IN_ESTATE}))
    headers = {"authorization": f"Bearer {tokens.issue(scoped)['access_token']}"}
    steps = [
        (f"/api/appeals/{APPEAL_IN}/resolve", {"outcome": "dismissed"}, f"/appeals/{APPEAL_IN}"),
        (f"/api/resettlement-cases/{RCASE_IN}/accept", None, f"/cases/{RCASE_IN}"),
        (f"/api/units/{UNIT_IN}/out-of-service", {"reason": "leak"}, f"/units/{UNIT_IN}"),
        (
            f"/api/employment-evidence/{EVIDENCE_IN}/attribute",
            {"referral_id": REFERRAL_IN},
            f"/employment-evidence/{EVIDENCE_IN}",
        ),
    ]
    async with gateway() as client:
        for path, body, single in steps:
            before = len(fakes.calls)
            done = await client.post(path, json=body, headers=headers)
            assert done.status_code == 200, (path, done.text)
            calls = [(c.service, c.method, c.path) for c in fakes.calls[before:]]
            assert any(c[1:] == ("GET", single) for c in calls), calls
            assert not listed(calls), calls
            forwarded = path.removeprefix("/api").replace("/resettlement-cases/", "/cases/")
            assert calls[-1][1:] == ("POST", forwarded), calls

        refused = [
            f"/api/appeals/{APPEAL_OUT}/resolve",
            f"/api/resettlement-cases/{RCASE_OUT}/accept",
            f"/api/units/{UNIT_OUT}/out-of-service",
            f"/api/employment-evidence/{EVIDENCE_OUT}/attribute",
        ]
        bodies = [{"outcome": "dismissed"}, None, {}, {"referral_id": REFERRAL_IN}]
        writes = len(fakes.writes())
        for path, body in zip(refused, bodies, strict=True):
            answer = await client.post(path, json=body, headers=headers)
            assert answer.status_code == 403 and OUT_ESTATE not in answer.text, (path, answer.text)
        unknown = uuid4()
        for path, body in (
            (f"/api/appeals/{unknown}/resolve", {"outcome": "upheld"}),
            (f"/api/resettlement-cases/{unknown}/accept", None),
            (f"/api/units/{unknown}/back-in-service", {}),
            (f"/api/employment-evidence/{unknown}/attribute", {"referral_id": REFERRAL_IN}),
        ):
            answer = await client.post(path, json=body, headers=headers)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert len(fakes.writes()) == writes  # refusals and unknown objects forward nothing
    assert not listed([(c.service, c.method, c.path) for c in fakes.calls])


async def test_an_every_estate_account_steps_on_a_unit_without_a_read(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    async with gateway() as client:
        done = await client.post(
            f"/api/units/{UNIT_OUT}/out-of-service",
            json={"reason": "leak"},
            headers=bearer(tokens, "reviewer"),
        )
    assert done.status_code == 200
    assert [(c.method, c.path) for c in fakes.calls] == [("POST", f"/units/{UNIT_OUT}/out-of-service")]


# -- against the real services ----------------------------------------------------------------------


class Recording(httpx.ASGITransport):
    """An ASGI transport that notes (service, method, path) of every request."""

    def __init__(self, app: Any, service: str, calls: list[tuple[str, str, str]]) -> None:
        super().__init__(app=app)
        self.service, self.calls = service, calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((self.service, request.method, request.url.path))
        return await super().handle_async_request(request)


@dataclass
class Recorded:
    stack: Stack
    calls: list[tuple[str, str, str]]


@pytest.fixture
async def recorded(tmp_path: Path, gateway: GatewayFactory) -> AsyncIterator[Recorded]:
    eligibility = EligibilityApp(EligibilitySettings(var_dir=tmp_path), sqlite(tmp_path, "eligibility"))
    penalties = PenaltiesApp(PenaltiesSettings(var_dir=tmp_path), sqlite(tmp_path, "penalties"))
    resettlement_settings = ResettlementSettings(var_dir=tmp_path, resettlement_pools_file=None)
    resettlement = ResettlementApp(resettlement_settings, sqlite(tmp_path, "resettlement"), clock=clock)
    training_settings = TrainingSettings(var_dir=tmp_path, training_courses_file=None)
    training = TrainingApp(training_settings, sqlite(tmp_path, "training"), clock=clock)
    apps = {
        "eligibility": build_eligibility(EligibilitySettings(var_dir=tmp_path), app=eligibility)[0],
        "penalties": build_penalties(PenaltiesSettings(var_dir=tmp_path), app=penalties)[0],
        "resettlement": build_resettlement(resettlement_settings, app=resettlement)[0],
        "training": build_training(training_settings, app=training)[0],
    }
    calls: list[tuple[str, str, str]] = []
    mounts: dict[str, httpx.AsyncBaseTransport] = {
        f"http://{name}": Recording(app=api, service=name, calls=calls) for name, api in apps.items()
    }
    try:
        async with gateway(mounts=mounts, services={name: f"http://{name}" for name in apps}) as client:
            yield Recorded(Stack(client, penalties, resettlement, training), calls)
    finally:
        for app in (eligibility, penalties, resettlement, training):
            app.close()


async def test_real_services_answer_the_single_reads_and_penalties_keeps_four_eyes(
    recorded: Recorded, tokens: Tokens
) -> None:
    stack, calls = recorded.stack, recorded.calls
    client, scoped = stack.client, bearer(tokens, "reviewer_scoped")  # reviewer.li: Chancheng Garden
    chen, wang = bearer(tokens, "supervisor"), bearer(tokens, "supervisor2")
    house, member = await registered(stack, tokens, IN_ESTATE)

    # -- penalties: the gateway's check passes (wang imposed nothing); penalties refuses who lodged it
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
    imposed = await client.post(
        f"/api/households/{house}/sanctions",
        json={"kind": "credit_list", "violation": "sublet", "basis_id": str(warning.warning_id)},
        headers=scoped,
    )
    assert imposed.status_code == 201, imposed.text
    entered = await client.post(f"/api/sanctions/{imposed.json()['sanction_id']}/enter", headers=wang)
    assert entered.status_code == 200, entered.text
    lodged = await client.post(
        f"/api/sanctions/{imposed.json()['sanction_id']}/appeals",
        json={"grounds": "the lodger is my brother"},
        headers=wang,
    )
    assert lodged.status_code == 201 and lodged.json()["lodged_by"] == "supervisor.wang", lodged.text
    appeal_id = lodged.json()["appeal_id"]
    resolve = f"/api/appeals/{appeal_id}/resolve"
    decision = {"outcome": "upheld"}
    own = await client.post(resolve, json=decision, headers=wang)
    assert own.status_code == 403, own.text
    assert (own.json()["title"], own.json()["service"]) == ("Four-eyes principle", "penalties")
    assert ("penalties", "POST", f"/appeals/{appeal_id}/resolve") in calls  # the service said no, not us
    assert stack.penalties.get_appeal(UUID(appeal_id))["state"] == "open"
    decided = await client.post(resolve, json=decision, headers=chen)
    assert decided.status_code == 200 and decided.json()["resolved_by"] == "supervisor.chen", decided.text

    # -- resettlement: a case and a unit read by id
    units = [
        UnitSpec("transitional", estate, "1", "0101", Decimal("40.00")) for estate in (IN_ESTATE, OUT_ESTATE)
    ]
    stack.resettlement.add_units(units)
    free = {u["estate"]: u["unit_id"] for u in stack.resettlement.units("transitional")}
    out_of_service = await client.post(
        f"/api/units/{free[IN_ESTATE]}/out-of-service", json={"reason": "leak"}, headers=scoped
    )
    assert out_of_service.status_code == 200, out_of_service.text
    foreign = await client.post(f"/api/units/{free[OUT_ESTATE]}/out-of-service", json={}, headers=scoped)
    assert foreign.status_code == 403 and OUT_ESTATE not in foreign.text
    missing = await client.post(f"/api/units/{uuid4()}/out-of-service", json={}, headers=scoped)
    assert missing.status_code == 404 and missing.json()["service"] == "resettlement"
    states = {u["estate"]: u["state"] for u in stack.resettlement.units("transitional")}
    assert states == {IN_ESTATE: "out_of_service", OUT_ESTATE: "free"}
    back = await client.post(f"/api/units/{free[IN_ESTATE]}/back-in-service", json={}, headers=scoped)
    assert back.status_code == 200, back.text

    # -- training: an employment fact read by id (one of the household's, one naming a person only)
    referred = await client.post(
        "/api/referrals",
        json={"household_id": str(house), "member_id": str(member)},
        headers=scoped,
    )
    assert referred.status_code == 201, referred.text
    facts = {
        "household": DepartmentFactReported(
            department="human_resources",  # type: ignore[arg-type]
            reference="RS-11",
            described_on=date(2027, 2, 10),
            household_id=house,
            fact=EmploymentFact(employer="Midea", start_date=date(2027, 2, 1)),  # begun by today
        ),
        "person": DepartmentFactReported(
            department="human_resources",  # type: ignore[arg-type]
            reference="RS-12",
            described_on=date(2027, 2, 10),
            person_hash="ef" * 32,
            fact=EmploymentFact(employer="Midea", start_date=date(2027, 2, 1)),  # begun by today
        ),
    }
    for fact in facts.values():
        inbox(stack.training.on_fact_reported, stack.training, fact)
    evidence = {e["reference"]: e["evidence_id"] for e in stack_evidence(stack)}
    course = {
        "code": "electrician-2027",
        "title": "Electrician",
        "provider": "Foshan technical school",
        "estate": IN_ESTATE,
        "capacity": 10,
        "sessions": [{"on": "2027-03-01", "topic": "safety"}],
    }
    course_id = (await client.post("/api/courses", json=course, headers=scoped)).json()["course_id"]
    enrolled = await client.post(
        f"/api/courses/{course_id}/enrolments",
        json={"referral_id": referred.json()["referral_id"]},
        headers=scoped,
    )
    assert enrolled.status_code == 201, enrolled.text  # a trainee now: employment is followed
    attribute = {"referral_id": referred.json()["referral_id"]}
    person_only = await client.post(
        f"/api/employment-evidence/{evidence['RS-12']}/attribute", json=attribute, headers=scoped
    )
    assert person_only.status_code == 403  # no estate on it: an estate-scoped account cannot act
    attributed = await client.post(
        f"/api/employment-evidence/{evidence['RS-11']}/attribute", json=attribute, headers=scoped
    )
    assert attributed.status_code == 200, attributed.text

    assert not listed(calls), listed(calls)
    assert ("resettlement", "GET", f"/units/{free[IN_ESTATE]}") in calls
    assert ("training", "GET", f"/employment-evidence/{evidence['RS-11']}") in calls
    assert ("penalties", "GET", f"/appeals/{appeal_id}") in calls
    assert json.dumps(calls).count("/attribute") == 1  # the refused attribution was not forwarded


def stack_evidence(stack: Stack) -> list[dict[str, str]]:
    views = stack.training.catch_up()
    with stack.training.lock:
        return [
            {"reference": v.reference, "evidence_id": str(v.evidence_id)} for v in views.evidence.values()
        ]
