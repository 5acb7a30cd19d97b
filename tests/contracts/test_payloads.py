"""Payloads round-trip, money stays exact, personal data stays out, and the catalogue is consistent."""

from __future__ import annotations

import base64
import json
import re
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from contracts import (
    DeadLetter,
    DepartmentFactReported,
    Envelope,
    ReviewConfirmed,
    SquareMetres,
    Yuan,
    dataschema_for,
)
from contracts.catalogue import EVENTS, EVENTS_BY_TYPE, STREAMS, EventSpec
from contracts.eligibility import CrossRegionCheckRequested, HouseholdRegistered
from contracts.envelope import DATASCHEMA_PATTERN, TYPE_PATTERN
from tests.contracts import (
    samples_eligibility,
    samples_monitoring,
    samples_penalties,
    samples_resettlement,
    samples_training,
)

HASH = "3f" * 32
HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"
CASE = "7b3f52b4-d65c-4e9b-8b1f-2d3c4e5f6a71"
REVIEW = "9b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
WARNING = "4b1f6a2e-8c3d-4e5f-9a0b-1c2d3e4f5a6b"
MEMBERS = [
    {"member_id": "0c6b9a1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b", "birth_date": "1950-03-01", "disabled": True},
    {"member_id": "1d7c0b2f-3a4e-4f60-9b0c-1d2e3f4a5b6c", "birth_date": "1985-07-15", "disabled": False},
]

