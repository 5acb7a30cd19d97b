"""The answering read model fed by our own registers: eligibility's `cross-region-register-updated`
(handled by `on_register_updated`, kept as a `RegisterEntry`) names a household's members by their
hash for each peer, under every linkage key the peer may ask with, and says what holds for them here.
A member is answered with the entry's categories, to that peer only; an update replaces the previous
hashes; a redelivered update records nothing; the index is rebuilt from the store at start; during a
linkage-key rotation a query under either key of the pair finds the member."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import Tracking
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts.eligibility import CrossRegionRegisterUpdated
from contracts.envelope import Envelope
from contracts.federation import CATEGORIES, StatusAnswer
from federation.domain import RegisterEntry
from federation.handlers import REGISTER_UPDATED, on_register_updated
from federation.readmodel import UNKNOWN_SUBJECT
from federation.service import Node, build
from services.kit.clock import ManualClock
from services.kit.codec import Incoming
from services.kit.linkage import Keyring, LinkageKey
from services.kit.uow import UnitOfWork
from tests.federation.conftest import Demo, query, signed

HOUSED = {
    "holds_subsidised_housing": True,
    "receives_housing_subsidy": False,
    "owns_property_over_threshold": False,
}
EVERY_CATEGORY = {
    "holds_subsidised_housing": True,
    "receives_housing_subsidy": True,
    "owns_property_over_threshold": True,
}


def subject(demo: Demo, member: UUID, id_number: str, city: str = "CN-GZ") -> dict[str, str]:
    """The member's hash for `city` under the demo pair's single key (id "1"), as eligibility makes it."""
    return {
        "member_id": str(member),
        "city": city,
        "key_id": "1",
        "id_hash": demo.hash_for("CN-FS", city, id_number),
    }


def update_register(
    node: Node,
    household: UUID,
    subjects: list[dict[str, str]],
    categories: dict[str, bool],
    sequence: int,
    moment: datetime,
) -> None:
    """Eligibility's update as the inbox hands it to the handler (committed with its tracking)."""
    payload = CrossRegionRegisterUpdated.model_validate(
        {
            "household_id": str(household),
            "subjects": subjects,
            **categories,
            "as_of": moment.date().isoformat(),
        }
    )
    envelope = Envelope.model_validate(
        {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "/housing/eligibility",
            "type": REGISTER_UPDATED.type,
            "subject": str(household),
            "time": moment.isoformat(),
            "datacontenttype": "application/json",
            "dataschema": REGISTER_UPDATED.dataschema,
            "data": payload.model_dump(mode="json"),
        }
    )
    uow = UnitOfWork(node.app)
    on_register_updated(Incoming(REGISTER_UPDATED, envelope, payload, "ELIGIBILITY", sequence), uow)
    uow.commit(Tracking("inbox:ELIGIBILITY", sequence))


def answer(client: TestClient, demo: Demo, asking: str = "CN-GZ", **body: Any) -> dict[str, bool | None]:
    """Foshan's signed answer to `asking` (a query by `id_number`, or by `id_hash` as given)."""
    raw, headers = signed(demo, query(demo, asking=asking, **body), asking=asking)
    response = client.post("/federation/v1/household-status", content=raw, headers=headers.items())
    assert response.status_code == 200, response.text
    found = StatusAnswer.model_validate_json(response.content)
    return {name: getattr(found, name) for name in CATEGORIES}


def test_an_entrys_members_answer_with_its_categories_to_that_peer_only(
    foshan: tuple[FastAPI, Node], client: TestClient, demo: Demo, clock: ManualClock
) -> None:
    node = foshan[1]
    household, member = uuid4(), uuid4()
    assert answer(client, demo, id_number="DEMO-TENANT-1") == UNKNOWN_SUBJECT, "nobody of ours yet"

    update_register(node, household, [subject(demo, member, "DEMO-TENANT-1")], EVERY_CATEGORY, 1, clock())
    node.index.catch_up()
    assert answer(client, demo, id_number="DEMO-TENANT-1") == EVERY_CATEGORY
    assert answer(client, demo, asking="CN-DG", id_number="DEMO-TENANT-1") == UNKNOWN_SUBJECT, (
        "no Dongguan hash was given"
    )

    # The member's ID number corrected (and the subsidy ended): the new entry replaces the old one.
    clock.advance(days=3)
    update_register(node, household, [subject(demo, member, "DEMO-TENANT-2")], HOUSED, 2, clock())
    node.index.catch_up()
    assert answer(client, demo, id_number="DEMO-TENANT-1") == UNKNOWN_SUBJECT
    assert answer(client, demo, id_number="DEMO-TENANT-2") == HOUSED


