"""A message a consumer gave up on, kept whole so an operator can see why and replay it.

When an inbox cannot process a message (invalid contract, or a handler that kept failing up to
`max_deliver`), it publishes this record on `housing.deadletter.<service>` and only then acknowledges
the original, so nothing is lost and the stream keeps moving. The record is published as bare JSON, not
inside a CloudEvents envelope: it is about a message, not a business fact. The original body is kept as
base64 because it may not even be valid JSON.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from contracts.base import Contract
from contracts.identifiers import ServiceName
from contracts.times import Instant

__all__ = ["DeadLetter"]


class DeadLetter(Contract):
    """A message `service` could not process, with the reason and everything needed to replay it."""

    service: ServiceName = Field(description="Consumer that gave up; also the last subject token.")
    original_subject: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="Subject the message was published on."
    )
    stream: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="JetStream stream holding the original."
    )
    stream_sequence: int = Field(ge=1, description="Sequence of the original in that stream.")
    deliveries: int = Field(ge=1, description="How many times it was delivered.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="Why it failed, as an operator reads it."
    )
    failed_at: Instant = Field(description="When the consumer gave up.")
    original_headers: dict[str, str] = Field(description="NATS headers of the original message.")
    original_data_b64: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$")] = Field(
        description=(
            "Original body, base64 (standard alphabet, padded); empty when it was too large to carry, "
            "it is then read from `stream` at `stream_sequence`."
        )
    )