# One valid payload per event, in wire form; an event without one fails `test_every_event_has_a_sample`.
SAMPLES: dict[str, dict[str, Any]] = {
    "housing.department.fact-reported": {
        "department": "civil_affairs",
        "reference": "MZ-2026-000123",
        "described_on": "2026-10-31",
        "household_id": HOUSEHOLD,
        "person_hash": HASH,
        "fact": {"kind": "income", "monthly_income": "3960.01"},
    },
    "housing.eligibility.household-registered": {
        "household_id": HOUSEHOLD,
        "region": "CN-FS",
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "base_rent": "680.00",
        "tenancy_start": "2019-05-01",
        "members": MEMBERS,
    },
    "housing.eligibility.household-members-changed": {"household_id": HOUSEHOLD, "members": MEMBERS[:1]},
    "housing.eligibility.review-decided": {
        "household_id": HOUSEHOLD,
        "review_id": "9b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "decision": "exit_triggered",
        "decided_on": "2026-11-02",
        "reasons": [
            {
                "rule": "income_per_capita",
                "observed": "4200.00",
                "threshold": "3960.00",
                "unit": "yuan/person/month",
                "legal_reference": "Foshan public rental housing measures, art. 30",
                "triggered": True,
                "note": "",
            },
            {
                "rule": "cross_region_property",
                "observed": None,
                "threshold": None,
                "unit": "",
                "legal_reference": "Foshan public rental housing measures, art. 30",
                "triggered": False,
                "note": "Zhaoqing did not answer in time",
            },
        ],
    },
    "housing.eligibility.review-confirmed": {
        "household_id": HOUSEHOLD,
        "review_id": "9b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "outcome": "transition",
        "reviewer_id": "reviewer.li",
        "approver_id": "supervisor.chen",
        "decided_on": "2026-11-05",
        "comment": "Income rose in stages; transition period fits.",
    },
    "housing.eligibility.exit-decided": {
        "household_id": HOUSEHOLD,
        "review_id": "9b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "route": "transition",
        "decided_on": "2026-11-05",
        "low_income": False,
        "wants_to_buy": True,
    },
    "housing.eligibility.cross-region-check-requested": {
        "household_id": HOUSEHOLD,
        "check_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
        "cities": ["CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ"],
        "purpose": "exit-review",
        "legal_basis": "Guangdong cross-region housing security cooperation agreement",
    },
    "housing.deadletter.dead-lettered": {
        "service": "penalties",
        "original_subject": "housing.eligibility.exit-decided",
        "stream": "ELIGIBILITY",
        "stream_sequence": 42,
        "deliveries": 5,
        "reason": "handler failed 5 times: RuntimeError('boom')",
        "failed_at": "2026-11-05T08:00:00Z",
        "original_headers": {"Nats-Msg-Id": "eligibility:17"},
        "original_data_b64": base64.b64encode(b'{"not": "an envelope"}').decode(),
    },
    # the steps of a review case
    "housing.eligibility.fact-recorded": {
        "household_id": HOUSEHOLD,
        "department": "civil_affairs",
        "reference": "MZ-2026-000123",
        "kind": "income",
        "described_on": "2026-10-31",
    },
    "housing.eligibility.warning-raised": {
        "household_id": HOUSEHOLD,
        "review_id": REVIEW,
        "rules": ["income_per_capita"],
        "raised_on": "2026-11-02",
    },
    "housing.eligibility.review-opened": {
        "household_id": HOUSEHOLD,
        "case_id": CASE,
        "review_id": REVIEW,
        "reason": "automated review: exit condition met (income_per_capita)",
        "opened_on": "2026-11-02",
    },
    "housing.eligibility.finding-recorded": {
        "household_id": HOUSEHOLD,
        "case_id": CASE,
        "reviewer_id": "reviewer.li",
        "proposed_outcome": "transition",
        "reason_code": "STAGED",
        "recorded_on": "2026-11-04",
    },
    "housing.eligibility.assessment-requested": {
        "household_id": HOUSEHOLD,
        "case_id": CASE,
        "requested_by": "reviewer.li",
        "assessor_id": "assessor.zhao",
        "deadline": "2026-11-18",
    },
    "housing.eligibility.assessment-received": {
        "household_id": HOUSEHOLD,
        "case_id": CASE,
        "assessor_id": "assessor.zhao",
        "recommendation": "transition",
        "received_on": "2026-11-10",
    },
    "housing.eligibility.appeal-lodged": {
        "household_id": HOUSEHOLD,
        "case_id": CASE,
        "lodged_on": "2026-11-20",
    },
    "housing.eligibility.appeal-resolved": {
        "household_id": HOUSEHOLD,
        "case_id": CASE,
        "outcome": "retain",
        "overturned": True,
        "resolved_on": "2026-11-25",
    },
    "housing.eligibility.residence-verified": {
        "household_id": HOUSEHOLD,
        "request_id": "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
        "warning_id": "8d2f3e4a-5b6c-4d7e-9f0a-1b2c3d4e5f6a",
        "department": "public_security",
        "finding": "sublet",
        "note": "a tenant pays rent to the household",
        "verified_by": "dept.public-security",
        "verified_on": "2026-11-26",
    },
    # federation's verdicts
    "housing.federation.cross-region-result-recorded": {
        "check_id": "0b6a3c1e-6f0e-4a51-9f3e-2d8c7b1a5e90",
        "household_id": "5f1d2c3b-4a59-4e8f-9c7d-6b5a4e3d2c1b",
        "city": "CN-GZ",
        "result": "match",
        "holds_subsidised_housing": True,
        "receives_housing_subsidy": False,
        "owns_property_over_threshold": None,
        "reason": None,
        "query_ids": ["3f1c2a9e-5b7d-4c1e-9a52-0d6f2b8e4c11"],
        "concluded_at": "2026-11-27T08:00:00Z",
    },
    # monitoring's signals and warnings
    "housing.signals.door-access": {
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "credential_kind": "card",
        "credential_id": "FS-CC-00012345",
        "at": "2026-11-05T07:31:02+08:00",
        "direction": "in",
    },
    "housing.signals.utility-reading": {
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "month": "2026-10",
        "water_m3": "0.4",
        "electricity_kwh": "6.25",
    },
    "housing.monitoring.warning-raised": {
        "household_id": HOUSEHOLD,
        "warning_id": WARNING,
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "condition": "vacancy",
        "raised_on": "2026-11-05",
        "risk_score": 87,
        "explanation": "No registered member opened the door for 34 day(s) up to 2026-11-05 (threshold 30).",
        "evidence": [{"label": "days_without_member_access", "value": "34"}],
    },
    "housing.monitoring.warning-assigned": {
        "household_id": HOUSEHOLD,
        "warning_id": WARNING,
        "inspector_id": "inspector.wu",
        "assigned_on": "2026-11-06",
    },
    "housing.monitoring.warning-confirmed": {
        "household_id": HOUSEHOLD,
        "warning_id": WARNING,
        "inspector_id": "inspector.wu",
        "finding": "vacant",
        "confirmed_on": "2026-11-08",
        "note": "Neighbours say the family moved to Guangzhou in September.",
    },
    "housing.monitoring.warning-dismissed": {
        "household_id": HOUSEHOLD,
        "warning_id": WARNING,
        "inspector_id": "inspector.wu",
        "dismissed_on": "2026-11-08",
        "reason": "Tenant in hospital since October; discharge letter seen.",
    },
    "housing.monitoring.warning-rectified": {
        "household_id": HOUSEHOLD,
        "warning_id": WARNING,
        "rectified_by": "officer.he",
        "rectified_on": "2026-12-01",
        "note": "Family moved back.",
    },
    "housing.monitoring.violation-confirmed": {
        "household_id": HOUSEHOLD,
        "warning_id": WARNING,
        "violation": "vacant",
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "inspector_id": "inspector.wu",
        "confirmed_on": "2026-11-08",
    },
}

