"""Every moment and every day in every contract takes on the wire only what its JSON schema documents.

Plain pydantic `AwareDatetime` and `date` read `0`, `"0"` and whole Unix seconds as 1970-something and a
midnight date-time as a day, though the published schema says `format: date-time` / `format: date`.
The check is generated: it finds every field of those types in every model of `contracts/` (catalogue
payloads, the envelope, federation's wire bodies, the timeline), locates it in a valid sample, and
swaps in bad and good values there, so a field added later with a plain `date` fails here at once.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import pkgutil
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import (
    AwareDatetime,
    BaseModel,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    ValidationError,
)

import contracts
from contracts.catalogue import EVENTS
from contracts.department import DepartmentFactReported
from contracts.envelope import Envelope
from contracts.federation import BatchAnswer, BatchQuery, StatusAnswer, StatusQuery
from contracts.timeline import Timeline
from tests.contracts.test_payloads import FACTS, SAMPLES, sample_of

HASH = "3f" * 32
HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"
QUERY = "5c2e7d3f-9a4b-4c6d-8e0f-2a3b4c5d6e7f"
CASE = {
    "requesting_city": "CN-GZ",
    "purpose": "exit-review",
    "legal_basis": "Public rental housing regulations, art. 30",
    "case_id": "GZ-2026-0042",
    "officer_id": "officer.li",
    "requested_at": "2026-11-05T08:00:00+08:00",
}
ANSWER = {
    "query_id": QUERY,
    "responding_city": "CN-FS",
    "as_of": "2026-11-05T08:00:01+08:00",
    "holds_subsidised_housing": False,
    "receives_housing_subsidy": None,
    "owns_property_over_threshold": False,
    "contact_reference": "FS-HOUSING-DESK",
}

# Valid wire bodies of the contracts the catalogue does not list (HTTP bodies, the envelope).
OTHER_SAMPLES: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
    (
        "envelope",
        Envelope,
        {
            "specversion": "1.0",
            "id": "eligibility:1",
            "source": "/housing/eligibility",
            "type": "housing.eligibility.household-registered",
            "subject": HOUSEHOLD,
            "time": "2026-11-05T08:00:00Z",
            "datacontenttype": "application/json",
            "dataschema": "urn:housing:schema:eligibility.household-registered:v1",
            "data": {},
        },
    ),
    ("status-query", StatusQuery, {**CASE, "query_id": QUERY, "id_hash": HASH}),
    (
        "batch-query",
        BatchQuery,
        {**CASE, "batch_id": HOUSEHOLD, "subjects": [{"query_id": QUERY, "id_hash": HASH}]},
    ),
    ("status-answer", StatusAnswer, ANSWER),
    (
        "batch-answer",
        BatchAnswer,
        {"batch_id": HOUSEHOLD, "responding_city": "CN-FS", "as_of": ANSWER["as_of"], "answers": [ANSWER]},
    ),
    (
        "timeline",
        Timeline,
        {
            "household_id": HOUSEHOLD,
            "entries": [
                {
                    "at": "2026-11-05T08:00:00+08:00",
                    "service": "penalties",
                    "type": "TransitionPlan.Started",
                    "summary": "Transition plan started.",
                    "actor": None,
                    "reason": "",
                    "trace_id": None,
                }
            ],
        },
    ),
]


def all_samples() -> Iterator[tuple[str, type[BaseModel], dict[str, Any]]]:
    """Every valid sample we have: one per catalogue event, one per department fact kind, the rest."""
    for spec in EVENTS:
        yield f"{spec.type}-v{spec.version}", spec.payload, sample_of(spec)
    for fact in FACTS:
        base = SAMPLES["housing.department.fact-reported"]
        yield f"fact-reported[{fact['kind']}]", DepartmentFactReported, {**base, "fact": fact}
    yield from OTHER_SAMPLES


# --- finding the fields ---------------------------------------------------------------------------

Kind = typing.Literal["instant", "day"]


def _arms(annotation: Any) -> list[Any]:
    """The types an annotation can hold, with Annotated, Optional and unions taken apart."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _arms(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [arm for arg in typing.get_args(annotation) for arm in _arms(arg)]
    return [annotation]


