"""Batch events in the codec: the message is checked whole, each entry on its own, and a bad entry
is named by its index without holding back the others."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.catalogue import EVENTS, EVENTS_BY_TYPE
from contracts.department import FACTS_PER_BATCH, DepartmentFactReported
from contracts.spec import EventSpec
from services.kit import clock
from services.kit.codec import ContractError, Rejected, decode, entries

FACTS_REPORTED = EVENTS_BY_TYPE[("housing.department.facts-reported", 1)]
HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"


def fact(reference: str, income: Any = "3960.00") -> dict[str, Any]:
    return {
        "department": "civil_affairs",
        "reference": reference,
        "described_on": "2026-10-31",
        "household_id": HOUSEHOLD,
        "fact": {"kind": "income", "monthly_income": income},
    }


def message(data: Any) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": "export-1",
            "source": "/departments/civil-affairs",
            "type": FACTS_REPORTED.type,
            "subject": "export-1",
            "time": clock.now().isoformat(),
            "datacontenttype": "application/json",
            "dataschema": FACTS_REPORTED.dataschema,
            "data": data,
        }
    ).encode()


def test_every_batch_event_stands_for_a_catalogued_event_of_the_same_stream() -> None:
    batches = [spec for spec in EVENTS if spec.batch_of is not None]
    assert batches, "the catalogue has batch events"
    for spec in batches:
        assert spec.batch_of in EVENTS
        assert spec.context == spec.batch_of.context  # so one stream and one inbox carry both
        assert spec.consumers == spec.batch_of.consumers


def test_a_batch_spec_names_its_list_field() -> None:
    with pytest.raises(ValueError, match="go together"):
        EventSpec("department", "x", 1, DepartmentFactReported, "", "d", (), batch_of=FACTS_REPORTED)
    with pytest.raises(ValueError, match="no field"):
        EventSpec(
            "department",
            "x",
            1,
            DepartmentFactReported,
            "",
            "d",
            (),
            batch_of=FACTS_REPORTED,
            batch_field="y",
        )


def test_each_entry_is_validated_alone_and_a_bad_one_is_named() -> None:
    _, spec, payload = decode(message({"facts": [fact("A"), fact("B", 3960.5), "nonsense", fact("C")]}))
    out = entries(spec, payload)
    assert [type(e).__name__ for e in out] == [
        "DepartmentFactReported",
        "Rejected",
        "Rejected",
        "DepartmentFactReported",
    ]
    bad = [e for e in out if isinstance(e, Rejected)]
    assert bad[0].index == 1 and bad[0].reason.startswith(
        "facts[1]: invalid housing.department.fact-reported"
    )
    assert "monthly_income" in bad[0].reason
    assert bad[1].index == 2 and "facts[2]" in bad[1].reason


def test_an_id_number_in_an_entry_is_masked_in_its_reason() -> None:
    misplaced = fact("A")
    misplaced["fact"]["kind"] = "440604198507151234"  # pydantic quotes a wrong tag in its message
    _, spec, payload = decode(message({"facts": [fact("440604198507151234"), misplaced]}))
    rejected = [e for e in entries(spec, payload) if isinstance(e, Rejected)]
    assert len(rejected) == 2
    assert all("440604198507151234" not in r.reason for r in rejected)
    assert "[id-number]" in rejected[1].reason


@pytest.mark.parametrize(
    "data",
    [
        {"facts": []},
        {"facts": [fact(str(n)) for n in range(FACTS_PER_BATCH + 1)]},
        {"facts": [fact("A")], "department": "finance"},
        {"facts": "A"},
        [fact("A")],
    ],
    ids=["empty", "too-many", "extra-field", "not-a-list", "bare-list"],
)
def test_a_batch_that_is_wrong_as_a_whole_is_refused_whole(data: Any) -> None:
    refused = r"invalid (housing\.department\.facts-reported v1 payload|CloudEvents envelope)"
    with pytest.raises(ContractError, match=refused):
        decode(message(data))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_valid_entries_keep_their_order_and_every_entry_is_accounted_for(valid: list[bool]) -> None:
    facts = [fact(f"R-{n}") if ok else fact(f"R-{n}", n + 0.5) for n, ok in enumerate(valid)]
    _, spec, payload = decode(message({"facts": facts}))
    out = entries(spec, payload)
    assert len(out) == len(valid)
    kept = [e.reference for e in out if isinstance(e, DepartmentFactReported)]
    assert kept == [f"R-{n}" for n, ok in enumerate(valid) if ok]
    assert [e.index for e in out if isinstance(e, Rejected)] == [n for n, ok in enumerate(valid) if not ok]
