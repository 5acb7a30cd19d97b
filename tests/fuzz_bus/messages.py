"""Messages for the bus fuzzer: contract payloads generated from the pydantic models' JSON schemas (and
the catalogue's samples), wrapped in CloudEvents envelopes, valid and broken in every way we know of.

`expect` is the oracle: it decides from the contract alone (JSON, the envelope model, the catalogue, the
payload model validated in JSON mode) whether a message is a valid integration event, independently
of the inbox's codec, which validates the payload in Python mode from the parsed envelope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.catalogue import EVENTS, STREAMS, EventSpec
from contracts.envelope import Envelope
from services.kit import clock
from tests.contracts.test_payloads import sample_of

CONSUMED_STREAMS = ("DEPARTMENT", "ELIGIBILITY", "FEDERATION", "MONITORING", "PENALTIES")
"""The streams some service's inbox reads (SIGNALS is monitoring's intake, not an inbox)."""


def stream_of(spec: EventSpec) -> str:
    for stream in STREAMS:
        for subject in stream.subjects:
            if spec.subject.startswith(subject.removesuffix(">")):
                return stream.name
    raise LookupError(spec.type)


SPECS: dict[str, list[EventSpec]] = {
    stream: [s for s in EVENTS if s.enveloped and stream_of(s) == stream] for stream in CONSUMED_STREAMS
}
BY_SCHEMA = {spec.dataschema: spec for spec in EVENTS}
HOUSEHOLDS = [UUID(int=0x6A2F41A3C54B4D8A9A0F1C2B3D4E0000 + n) for n in range(4)]
"""A small pool, so that registrations, decisions and violations meet the same households."""


# -- JSON schema → strategy ----------------------------------------------------------------------------

_TEXT = st.characters(codec="utf-8", exclude_categories=["Cs"])
_FROM, _TO = datetime(1990, 1, 1), datetime(2090, 1, 1)  # noqa: DTZ001 (hypothesis wants naive bounds)
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])


def from_schema(node: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for JSON values the schema node describes (most of them valid; the model decides)."""
    if "$ref" in node:
        return from_schema(defs[node["$ref"].split("/")[-1]], defs, depth)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([from_schema(option, defs, depth) for option in node[key]])
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**node, "type": k}, defs, depth) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = node.get("minimum", node.get("exclusiveMinimum", -(10**6) - 1) + 1)
        high = node.get("maximum", node.get("exclusiveMaximum", 10**6 + 1) - 1)
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        return st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    if kind == "string":
        return _string(node)
    if kind == "array":
        low = node.get("minItems", 0)
        high = min(node.get("maxItems", low + 3), low + 3)
        items = from_schema(node.get("items", {}), defs, depth + 1)
        unique = node.get("uniqueItems", False)
        return st.lists(items, min_size=low, max_size=high, unique_by=_key if unique else None)
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, defs, depth + 1) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, defs, depth + 1) for k, v in properties.items() if k not in required},
        )
    return st.none() | st.text(_TEXT, max_size=8) | st.integers()


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = node.get("format")
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "date":
        return st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat)
    if fmt == "date-time":
        moments = st.datetimes(_FROM, _TO, timezones=_ZONES)
        return moments.map(datetime.isoformat)
    low = node.get("minLength", 0)
    high = node.get("maxLength", low + 24)
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.text(_TEXT, min_size=low, max_size=min(high, low + 24))