FACTS: list[dict[str, Any]] = [
    {"kind": "income", "monthly_income": "3960.00"},
    {"kind": "property", "area_m2": "60.01", "city": "CN-GZ", "property_ref": "GZ-RE-778"},
    {"kind": "financial_assets", "amount": "200000.00"},
    {"kind": "registration", "hukou_city": "CN-FS", "actual_residence_city": "CN-DG"},
    {"kind": "tax", "annual_taxable_income": "52000.50"},
    {"kind": "social_insurance", "employer": "Foshan Ceramics Co.", "contribution_base": "5200.00"},
    {"kind": "employment", "employer": "Nanhai Electric Ltd.", "start_date": "2026-09-01"},
]

NO_DATABASE = settings(database=None, max_examples=60)


def spec_ids(spec: EventSpec) -> str:
    return f"{spec.type}-v{spec.version}"


# --- round trips ---------------------------------------------------------------------------------


SAMPLES.update(samples_eligibility.SAMPLES)  # events added since the core set
SAMPLES.update(samples_monitoring.SAMPLES)
SAMPLES.update(samples_penalties.SAMPLES)
SAMPLES.update(samples_resettlement.SAMPLES)
SAMPLES.update(samples_training.SAMPLES)
SAMPLES["housing.department.facts-reported"] = {  # a department's export: the facts as fact-reported
    "facts": [
        SAMPLES["housing.department.fact-reported"],
        {
            "department": "finance",
            "reference": "CZ-2026-000456",
            "described_on": "2026-10-31",
            "household_id": None,
            "person_hash": HASH,
            "fact": {"kind": "financial_assets", "amount": "200000.00"},
        },
    ]
}


def sample_of(spec: EventSpec) -> dict[str, Any]:
    """The sample of `spec`'s version: `<type>@v<n>` for a later version, else the type's."""
    return samples_eligibility.VERSIONED.get(f"{spec.type}@v{spec.version}") or SAMPLES[spec.type]


def test_every_event_has_a_sample() -> None:
    assert {spec.type for spec in EVENTS} == set(SAMPLES)


@pytest.mark.parametrize("spec", EVENTS, ids=spec_ids)
def test_payload_round_trips_through_json(spec: EventSpec) -> None:
    payload = spec.payload.model_validate(sample_of(spec))
    wire = payload.model_dump_json()
    assert spec.payload.model_validate_json(wire) == payload
    assert json.loads(wire) == sample_of(spec)


