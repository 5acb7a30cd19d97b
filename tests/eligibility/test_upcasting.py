"""Events stored by an older version of the service still load: registrations from before operators
were recorded come back with nobody on record, and registrations from before rent-subsidy households
come back as tenancies with no external reference, not as an error."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from services.eligibility.application import EligibilityApp
from services.eligibility.domain import Household

ADDED_IN_V3 = ("housing", "monthly_subsidy", "subsidy_start", "district", "reference")


def stored_as(eligibility: EligibilityApp, version: int) -> StoredEvent:
    """A tenancy registration as version `version` of `Household.Registered` stored it."""
    member = {
        "member_id": str(uuid4()),
        "person_hash": "ab" * 32,
        "id_number": "x",
        "birth_date": "1985-07-15",
    }
    household = Household(
        "CN-FS", "Chancheng Garden", "3", "1204", Decimal("680.00"), date(2019, 5, 1), [member], "clerk"
    )
    stored = eligibility.mapper.to_stored_event(household.collect_events()[0])
    state: dict[str, Any] = json.loads(stored.state)
    assert state.pop("class_version") == 3 and all(field in state for field in ADDED_IN_V3)
    for field in ADDED_IN_V3:
        del state[field]
    if version == 1:
        del state["registered_by"]  # version 1 has no class_version either
    else:
        state["class_version"] = version
    return StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )


def test_a_version_1_registration_loads_with_nobody_on_record(eligibility: EligibilityApp) -> None:
    event = eligibility.mapper.to_domain_event(stored_as(eligibility, 1))
    assert isinstance(event, Household.Registered)
    assert event.registered_by is None
    loaded = event.mutate(None)
    assert isinstance(loaded, Household) and loaded.registered_by is None
    assert loaded.housing == "tenancy" and loaded.rent_subsidy is None


def test_a_version_2_registration_loads_as_a_tenancy(eligibility: EligibilityApp) -> None:
    event = eligibility.mapper.to_domain_event(stored_as(eligibility, 2))
    assert isinstance(event, Household.Registered)
    assert (event.housing, event.monthly_subsidy, event.reference) == ("tenancy", None, None)
    loaded = event.mutate(None)
    assert isinstance(loaded, Household)
    assert loaded.registered_by == "clerk" and loaded.estate == "Chancheng Garden"
    assert loaded.housing == "tenancy" and loaded.rent_subsidy is None and loaded.reference is None
    assert loaded.base_rent == Decimal("680.00") and loaded.tenancy_start == date(2019, 5, 1)


def test_a_version_2_registration_in_the_store_loads_through_the_repository(
    eligibility: EligibilityApp,
) -> None:
    """Written to the store as an older process wrote it, read back the way every command reads it."""
    old = stored_as(eligibility, 2)
    eligibility.recorder.insert_events([old])
    household = eligibility.household(UUID(str(old.originator_id)))
    assert household.housing == "tenancy" and household.unit == "1204"