_SCHEMAS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def schema(spec: EventSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    if spec.type not in _SCHEMAS:
        document = spec.payload.model_json_schema(mode="validation")
        _SCHEMAS[spec.type] = (document, document.get("$defs", {}))
    return _SCHEMAS[spec.type]


@st.composite
def payloads(draw: st.DrawFn, spec: EventSpec) -> dict[str, Any]:
    """The catalogue's sample with some fields drawn from the schema instead; households from the pool."""
    document, defs = schema(spec)
    payload: dict[str, Any] = json.loads(json.dumps(sample_of(spec)))
    for name, node in document.get("properties", {}).items():
        if name == "household_id" and name in payload:
            payload[name] = str(draw(st.sampled_from(HOUSEHOLDS)))
        elif draw(st.integers(0, 3)) == 0:
            payload[name] = draw(from_schema(node, defs))
    return payload


# -- messages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    stream: str
    subject: str
    data: bytes
    intent: str
    """What the generator meant: `valid`, `mutated` (the oracle decides), or how it is broken."""


def envelope(spec: EventSpec, payload: dict[str, Any], event_id: str, time: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/fuzz",
        "type": spec.type,
        "subject": str(payload.get("household_id") or event_id),
        "time": time,
        "datacontenttype": "application/json",
        "dataschema": spec.dataschema,
        "data": payload,
    }


def dump(document: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(document, ensure_ascii=ascii_only, separators=(",", ":")).encode()


_moments = st.datetimes(_FROM, _TO, timezones=_ZONES).map(datetime.isoformat)
_wrong_values: st.SearchStrategy[Any] = st.sampled_from(
    [None, 12.5, 4100.5, -1, [], {}, "", "x" * 300, True, "not-a-uuid", "2026-13-45", "1e3", "\uff10\uff11"]
)


@st.composite
def messages(draw: st.DrawFn, stream: str) -> Message:
    spec = draw(st.sampled_from(SPECS[stream]))
    payload = draw(payloads(spec))
    event_id = str(draw(st.uuids()))
    document = envelope(spec, payload, event_id, draw(_moments))
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "valid",
                "valid",
                "mutated payload",
                "missing field",
                "unknown field",
                "wrong type",
                "truncated",
                "wrong version",
                "unknown type",
                "type mismatch",
                "broken envelope",
                "wrong subject",
                "not json",
            ]
        )
    )
    subject = subject_of(spec, payload)
    data = payload
    if kind == "mutated payload":
        name = draw(st.sampled_from(sorted(data)))
        data[name] = draw(_wrong_values | from_schema({}, {}))
    elif kind == "missing field":
        if data:
            del data[draw(st.sampled_from(sorted(data)))]
    elif kind == "unknown field":
        data[draw(st.sampled_from(["extra", "citizen_name", "id_number", "x-trace"]))] = draw(_wrong_values)
    elif kind == "wrong type":
        name = draw(st.sampled_from(sorted(data)))
        data[name] = draw(_wrong_values)
    elif kind == "wrong version":
        document["dataschema"] = spec.dataschema.rsplit(":v", 1)[0] + f":v{draw(st.integers(2, 99))}"
    elif kind == "unknown type":
        name = draw(st.sampled_from(["no-such-event", "fact-reported-v2", "x"]))
        context = spec.context
        document["type"] = f"housing.{context}.{name}"
        document["dataschema"] = f"urn:housing:schema:{context}.{name}:v1"
        subject = document["type"]
    elif kind == "type mismatch":
        other = draw(st.sampled_from([s for s in EVENTS if s.enveloped and s.type != spec.type]))
        document["type"] = other.type
    elif kind == "broken envelope":
        breakage = draw(
            st.sampled_from(
                ["drop", "specversion", "naive time", "extension", "empty id", "data list", "bad source"]
            )
        )
        if breakage == "drop":
            del document[draw(st.sampled_from(["specversion", "id", "source", "type", "time", "data"]))]
        elif breakage == "specversion":
            document["specversion"] = draw(st.sampled_from(["0.3", "1", 1.0, None]))
        elif breakage == "naive time":
            document["time"] = "2026-11-01T08:00:00"
        elif breakage == "extension":
            document["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        elif breakage == "empty id":
            document["id"] = ""
        elif breakage == "data list":
            document["data"] = [payload]
        else:
            document["source"] = "has spaces in it"
    elif kind == "wrong subject":
        others = [s for s in SPECS[stream] if s.subject != spec.subject]
        subject = draw(st.sampled_from(others)).subject if others else f"housing.{spec.context}.elsewhere"
    body = dump(document, draw(st.booleans()))
    if kind == "truncated":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif kind == "not json":
        body = draw(
            st.sampled_from(
                [b"", b"null", b"[]", b'"text"', b"42", b"\xff\xfe\xfd", b"{", body.replace(b"{", b"(", 1)]
            )
        )
    return Message(stream, subject, body, kind)


def subject_of(spec: EventSpec, payload: Any) -> str:
    """Where a department publishes `payload`: on its own department's subject (a fact names it; an
    export's first fact does). Other events: their subject."""
    if not spec.parameters:
        return spec.subject
    facts = payload.get(spec.batch_field or "", None) if isinstance(payload, dict) else None
    named = facts[0] if isinstance(facts, list) and facts and isinstance(facts[0], dict) else payload
    department = named.get("department") if isinstance(named, dict) else None
    return spec.subject_for(department=department if isinstance(department, str) else "civil_affairs")


def valid_message(spec: EventSpec, payload: dict[str, Any], event_id: str) -> Message:
    document = envelope(spec, payload, event_id, clock.now().isoformat())
    return Message(stream_of(spec), subject_of(spec, payload), dump(document), "valid")


# -- the oracle ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    valid: bool
    type: str | None
    why: str
    entries: int = 1
    """Effects a consumer of `type` commits: one, or a batch event's valid entries."""
    rejected: int = 0
    """A batch event's invalid entries, all named by one dead letter."""


def expect(subject: str, data: bytes) -> Expected:
    """Whether the contract makes `data` on `subject` a valid integration event, and of which type."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Expected(False, None, "not JSON")
    if not isinstance(document, dict):
        return Expected(False, None, "not a JSON object")
    try:
        envelope_ = Envelope.model_validate_json(data)
    except ValidationError:
        return Expected(False, None, "envelope")
    spec = BY_SCHEMA.get(envelope_.dataschema)
    if spec is None or spec.type != envelope_.type or not spec.enveloped:
        return Expected(False, None, "unknown type or version")
    tokens = spec.subject_values(subject)
    if tokens is None:
        return Expected(False, None, "published on another subject")
    if spec.batch_of is not None:
        return expect_batch(spec, document["data"], tokens)
    try:
        payload = spec.payload.model_validate_json(json.dumps(document["data"]))
    except ValidationError:
        return Expected(False, None, "payload")
    if _names_other(payload, tokens):
        return Expected(False, None, "names another than its subject")
    return Expected(True, spec.type, "valid")


def _names_other(payload: Any, tokens: dict[str, str]) -> bool:
    """A department's payload on another department's subject (services.kit.inbox refuses it)."""
    return any(str(getattr(payload, name, token)) != token for name, token in tokens.items())


def expect_batch(spec: EventSpec, data: Any, tokens: dict[str, str]) -> Expected:
    """A batch event is refused whole when its shape is wrong (not an object holding exactly its list
    field, the list empty or over the limit); otherwise each entry stands or falls alone and a
    consumer of the entries' event handles the valid ones."""
    assert spec.batch_of is not None and spec.batch_field is not None
    bounds = spec.payload.model_json_schema()["properties"][spec.batch_field]
    if not isinstance(data, dict) or set(data) != {spec.batch_field}:
        return Expected(False, None, "payload")
    items = data[spec.batch_field]
    if not isinstance(items, list) or not bounds["minItems"] <= len(items) <= bounds["maxItems"]:
        return Expected(False, None, "payload")
    good = 0
    for item in items:
        try:
            entry = spec.batch_of.payload.model_validate_json(json.dumps(item))
        except ValidationError:
            continue
        good += not _names_other(entry, tokens)
    why = "valid" if good == len(items) else f"{len(items) - good} of {len(items)} entries invalid"
    return Expected(True, spec.batch_of.type, why, entries=good, rejected=len(items) - good)
