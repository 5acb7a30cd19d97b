"""Integration events on the wire: contract payload ⇄ CloudEvents envelope ⇄ bytes.

Decoding is where untrusted bytes become typed facts, so every way a message can be wrong ends here
as a `ContractError` whose message is the dead-letter reason an operator reads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError, create_model

from contracts.catalogue import EVENTS, EventSpec
from contracts.envelope import Envelope
from contracts.identifiers import ID_NUMBER_PATTERN

_BY_SCHEMA: dict[str, EventSpec] = {spec.dataschema: spec for spec in EVENTS}


class ContractError(ValueError):
    """The message is not a valid integration event; retrying cannot fix it.

    Its text quotes what the sender put in the envelope (a type, a dataschema, a field's error) and
    becomes a dead letter's reason and header: anything shaped like an ID number is masked in it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(ID_NUMBER_PATTERN.sub("[id-number]", reason))


@dataclass(frozen=True)
class Outgoing:
    """What a service's translator makes of a domain event: a contract payload about one subject."""

    spec: EventSpec
    subject_id: str
    payload: BaseModel

    @property
    def nats_subject(self) -> str:
        """Where it is published: the event's subject, its `{placeholders}` from the payload."""
        return self.spec.subject_of(self.payload)


@dataclass(frozen=True)
class Incoming:
    """A decoded, validated integration event as handlers receive it."""

    spec: EventSpec
    envelope: Envelope
    payload: BaseModel
    stream: str
    stream_sequence: int
    headers: dict[str, str] = field(default_factory=dict)


def encode(outgoing: Outgoing, *, event_id: str, source: str, time: datetime) -> bytes:
    """The CloudEvents JSON of an outgoing event.

    The payload was validated when the translator built it and the envelope's attributes come from
    the catalogue and the store, so the envelope is written directly rather than validated again:
    this runs once per published event. `decode` (and the contract tests) hold the shape.
    """
    attributes = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": outgoing.spec.type,
        "subject": outgoing.subject_id,
        "time": time.isoformat(),
        "datacontenttype": "application/json",
        "dataschema": outgoing.spec.dataschema,
    }
    # orjson writes what `json.dumps(separators=(",", ":"), ensure_ascii=False)` wrote, for less; the
    # payload's serializer gives bytes (what `model_dump_json` decodes to a str).
    data = outgoing.payload.__pydantic_serializer__.to_json(outgoing.payload)
    return b"".join((orjson.dumps(attributes)[:-1], b',"data":', data, b"}"))


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def decode(data: bytes) -> tuple[Envelope, EventSpec, BaseModel]:
    """Parse and validate; raise `ContractError` naming the first problems found."""
    try:
        envelope = Envelope.model_validate_json(data)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise ContractError(f"not JSON: {exc.errors()[0]['msg']}") from None
        raise ContractError(f"invalid CloudEvents envelope: {_describe(exc)}") from None
    spec = _BY_SCHEMA.get(envelope.dataschema)
    if spec is None:
        raise ContractError(f"unknown dataschema {envelope.dataschema!r} (type {envelope.type!r})")
    if spec.type != envelope.type:
        raise ContractError(f"type {envelope.type!r} does not match dataschema {envelope.dataschema!r}")
    try:
        payload = (_shell(spec) if spec.batch_of else spec.payload).model_validate(envelope.data)
    except ValidationError as exc:
        raise ContractError(f"invalid {spec.type} v{spec.version} payload: {_describe(exc)}") from None
    return envelope, spec, payload


@functools.cache
def _shell(spec: EventSpec) -> type[BaseModel]:
    """A batch event's payload model with its entries left unvalidated (`entries` validates each)."""
    assert spec.batch_field is not None
    info = spec.payload.model_fields[spec.batch_field]
    fields: Any = {spec.batch_field: (list[Any], info)}
    return create_model(f"{spec.payload.__name__}Entries", __base__=spec.payload, **fields)


@dataclass(frozen=True)
class Rejected:
    """An entry of a batch event that is not a valid payload of the event it stands for."""

    index: int
    reason: str


def entries(spec: EventSpec, payload: BaseModel) -> list[BaseModel | Rejected]:
    """Each entry of a decoded batch event validated as its own event's payload, in order; an invalid
    one becomes a `Rejected` naming its index and fields (ID numbers masked), and the others stand."""
    assert spec.batch_of is not None and spec.batch_field is not None
    model = spec.batch_of.payload
    out: list[BaseModel | Rejected] = []
    for index, entry in enumerate(getattr(payload, spec.batch_field)):
        try:
            out.append(model.model_validate(entry))
        except ValidationError as exc:
            reason = f"{spec.batch_field}[{index}]: invalid {spec.batch_of.type} v{spec.batch_of.version}: "
            out.append(Rejected(index, str(ContractError(reason + _describe(exc)))))
    return out