INSTANT_TYPES: tuple[Any, ...] = (datetime, AwareDatetime, NaiveDatetime, PastDatetime, FutureDatetime)
DAY_TYPES: tuple[Any, ...] = (date, PastDate, FutureDate)


def _kind(annotation: Any) -> Kind | None:
    for arm in _arms(annotation):
        if arm in INSTANT_TYPES:
            return "instant"
        if arm in DAY_TYPES:
            return "day"
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Models a field can hold, directly or inside lists and dicts."""
    found: list[type[BaseModel]] = []
    for arm in _arms(annotation):
        if inspect.isclass(arm) and issubclass(arm, BaseModel):
            found.append(arm)
        for arg in typing.get_args(arm):
            found.extend(_models_in(arg))
    return found


def time_fields(model: type[BaseModel]) -> dict[str, Kind]:
    """This model's own datetime and date fields (the types nested models hold are theirs)."""
    kinds = {name: _kind(info.annotation) for name, info in model.model_fields.items()}
    return {name: kind for name, kind in kinds.items() if kind is not None}


def contract_models() -> set[type[BaseModel]]:
    """Every pydantic model declared in the `contracts` package."""
    found: set[type[BaseModel]] = set()
    for module_info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{module_info.name}")
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseModel)
                and value.__module__.startswith("contracts.")
            ):
                found.add(value)
    return found


Path = tuple[str | int, ...]


def _nodes(model: type[BaseModel], data: Any, path: Path) -> Iterator[tuple[type[BaseModel], Path]]:
    """Each (model, path) at which `data`, valid for `model`, holds a nested model instance."""
    yield model, path
    assert isinstance(data, dict)
    for name, value in data.items():
        candidates = _models_in(model.model_fields[name].annotation)
        if not candidates or value is None:
            continue
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if not isinstance(item, dict):
                continue
            here = (*path, name) if index is None else (*path, name, index)
            arm = next(c for c in candidates if _valid(c, item))
            yield from _nodes(arm, item, here)


