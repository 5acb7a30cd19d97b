"""The CloudEvents 1.0 envelope every integration event travels in, and the NATS header names around it.

On the wire an integration event is one JSON object in CloudEvents *structured mode*: the context
attributes (`id`, `source`, `type`, `subject`, `time`, ...) beside the payload in `data`. The payload's
version is not in the subject (`housing.<context>.<event>` stays stable across versions) but in
`dataschema`, `urn:housing:schema:<context>.<event>:v<N>`, so a consumer picks the payload model from
the envelope alone and two versions can share a stream during a migration.

Extension attributes are refused (`extra="forbid"`): tracing context rides in the NATS headers
(`traceparent`, `tracestate`), not in the CloudEvents distributed-tracing extension, so there is one place
to look for it and the envelope stays a closed, versioned shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.times import Instant

__all__ = [
    "DATASCHEMA_PATTERN",
    "DEADLETTER_REASON_HEADER",
    "MSG_ID_HEADER",
    "TRACEPARENT_HEADER",
    "TRACESTATE_HEADER",
    "TYPE_PATTERN",
    "Envelope",
    "dataschema_for",
]

MSG_ID_HEADER: Final = "Nats-Msg-Id"
"""JetStream's de-duplication key. The outbox relay sets `<service>:<notification id>`, so a republish
after a crash is dropped inside the stream's duplicate window instead of being delivered twice."""

TRACEPARENT_HEADER: Final = "traceparent"
"""W3C Trace Context parent: links the consumer's span to the producer's, one trace per household flow."""

TRACESTATE_HEADER: Final = "tracestate"
"""W3C Trace Context vendor state, passed along untouched when present."""

DEADLETTER_REASON_HEADER: Final = "Housing-Deadletter-Reason"
"""On a dead-letter message: a one-line reason (the full reason is in the payload), readable with
`nats stream view` without decoding the body."""

TYPE_PATTERN: Final = r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$"
"""Shape of a CloudEvents `type`: dot-separated lowercase tokens (`housing.eligibility.review-decided`)."""

DATASCHEMA_PATTERN: Final = r"^urn:housing:schema:[a-z0-9-]+\.[a-z0-9-]+:v[1-9][0-9]*$"
"""Shape of `dataschema`: `urn:housing:schema:<context>.<event>:v<N>`; the version lives here."""


def dataschema_for(context: str, name: str, version: int) -> str:
    """The `dataschema` URN of version `version` of event `name` of `context`."""
    return f"urn:housing:schema:{context}.{name}:v{version}"


class Envelope(BaseModel):
    """A CloudEvents 1.0 event in structured-mode JSON; `data` is the payload of the event named by
    `type` in the version named by `dataschema`."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_serialization_defaults_required=True)

    specversion: Literal["1.0"] = Field(description="CloudEvents specification version.")
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="Unique per producer (`source`); with `source`, identifies the event for consumers."
    )
    source: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")] = Field(
        description="URI-reference of the producing context, e.g. `/housing/eligibility`."
    )
    type: Annotated[str, StringConstraints(max_length=256, pattern=TYPE_PATTERN)] = Field(
        description="Event type, e.g. `housing.eligibility.review-decided`; equal to the NATS subject."
    )
    subject: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="The aggregate the event is about: the household id for household events."
    )
    time: Instant = Field(description="When the fact happened, with a UTC offset (RFC 3339).")
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="Always JSON."
    )
    dataschema: Annotated[str, StringConstraints(max_length=256, pattern=DATASCHEMA_PATTERN)] = Field(
        description="`urn:housing:schema:<context>.<event>:v<N>`: names the payload model and its version."
    )
    data: dict[str, Any] = Field(description="The payload, valid against the model `dataschema` names.")
