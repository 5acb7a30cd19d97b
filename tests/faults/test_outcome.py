"""The comparison behind the fault tests: what it forgives (ids, times, the random unit) and what it
does not (a lost, doubled, reordered or changed event). Without a stack: envelopes made here."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.faults.scenario import differences, offered_units, outcome


def _envelope(kind: str, household: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": f"housing.{kind}",
            "source": "/services/test",
            "subject": household,
            "time": "2026-11-27T12:00:00.123456+00:00",
            "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
            "data": {"household_id": household, **data},
        }
    ).encode()


def _run(
    *, unit: str = "0101", twice: bool = False, lost: bool = False, swapped: bool = False
) -> tuple[Any, ...]:
    """One run's streams for two households, with fresh ids and times as a real run has."""
    households = [str(uuid.uuid4()), str(uuid.uuid4())]
    members = [[str(uuid.uuid4())], [str(uuid.uuid4())]]
    review = str(uuid.uuid4())
    decided = [
        _envelope(
            "eligibility.review-decided", households[0], {"review_id": review, "decision": "exit_triggered"}
        ),
        _envelope(
            "eligibility.review-decided",
            households[0],
            {"review_id": str(uuid.uuid4()), "decision": "qualifies"},
        ),
    ]
    if swapped:
        decided.reverse()
    eligibility = [
        _envelope(
            "eligibility.household-registered", households[0], {"members": [{"member_id": members[0][0]}]}
        ),
        *decided,
        _envelope("eligibility.exit-decided", households[0], {"review_id": review, "route": "exit"}),
        _envelope(
            "eligibility.household-registered", households[1], {"members": [{"member_id": members[1][0]}]}
        ),
    ]
    if lost:
        eligibility.pop()
    offer = _envelope(
        "resettlement.unit-offered",
        households[0],
        {"unit_id": str(uuid.uuid4()), "unit": unit, "building": unit[:2], "pool": "transitional"},
    )
    resettlement = [offer, offer] if twice else [offer]
    raw = {"ELIGIBILITY": eligibility, "RESETTLEMENT": resettlement, "DEADLETTER": []}
    return raw, outcome(raw, households, members)


def test_ids_times_trace_and_the_random_unit_are_forgiven() -> None:
    _, first = _run(unit="0101")
    _, second = _run(unit="0705")
    assert first == second and not differences(first, second)
    assert first["ELIGIBILITY H0"][0]["data"]["members"] == [{"member_id": "H0/M0"}]
    # the same review is named alike wherever it appears: references survive the renaming
    assert first["ELIGIBILITY H0"][1]["data"]["review_id"] == first["ELIGIBILITY H0"][3]["data"]["review_id"]
    assert first["ELIGIBILITY H0"][1]["data"]["review_id"] != first["ELIGIBILITY H0"][2]["data"]["review_id"]


def test_a_doubled_a_lost_or_a_reordered_event_is_a_difference() -> None:
    _, expected = _run()
    for changed in (_run(twice=True)[1], _run(lost=True)[1], _run(swapped=True)[1]):
        found = differences(expected, changed)
        assert found and expected != changed
    raw, _ = _run(twice=True)
    assert list(offered_units(raw).values()) == [2]