def _valid(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class Site:
    """One time field, at one place in one valid sample of a top-level contract."""

    sample: str
    top: type[BaseModel]
    payload: dict[str, Any]
    owner: type[BaseModel]
    path: Path
    kind: Kind

    def with_value(self, value: object) -> dict[str, Any]:
        payload = copy.deepcopy(self.payload)
        node: Any = payload
        for step in self.path[:-1]:
            node = node[step]
        node[self.path[-1]] = value
        return payload

    def __str__(self) -> str:
        return f"{self.sample}:{'.'.join(map(str, self.path))}"


def sites() -> list[Site]:
    found: list[Site] = []
    for sample, top, payload in all_samples():
        for owner, path in _nodes(top, payload, ()):
            for name, kind in time_fields(owner).items():
                found.append(Site(sample, top, payload, owner, (*path, name), kind))
    return found


SITES = sites()


# --- the checks -----------------------------------------------------------------------------------


def test_every_time_field_of_every_contract_is_checked() -> None:
    """A model or field with no valid sample here would escape the checks below: add a sample."""
    declared = {(model, name) for model in contract_models() for name in time_fields(model)}
    missing = sorted(
        f"{model.__name__}.{name}"
        for model, name in declared
        if not any(issubclass(site.owner, model) and site.path[-1] == name for site in SITES)
    )
    assert not missing, f"no sample holds {missing}"
    documented = {
        (model, name)
        for model in contract_models()
        for name, schema in model.model_json_schema()["properties"].items()
        for arm in schema.get("anyOf", [schema])
        if {"date", "date-time"} & {arm.get("format"), arm.get("items", {}).get("format")}
    }
    assert documented <= declared, "a field documented as a date or date-time is of another type"
    # the walk sees nested, union-held and non-catalogue models too, not just top-level payloads
    assert {"Envelope.time", "Member.birth_date", "EmploymentFact.start_date", "TimelineEntry.at"} <= {
        f"{model.__name__}.{name}" for model, name in declared
    }


def test_the_samples_are_valid() -> None:
    for sample, top, payload in all_samples():
        top.model_validate(payload)
        top.model_validate_json(json.dumps(payload))
        assert sample


NOT_AN_INSTANT: list[object] = [
    0,
    "0",
    "1700000000",
    1_700_000_000,
    1.5,
    True,
    "2026-11-05T07:31:02",  # naive: no offset
    "2026-11-05T07:31:02.5",
    "2026-11-05 07:31:02+08:00",  # no `T`
    "2026-11-05T07:31+08:00",  # no seconds
    "2026-11-05",
    "",
]
NOT_A_DAY: list[object] = [
    0,
    "0",
    "1700000000",
    1_700_006_400,  # a whole number of days in seconds: pydantic alone took it as 2023-11-15
    20397,
    "20261105",
    True,
    1.5,
    "2026-11-05T00:00:00",  # naive date-time
    "2026-11-05T00:00:00Z",
    "2026-11",
    "",
]
AN_INSTANT: list[object] = [
    "2026-11-05T07:31:02+08:00",
    "2026-11-04T23:31:02Z",
    "2026-11-04T23:31:02.123456Z",
    "2026-11-04t23:31:02z",
    datetime(2026, 11, 5, 7, 31, 2, tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 11, 4, 23, 31, 2, tzinfo=UTC),
]
A_DAY: list[object] = ["2026-11-05", date(2026, 11, 5)]


def _value_at(instance: BaseModel, path: Path) -> Any:
    node: Any = instance
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


@pytest.mark.parametrize("site", SITES, ids=str)
def test_a_time_field_refuses_what_its_schema_does_not_document(site: Site) -> None:
    for value in NOT_AN_INSTANT if site.kind == "instant" else NOT_A_DAY:
        payload = site.with_value(value)
        with pytest.raises(ValidationError):
            site.top.model_validate(payload)
        if not isinstance(value, datetime | date):
            with pytest.raises(ValidationError):
                site.top.model_validate_json(json.dumps(payload))


@pytest.mark.parametrize("site", SITES, ids=str)
def test_a_time_field_takes_iso_text_and_python_objects(site: Site) -> None:
    for value in AN_INSTANT if site.kind == "instant" else A_DAY:
        held = _value_at(site.top.model_validate(site.with_value(value)), site.path)
        if site.kind == "instant":
            assert isinstance(held, datetime)
            assert held.tzinfo is not None
            moment = datetime(2026, 11, 4, 23, 31, 2, tzinfo=UTC)
            assert timedelta(0) <= held - moment < timedelta(seconds=1)
        else:
            assert held == date(2026, 11, 5)
            assert not isinstance(held, datetime)
        if isinstance(value, str):
            assert (
                _value_at(site.top.model_validate_json(json.dumps(site.with_value(value))), site.path) == held
            )


@pytest.mark.parametrize("site", SITES, ids=str)
def test_python_senders_must_be_exact_too(site: Site) -> None:
    """A naive datetime has no instant; a datetime for a day would silently lose its time and offset."""
    aware = datetime(2026, 11, 5, 7, 31, 2, tzinfo=UTC)
    wrong = aware.replace(tzinfo=None) if site.kind == "instant" else aware
    with pytest.raises(ValidationError):
        site.top.model_validate(site.with_value(wrong))


@pytest.mark.parametrize("site", SITES, ids=str)
def test_the_document_a_sender_reads_is_unchanged(site: Site) -> None:
    """Still the standard string formats: no new version, no new schema for valid senders."""
    for mode in ("validation", "serialization"):
        schema = site.owner.model_json_schema(mode=mode)["properties"][str(site.path[-1])]
        arms = schema.get("anyOf", [schema])
        expected = {"type": "string", "format": "date-time" if site.kind == "instant" else "date"}
        assert any(expected.items() <= arm.items() for arm in arms), schema