def test_a_redelivered_update_records_one_update_only(
    foshan: tuple[FastAPI, Node], client: TestClient, demo: Demo, clock: ManualClock
) -> None:
    node = foshan[1]
    household = uuid4()
    subjects = [subject(demo, uuid4(), "DEMO-TENANT-3")]
    update_register(node, household, subjects, HOUSED, 1, clock())
    update_register(node, household, subjects, HOUSED, 2, clock())  # the same message, delivered again
    topics = [n.topic for n in node.app.notification_log.select(start=1, limit=100)]
    assert [t.rsplit(".", 1)[-1] for t in topics if "RegisterEntry" in t] == ["Opened", "Updated"]
    entry: RegisterEntry = node.app.repository.get(RegisterEntry.create_id(household))
    assert entry.version == 2 and entry.categories == HOUSED
    node.index.catch_up()
    assert answer(client, demo, id_number="DEMO-TENANT-3") == HOUSED


def test_the_index_is_rebuilt_from_the_store_at_start(demo: Demo, tmp_path: Path, clock: ManualClock) -> None:
    settings, env = demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path)
    _, node = build(settings, env, clock)
    update_register(node, uuid4(), [subject(demo, uuid4(), "DEMO-T")], EVERY_CATEGORY, 1, clock())
    node.app.close()
    api, node = build(settings, env, clock)
    try:
        restarted = TestClient(api, base_url=demo.base_url("CN-FS"))
        assert answer(restarted, demo, id_number="DEMO-T") == EVERY_CATEGORY
    finally:
        node.app.close()


def test_during_a_rotation_a_hash_under_either_key_of_the_pair_matches(
    foshan: tuple[FastAPI, Node], client: TestClient, demo: Demo, clock: ManualClock
) -> None:
    """Foshan and Guangzhou agree a second linkage key, valid from 10 days on, while the first ends in
    20: eligibility's entry holds the member under both until the first ends, then under the second
    only. Guangzhou may switch to the second key whenever it likes within the overlap."""
    node = foshan[1]
    now = clock()
    first = LinkageKey("CN-GZ", "FS-GZ-1", demo.linkage("CN-FS", "CN-GZ"), None, now + timedelta(days=20))
    second = LinkageKey("CN-GZ", "FS-GZ-2", secrets.token_bytes(32), now + timedelta(days=10), None)
    keyring = Keyring({"CN-GZ": (first, second)})
    household, member = uuid4(), uuid4()

    def entry(moment: datetime, sequence: int) -> None:
        """What eligibility's register keeper sends at `moment`: the member under every usable key."""
        subjects = [
            {"member_id": str(member), "city": s.city, "key_id": s.key_id, "id_hash": s.id_hash}
            for s in keyring.register("DEMO-ROTATED", moment)
        ]
        update_register(node, household, subjects, HOUSED, sequence, moment)
        node.index.catch_up()

    entry(now, 1)
    under_first, under_second = first.hash("DEMO-ROTATED"), second.hash("DEMO-ROTATED")
    assert under_first == demo.hash_for("CN-GZ", "CN-FS", "DEMO-ROTATED"), "the pair's first key"
    assert answer(client, demo, id_hash=under_first) == HOUSED
    assert answer(client, demo, id_hash=under_second) == HOUSED, "the second key, before it is current"

    clock.advance(days=20)  # the first key's window has ended: the entry is made again without it
    entry(clock(), 2)
    assert answer(client, demo, id_hash=under_second) == HOUSED
    assert answer(client, demo, id_hash=under_first) == UNKNOWN_SUBJECT


def test_a_member_who_moved_stays_housed_whichever_entry_arrives_first(
    foshan: tuple[FastAPI, Node], client: TestClient, demo: Demo, clock: ManualClock
) -> None:
    """The new household's entry naming the member may be indexed before the old household's entry
    that drops them: the older entry's update must not take the member out of the register."""
    node = foshan[1]
    before, after, member = uuid4(), uuid4(), uuid4()
    update_register(node, before, [subject(demo, member, "DEMO-MOVER")], HOUSED, 1, clock())
    update_register(node, after, [subject(demo, member, "DEMO-MOVER")], EVERY_CATEGORY, 2, clock())
    update_register(node, before, [], HOUSED, 3, clock())  # the old household, without them
    node.index.catch_up()
    assert answer(client, demo, id_number="DEMO-MOVER") == EVERY_CATEGORY
