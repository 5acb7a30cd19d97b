"""The answering read model fed by our own events: a member of a household eligibility registered,
whose hash for a peer is known, is answered `holds_subsidised_housing: true` to that peer only."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import Tracking
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts.eligibility import HouseholdRegistered
from contracts.envelope import Envelope
from contracts.federation import StatusAnswer
from federation.handlers import HOUSEHOLD_REGISTERED, on_household_registered
from federation.service import Node, build
from services.kit import clock
from services.kit.codec import Incoming
from services.kit.uow import UnitOfWork
from tests.federation.conftest import Demo, query, signed


def register(node: Node, household: object, sequence: int) -> None:
    payload = HouseholdRegistered.model_validate(
        {
            "household_id": str(household),
            "region": "CN-FS",
            "estate": "Chancheng Garden",
            "building": "3",
            "unit": "1204",
            "base_rent": "680.00",
            "tenancy_start": date(2019, 5, 1).isoformat(),
            "members": [{"member_id": str(uuid4()), "birth_date": "1985-07-15", "disabled": False}],
        }
    )
    envelope = Envelope.model_validate(
        {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "/housing/eligibility",
            "type": HOUSEHOLD_REGISTERED.type,
            "subject": str(household),
            "time": clock.now().isoformat(),
            "datacontenttype": "application/json",
            "dataschema": HOUSEHOLD_REGISTERED.dataschema,
            "data": payload.model_dump(mode="json"),
        }
    )
    uow = UnitOfWork(node.app)
    on_household_registered(Incoming(HOUSEHOLD_REGISTERED, envelope, payload, "ELIGIBILITY", sequence), uow)
    uow.commit(Tracking("inbox:ELIGIBILITY", sequence))


def holds(client: TestClient, demo: Demo, id_number: str, asking: str = "CN-GZ") -> bool | None:
    raw, headers = signed(demo, query(demo, asking=asking, id_number=id_number), asking=asking)
    response = client.post("/federation/v1/household-status", content=raw, headers=headers.items())
    assert response.status_code == 200, response.text
    return StatusAnswer.model_validate_json(response.content).holds_subsidised_housing


def test_a_registered_households_members_are_housed_here(
    foshan: tuple[FastAPI, Node], client: TestClient, demo: Demo
) -> None:
    node = foshan[1]
    household, member = uuid4(), uuid4()
    subjects = [
        {
            "member_id": str(member),
            "city": "CN-GZ",
            "id_hash": demo.hash_for("CN-FS", "CN-GZ", "DEMO-TENANT-1"),
        }
    ]
    node.app.record_subjects(household, subjects)
    node.index.catch_up()
    assert holds(client, demo, "DEMO-TENANT-1") is False, "hashes alone do not make a tenant"

    register(node, household, 1)
    register(node, household, 2)  # redelivery: still one tenancy
    node.index.catch_up()
    assert holds(client, demo, "DEMO-TENANT-1") is True
    assert holds(client, demo, "DEMO-TENANT-1", asking="CN-DG") is False, "no Dongguan hash was given"

    replaced = [
        {
            "member_id": str(member),
            "city": "CN-GZ",
            "id_hash": demo.hash_for("CN-FS", "CN-GZ", "DEMO-TENANT-2"),
        }
    ]
    node.app.record_subjects(household, replaced)
    node.index.catch_up()
    assert holds(client, demo, "DEMO-TENANT-1") is False
    assert holds(client, demo, "DEMO-TENANT-2") is True


def test_the_index_is_rebuilt_from_the_store_at_start(demo: Demo, tmp_path: Path) -> None:
    settings, env = demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path)
    _, node = build(settings, env)
    household = uuid4()
    subject = {
        "member_id": str(uuid4()),
        "city": "CN-GZ",
        "id_hash": demo.hash_for("CN-FS", "CN-GZ", "DEMO-T"),
    }
    node.app.record_subjects(household, [subject])
    register(node, household, 1)
    node.app.close()
    api, node = build(settings, env)
    assert holds(TestClient(api, base_url=demo.base_url("CN-FS")), demo, "DEMO-T") is True
    node.app.close()