@pytest.mark.parametrize("spec", [s for s in EVENTS if s.enveloped], ids=spec_ids)
def test_payload_round_trips_through_the_envelope(spec: EventSpec) -> None:
    payload = spec.payload.model_validate(sample_of(spec))
    envelope = Envelope(
        specversion="1.0",
        id=str(uuid4()),
        source=f"/housing/{spec.context}",
        type=spec.type,
        subject=HOUSEHOLD,
        time=datetime(2026, 11, 5, 8, 0, tzinfo=UTC),
        dataschema=spec.dataschema,
        data=payload.model_dump(mode="json"),
    )
    received = Envelope.model_validate_json(envelope.model_dump_json())
    assert received == envelope
    assert received.datacontenttype == "application/json"
    assert EVENTS_BY_TYPE[(received.type, spec.version)].payload.model_validate(received.data) == payload


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: str(f["kind"]))
def test_every_fact_kind_round_trips(fact: dict[str, Any]) -> None:
    wire = {**SAMPLES["housing.department.fact-reported"], "fact": fact}
    payload = DepartmentFactReported.model_validate(wire)
    assert type(payload.fact).__name__.lower().startswith(fact["kind"].replace("_", ""))
    assert json.loads(payload.model_dump_json()) == wire


def test_fact_kinds_cover_the_union() -> None:
    schema = DepartmentFactReported.model_json_schema()
    assert sorted(schema["properties"]["fact"]["discriminator"]["mapping"]) == sorted(
        f["kind"] for f in FACTS
    )


amounts = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2, allow_nan=False)
hashes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
cities = st.from_regex(r"\ACN-[A-Z]{2}\Z")
facts = st.one_of(
    st.builds(lambda a: {"kind": "income", "monthly_income": a}, amounts),
    st.builds(lambda a: {"kind": "financial_assets", "amount": a}, amounts),
    st.builds(lambda a: {"kind": "tax", "annual_taxable_income": a}, amounts),
    st.builds(
        lambda area, city: {"kind": "property", "area_m2": area, "city": city, "property_ref": "R-1"},
        st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2, allow_nan=False),
        cities,
    ),
    st.builds(
        lambda h, r: {"kind": "registration", "hukou_city": h, "actual_residence_city": r}, cities, cities
    ),
)


@NO_DATABASE
@given(
    fact=facts,
    household=st.one_of(st.none(), st.uuids()),
    person=hashes,
    described=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
)
def test_fact_reports_round_trip(
    fact: dict[str, Any], household: UUID | None, person: str, described: date
) -> None:
    payload = DepartmentFactReported.model_validate(
        {
            "department": "finance",
            "reference": "F-1",
            "described_on": described,
            "household_id": household,
            "person_hash": person,
            "fact": fact,
        }
    )
    assert DepartmentFactReported.model_validate_json(payload.model_dump_json()) == payload


# --- money ---------------------------------------------------------------------------------------

YUAN: TypeAdapter[Decimal] = TypeAdapter(Yuan)
AREA: TypeAdapter[Decimal] = TypeAdapter(SquareMetres)


@pytest.mark.parametrize("value", [3960.0, 3960.01, 0.1, float("nan"), float("inf"), True])
def test_yuan_rejects_floats_and_bools(value: Any) -> None:
    with pytest.raises(ValidationError):
        YUAN.validate_python(value)


@pytest.mark.parametrize("text", ["3960.01", "0.1", "1e3", "1.0"])
def test_yuan_rejects_json_numbers_with_a_fraction(text: str) -> None:
    with pytest.raises(ValidationError):
        YUAN.validate_json(text)


@pytest.mark.parametrize(
    "value", ["-1", "-0.01", "1.005", "1e3", " 12", "12 ", "12\n", "", "abc", "1,000.00", Decimal("-1"), None]
)
def test_yuan_rejects_what_is_not_an_exact_non_negative_amount(value: Any) -> None:
    with pytest.raises(ValidationError):
        YUAN.validate_python(value)


@pytest.mark.parametrize(
    ("value", "wire"),
    [("3960", '"3960.00"'), ("3960.5", '"3960.50"'), (3960, '"3960.00"'), (Decimal("0.01"), '"0.01"')],
)
def test_yuan_serialises_as_a_string_with_two_places(value: Any, wire: str) -> None:
    amount = YUAN.validate_python(value)
    assert isinstance(amount, Decimal)
    assert YUAN.dump_json(amount).decode() == wire
    assert YUAN.dump_python(amount) == amount  # Python side keeps the Decimal


