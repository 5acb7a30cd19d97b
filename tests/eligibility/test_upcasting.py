"""Events stored by an older version of the service still load: registrations from before operators
were recorded come back with nobody on record, not as an error."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from services.eligibility.application import EligibilityApp
from services.eligibility.domain import Household


def test_a_version_1_registration_loads_with_nobody_on_record(eligibility: EligibilityApp) -> None:
    member = {
        "member_id": str(uuid4()),
        "person_hash": "ab" * 32,
        "id_number": "x",
        "birth_date": "1985-07-15",
    }
    household = Household(
        "CN-FS", "Chancheng Garden", "3", "1204", Decimal("680.00"), date(2019, 5, 1), [member]
    )
    stored = eligibility.mapper.to_stored_event(household.collect_events()[0])
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2 and "registered_by" in state
    del state["registered_by"]
    old = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )
    event = eligibility.mapper.to_domain_event(old)
    assert isinstance(event, Household.Registered)
    assert event.registered_by is None
    loaded = event.mutate(None)
    assert isinstance(loaded, Household) and loaded.registered_by is None
