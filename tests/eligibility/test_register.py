"""Subjects from the registration itself: eligibility hashes its members for each peer with the pair's
linkage keys (services/kit/linkage.py), for the checks it asks (the key current then) and for the
register federation answers from (every usable key, with the three categories); a linkage key's
rotation keeps both sides matching; no ID number is in anything published."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml

from contracts.catalogue import EVENTS_BY_TYPE
from contracts.department import DepartmentFactReported
from services.eligibility.application import EligibilityApp, MemberInput
from services.eligibility.domain import Household, RentSubsidy
from services.eligibility.settings import EligibilitySettings
from services.eligibility.translate import make_translator
from services.kit.linkage import id_hash
from services.kit.uow import UnitOfWork
from tests.eligibility.conftest import Clock

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
OLD_ENDS, NEW_BEGINS = START + timedelta(days=10), START + timedelta(days=5)
MEMBERS = ["440604198507151234", "440604198706152345"]


def keys(tmp_path: Path) -> dict[str, bytes]:
    """A directory with Guangzhou's key rotating (old until day 10, new from day 5) and Dongguan's
    single legacy key; returns the secrets by label."""
    secret = {name: secrets.token_bytes(32) for name in ("gz-old", "gz-new", "dg")}
    for name, value in secret.items():
        (tmp_path / f"{name}.key").write_text(value.hex() + "\n")
    directory = {
        "cities": {
            "CN-FS": {"name": "Foshan", "base_url": "http://fs", "keys": []},
            "CN-GZ": {
                "name": "Guangzhou",
                "base_url": "http://gz",
                "linkage_keys": [
                    {"key_id": "gz-old", "file": "gz-old.key", "not_after": OLD_ENDS.isoformat()},
                    {"key_id": "gz-new", "file": "gz-new.key", "not_before": NEW_BEGINS.isoformat()},
                ],
            },
            "CN-DG": {"name": "Dongguan", "base_url": "http://dg", "linkage_key_file": "dg.key"},
        }
    }
    (tmp_path / "peers.yaml").write_text(yaml.safe_dump(directory))
    return secret


@pytest.fixture
def app(tmp_path: Path, persistence: dict[str, str], clock: Clock) -> Any:
    secret = keys(tmp_path)
    settings = EligibilitySettings(
        var_dir=tmp_path,
        linkage_keys_file=tmp_path / "peers.yaml",
        cross_region_cities=["CN-GZ", "CN-DG", "CN-ZS"],
    )
    application = EligibilityApp(settings, persistence, clock=clock)
    yield application, secret
    application.close()


def register(app: EligibilityApp, **housing: Any) -> Household:
    members = [MemberInput(n, date(1985, 7, 15), False) for n in MEMBERS]
    if "rent_subsidy" in housing:
        return app.register_household(region="CN-FS", members=members, **housing)
    return app.register_household(
        region="CN-FS",
        estate="Chancheng Garden",
        building="3",
        unit="1204",
        base_rent=Decimal("680.00"),
        tenancy_start=date(2019, 5, 1),
        members=members,
    )


def published(app: EligibilityApp, name: str) -> list[dict[str, Any]]:
    translate = make_translator(app.config, EVENTS_BY_TYPE)
    out = []
    for notification in app.notification_log.select(start=1, limit=1000):
        for message in translate(app.mapper.to_domain_event(notification)):
            wire = message.payload.model_dump_json()
            assert not any(number in wire for number in MEMBERS), "an ID number left eligibility"
            if message.spec.name == name:
                out.append(json.loads(wire))
    return out


def test_a_registration_sends_every_member_under_every_usable_key(app: Any) -> None:
    eligibility, secret = app
    household = register(eligibility)
    (entry,) = published(eligibility, "cross-region-register-updated")
    assert entry["household_id"] == str(household.id)
    found = {(s["city"], s["key_id"], s["id_hash"]) for s in entry["subjects"]}
    expected = {
        (city, key_id, id_hash(secret[label], number))
        for number in MEMBERS
        for city, key_id, label in (
            ("CN-GZ", "gz-old", "gz-old"),
            ("CN-GZ", "gz-new", "gz-new"),
            ("CN-DG", "1", "dg"),
        )
    }
    assert found == expected  # the next key too: Guangzhou may switch before we do
    assert {s["member_id"] for s in entry["subjects"]} == {str(m["member_id"]) for m in household.members}
    assert (entry["holds_subsidised_housing"], entry["receives_housing_subsidy"]) == (True, False)
    assert entry["owns_property_over_threshold"] is False


def test_a_check_asks_each_city_with_the_key_current_then(app: Any, clock: Clock) -> None:
    eligibility, secret = app
    household = register(eligibility)
    clock.now = START + timedelta(hours=1)  # never checked, registered long enough ago: due
    assert eligibility.request_cross_region_checks([household.id]) == 1
    clock.now = START + timedelta(days=6)  # inside the overlap, the first check still unanswered
    assert eligibility.request_cross_region_checks([household.id]) == 1
    first, again = published(eligibility, "cross-region-check-requested")
    for check, label in ((first, "gz-old"), (again, "gz-new")):
        gz = {s["id_hash"] for s in check["subjects"] if s["city"] == "CN-GZ"}
        assert gz == {id_hash(secret[label], n) for n in MEMBERS}
        assert {s["key_id"] for s in check["subjects"]} == {label, "1"}
        assert "CN-ZS" in check["cities"]  # asked, with no subject: no key shared with Zhongshan
        assert not [s for s in check["subjects"] if s["city"] == "CN-ZS"]
        assert {s["member_id"] for s in check["subjects"]} == {str(m["member_id"]) for m in household.members}


def test_an_expired_key_is_dropped_from_the_register_by_the_refresh(app: Any, clock: Clock) -> None:
    eligibility, _ = app
    household = register(eligibility)
    assert eligibility.registers_stale() == []
    clock.now = OLD_ENDS  # the old key's window has ended
    assert eligibility.registers_stale() == [household.id]
    assert eligibility.refresh_registers([household.id]) == 1
    assert eligibility.registers_stale() == []
    latest = published(eligibility, "cross-region-register-updated")[-1]
    assert {(s["city"], s["key_id"]) for s in latest["subjects"]} == {("CN-GZ", "gz-new"), ("CN-DG", "1")}


async def test_the_periodic_pass_scans_the_city_again_only_when_the_keys_change(
    app: Any, clock: Clock
) -> None:
    """Every registration and change refreshes its own entry: between two key-window edges a pass over
    the whole city finds nothing, so it is skipped; at an edge it runs, and re-derives."""
    import asyncio

    from services.eligibility.sweeper import refresh_registers

    eligibility, _ = app
    household = register(eligibility)
    passed: dict[str, object] = {}
    stop = asyncio.Event()
    scans: list[int] = []
    stale = eligibility.registers_stale

    def counted() -> list[Any]:
        found: list[Any] = stale()
        scans.append(len(found))
        return found

    eligibility.registers_stale = counted
    assert await refresh_registers(eligibility, stop, passed) == 0  # the first pass after a start
    assert await refresh_registers(eligibility, stop, passed) == 0
    assert scans == [0]  # the second was skipped: the keys are the same
    clock.now = OLD_ENDS  # Guangzhou's old key expired: every entry hashed under it is stale
    assert await refresh_registers(eligibility, stop, passed) == 1
    assert scans == [0, 1] and stale() == []
    assert household.id not in stale()


def test_the_categories_follow_the_housing_and_the_property_in_our_city(app: Any, clock: Clock) -> None:
    eligibility, _ = app
    subsidised = register(eligibility, rent_subsidy=RentSubsidy(Decimal("800.00"), date(2024, 1, 1)))
    entry = published(eligibility, "cross-region-register-updated")[-1]
    assert (entry["holds_subsidised_housing"], entry["receives_housing_subsidy"]) == (True, True)
    member = subsidised.members[0]["person_hash"]

    def owns(reference: str, city: str, area: str) -> bool:
        uow = UnitOfWork(eligibility)
        report = {
            "department": "real_estate",
            "reference": reference,
            "described_on": "2026-11-20",
            "person_hash": member,
            "fact": {"kind": "property", "area_m2": area, "city": city, "property_ref": reference},
        }
        assert eligibility.intake_fact(uow, DepartmentFactReported.model_validate(report)) == "recorded"
        uow.commit(None)
        return bool(
            published(eligibility, "cross-region-register-updated")[-1]["owns_property_over_threshold"]
        )

    assert owns("FC-GZ-1", "CN-GZ", "90.00") is False  # in Guangzhou: Guangzhou's to say, not ours
    assert owns("FC-FS-1", "CN-FS", "40.00") is False  # 40 m² here: within the 60 m² threshold
    assert owns("FC-FS-2", "CN-FS", "30.00") is True  # 70 m² here, the members' together


def test_a_household_that_handed_its_flat_back_is_housed_here_no_more(app: Any, clock: Clock) -> None:
    eligibility, _ = app
    household = register(eligibility)
    uow = UnitOfWork(eligibility)
    assert eligibility.record_exit(uow, household.id, date(2026, 11, 26), "keys_returned")
    uow.commit(None)
    latest = published(eligibility, "cross-region-register-updated")[-1]
    assert (latest["holds_subsidised_housing"], latest["receives_housing_subsidy"]) == (False, False)
    uow = UnitOfWork(eligibility)
    assert eligibility.record_exit(uow, household.id, date(2026, 11, 27), "repossessed")  # again: nothing
    uow.commit(None)
    assert len(published(eligibility, "cross-region-register-updated")) == 2
    assert not eligibility.record_exit(UnitOfWork(eligibility), uuid4(), date(2026, 11, 26), "keys_returned")