def test_yuan_accepts_json_strings_and_integers() -> None:
    assert YUAN.validate_json('"3960.01"') == Decimal("3960.01")
    assert YUAN.validate_json("3960") == Decimal("3960.00")


@NO_DATABASE
@given(amount=amounts)
def test_yuan_round_trips_exactly(amount: Decimal) -> None:
    wire = YUAN.dump_json(YUAN.validate_python(amount))
    assert re.fullmatch(rb'"[0-9]+\.[0-9]{2}"', wire)
    assert YUAN.validate_json(wire) == amount


def test_square_metres_is_exact_text_too() -> None:
    assert AREA.dump_json(AREA.validate_python("60")).decode() == '"60.00"'
    with pytest.raises(ValidationError):
        AREA.validate_python(60.5)
    with pytest.raises(ValidationError):
        AREA.validate_python("60.125")


def test_money_schema_is_a_string() -> None:
    schema = HouseholdRegistered.model_json_schema(mode="serialization")
    assert schema["properties"]["base_rent"]["type"] == "string"


# --- personal data -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",  # an ID number itself
        "3F" * 32,
        "3f" * 31,
        "3f" * 33,
        "3f" * 31 + "zz",
        "3f" * 32 + "\n",
        " " + "3f" * 31 + "f",
        "",
    ],
)
def test_person_hash_accepts_only_64_lowercase_hex(value: str) -> None:
    with pytest.raises(ValidationError):
        DepartmentFactReported.model_validate(
            {**SAMPLES["housing.department.fact-reported"], "person_hash": value}
        )


@NO_DATABASE
@given(person=hashes)
def test_person_hash_accepts_any_64_lowercase_hex(person: str) -> None:
    wire = {**SAMPLES["housing.department.fact-reported"], "person_hash": person, "household_id": None}
    assert DepartmentFactReported.model_validate(wire).person_hash == person


def test_a_fact_names_a_household_or_a_person() -> None:
    base = SAMPLES["housing.department.fact-reported"]
    DepartmentFactReported.model_validate({**base, "person_hash": None})
    DepartmentFactReported.model_validate({**base, "household_id": None})
    with pytest.raises(ValidationError, match="household_id, a person_hash"):
        DepartmentFactReported.model_validate({**base, "household_id": None, "person_hash": None})


FORBIDDEN_FIELD = re.compile(
    r"(^|_)(name|names|full_name|id_number|id_no|id_card|idcard|identity|citizen_id|passport|phone|mobile)($|_)"
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found.extend(_models_in(argument))
    return found


def _all_contract_models() -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [Envelope, *(spec.payload for spec in EVENTS)]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            pending.extend(_models_in(field.annotation))
    return seen


def test_walk_reaches_nested_models() -> None:
    names = {model.__name__ for model in _all_contract_models()}
    assert {"Member", "ReviewReason", "IncomeFact", "EmploymentFact", "DeadLetter"} <= names


def test_no_contract_has_a_name_or_id_number_field() -> None:
    offending = [
        f"{model.__name__}.{field}"
        for model in _all_contract_models()
        for field in model.model_fields
        if FORBIDDEN_FIELD.search(field.lower())
    ]
    assert offending == [], f"personal identifiers must not appear in contracts: {offending}"


def test_contracts_are_frozen_and_closed() -> None:
    for model in _all_contract_models():
        assert model.model_config.get("frozen") is True, model.__name__
        assert model.model_config.get("extra") == "forbid", model.__name__
    wire = {**SAMPLES["housing.eligibility.exit-decided"], "citizen_name": "x"}
    with pytest.raises(ValidationError):
        EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)].payload.model_validate(wire)


# --- other invariants the contracts carry --------------------------------------------------------


def test_four_eyes_needs_two_operators() -> None:
    wire = {**SAMPLES["housing.eligibility.review-confirmed"], "approver_id": "reviewer.li"}
    with pytest.raises(ValidationError, match="four-eyes"):
        ReviewConfirmed.model_validate(wire)


