"""Register entries and checks store their subjects as one string each; the bus still carries objects,
and events stored before the compact form read as if stored in it."""

from __future__ import annotations

from typing import Any

from services.eligibility.domain import Household
from services.eligibility.register import packed, unpacked

OBJECT = {
    "member_id": "4cff5c94-fe1f-4978-a247-158e8f7f29b4",
    "city": "CN-DG",
    "key_id": "dg-2027",
    "id_hash": "7f3d9bfb7e352eddf4745d1e673009739b88a191fb30424b573b5d8e92dd094e",
}


def test_a_subject_round_trips_between_the_store_and_the_bus() -> None:
    stored = packed(OBJECT)
    assert stored == f"{OBJECT['member_id']} CN-DG dg-2027 {OBJECT['id_hash']}"
    assert unpacked([stored]) == [OBJECT]


def test_entries_and_checks_stored_as_objects_are_read_in_the_compact_form() -> None:
    entry: dict[str, Any] = {"subjects": [OBJECT, {**OBJECT, "city": "CN-GZ"}]}
    Household.RegisterUpdated.upcast_v1_v2(entry)
    assert unpacked(entry["subjects"]) == [OBJECT, {**OBJECT, "city": "CN-GZ"}]
    check: dict[str, Any] = {"subjects": [OBJECT]}
    Household.CrossRegionRequested.upcast_v2_v3(check)
    assert check["subjects"] == [packed(OBJECT)]
    assert Household.RegisterUpdated.class_version == 2 and Household.CrossRegionRequested.class_version == 3