def test_members_and_cities_do_not_repeat() -> None:
    with pytest.raises(ValidationError, match="unique"):
        HouseholdRegistered.model_validate(
            {**SAMPLES["housing.eligibility.household-registered"], "members": [MEMBERS[0], MEMBERS[0]]}
        )
    with pytest.raises(ValidationError, match="repeat"):
        CrossRegionCheckRequested.model_validate(
            {**SAMPLES["housing.eligibility.cross-region-check-requested"], "cities": ["CN-GZ", "CN-GZ"]}
        )


def test_payloads_are_immutable() -> None:
    payload = ReviewConfirmed.model_validate(SAMPLES["housing.eligibility.review-confirmed"])
    with pytest.raises(ValidationError):
        payload.outcome = "exit"


def test_dead_letter_keeps_the_original_bytes() -> None:
    record = DeadLetter.model_validate(SAMPLES["housing.deadletter.dead-lettered"])
    assert base64.b64decode(record.original_data_b64) == b'{"not": "an envelope"}'
    with pytest.raises(ValidationError):
        DeadLetter.model_validate(
            {**SAMPLES["housing.deadletter.dead-lettered"], "failed_at": "2026-11-05T08:00:00"}
        )


# --- envelope ------------------------------------------------------------------------------------


def _envelope(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "eligibility:17",
        "source": "/housing/eligibility",
        "type": "housing.eligibility.exit-decided",
        "subject": HOUSEHOLD,
        "time": "2026-11-05T08:00:00+08:00",
        "datacontenttype": "application/json",
        "dataschema": "urn:housing:schema:eligibility.exit-decided:v1",
        "data": SAMPLES["housing.eligibility.exit-decided"],
    }
    return {**base, **changes}


def test_envelope_accepts_a_structured_mode_event() -> None:
    envelope = Envelope.model_validate(_envelope())
    assert envelope.time.utcoffset() == timedelta(hours=8)
    assert Envelope.model_validate({k: v for k, v in _envelope().items() if k != "datacontenttype"})
    assert Envelope.model_validate(_envelope(time=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=8)))))


@pytest.mark.parametrize(
    "changes",
    [
        {"specversion": "0.3"},
        {"id": ""},
        {"source": ""},
        {"source": "has space"},
        {"type": "Housing.Eligibility"},
        {"type": "exit-decided"},
        {"subject": ""},
        {"time": "2026-11-05T08:00:00"},
        {"datacontenttype": "application/xml"},
        {"dataschema": "urn:housing:schema:eligibility.exit-decided"},
        {"dataschema": "urn:housing:schema:eligibility.exit-decided:v0"},
        {"data": "not an object"},
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    ],
)
def test_envelope_rejects(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Envelope.model_validate(_envelope(**changes))


def test_envelope_requires_every_attribute() -> None:
    for attribute in ("specversion", "id", "source", "type", "subject", "time", "dataschema", "data"):
        with pytest.raises(ValidationError):
            Envelope.model_validate({k: v for k, v in _envelope().items() if k != attribute})


# --- catalogue -----------------------------------------------------------------------------------


def test_events_by_type_covers_every_event() -> None:
    assert len(EVENTS_BY_TYPE) == len(EVENTS), "two events share (type, version)"
    for spec in EVENTS:
        assert EVENTS_BY_TYPE[(spec.type, spec.version)] is spec
    assert len({spec.dataschema for spec in EVENTS}) == len(EVENTS)


@pytest.mark.parametrize("spec", EVENTS, ids=spec_ids)
def test_event_names_follow_the_conventions(spec: EventSpec) -> None:
    assert spec.type == f"housing.{spec.context}.{spec.name}"
    assert re.fullmatch(TYPE_PATTERN, spec.type)
    assert spec.dataschema == dataschema_for(spec.context, spec.name, spec.version)
    assert re.fullmatch(DATASCHEMA_PATTERN, spec.dataschema)
    assert spec.version >= 1
    assert spec.subject.startswith(f"housing.{spec.context}.")
    assert spec.summary and spec.producer
    assert spec.producer not in spec.consumers
    assert len(set(spec.consumers)) == len(spec.consumers)
    assert issubclass(spec.payload, BaseModel)


def test_parameterised_subjects_have_a_filter_and_concrete_form() -> None:
    parameterised = {spec.type: spec for spec in EVENTS if spec.parameters}
    assert sorted(parameterised) == [
        "housing.deadletter.dead-lettered",
        "housing.department.fact-reported",
        "housing.department.facts-reported",
    ]
    dead = parameterised["housing.deadletter.dead-lettered"]
    assert dead.subject == "housing.deadletter.{service}"
    assert dead.subject_filter == "housing.deadletter.*"
    assert dead.subject_for(service="penalties") == "housing.deadletter.penalties"
    assert dead.subject_values("housing.deadletter.penalties") == {"service": "penalties"}
    assert dead.subject_values("housing.deadletter.penalties.x") is None


def test_a_department_publishes_on_its_own_subject() -> None:
    """The department is a token of the subject, so the bus can let each department's credential
    publish only its own facts (services.kit.busauth)."""
    fact = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
    assert fact.subject_filter == "housing.department.fact-reported.*"
    payload = fact.payload.model_validate(SAMPLES[fact.type])
    assert fact.subject_of(payload) == f"housing.department.fact-reported.{SAMPLES[fact.type]['department']}"
    assert fact.subject_values("housing.department.fact-reported.finance") == {"department": "finance"}
    assert fact.subject_values("housing.department.fact-reported") is None


def nats_subset(subject: str, filter_: str) -> bool:
    """True when every subject `subject` (which may itself contain `*`/`>`) can match is matched by `filter_`,
    by NATS rules: `*` matches exactly one token, `>` one or more trailing tokens."""
    subject_tokens, filter_tokens = subject.split("."), filter_.split(".")
    for index, wanted in enumerate(filter_tokens):
        if wanted == ">":
            return len(subject_tokens) > index
        if index >= len(subject_tokens):
            return False
        given_token = subject_tokens[index]
        if given_token == ">":
            return False
        if wanted != "*" and (given_token == "*" or wanted != given_token):
            return False
    return len(subject_tokens) == len(filter_tokens)


@pytest.mark.parametrize(
    ("subject", "filter_", "expected"),
    [
        ("housing.eligibility.exit-decided", "housing.eligibility.>", True),
        ("housing.eligibility", "housing.eligibility.>", False),
        ("housing.eligibility.a.b", "housing.eligibility.>", True),
        ("housing.eligibility.exit-decided", "housing.*.exit-decided", True),
        ("housing.eligibility.exit-decided", "housing.*", False),
        ("housing.deadletter.*", "housing.deadletter.>", True),
        ("housing.deadletter.*", "housing.deadletter.penalties", False),
        ("housing.deadletter.*", "housing.deadletter.*", True),
        ("housing.>", "housing.deadletter.>", False),
        ("housing.eligibility.exit-decided", "housing.eligibility.exit-decided", True),
        ("housing.eligibility.exit-decided", "housing.penalties.>", False),
    ],
)
def test_nats_subset_follows_nats_rules(subject: str, filter_: str, expected: bool) -> None:
    assert nats_subset(subject, filter_) is expected


@pytest.mark.parametrize("spec", EVENTS, ids=spec_ids)
def test_every_subject_is_in_exactly_one_stream(spec: EventSpec) -> None:
    concrete = [spec.subject_filter]
    if spec.parameters:
        concrete.append(spec.subject_for(**dict.fromkeys(spec.parameters, "penalties")))
    for subject in concrete:
        owners = [s.name for s in STREAMS for f in s.subjects if nats_subset(subject, f)]
        assert len(owners) == 1, f"{subject} is captured by {owners or 'no stream'}"


def test_streams_do_not_overlap_and_have_unique_names() -> None:
    assert len({s.name for s in STREAMS}) == len(STREAMS)
    filters = [(s.name, f) for s in STREAMS for f in s.subjects]
    for name, f in filters:
        for other_name, other in filters:
            if name != other_name:
                assert not nats_subset(f, other), f"{name} and {other_name} overlap"
