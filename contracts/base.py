"""The one base class every contract payload derives from.

Contracts are read by services written and deployed at different times, so a payload is a closed,
immutable record: unknown fields are rejected rather than silently dropped (an added field is a new
version, never a surprise to an old consumer), and a decoded payload cannot be changed by the handler
that received it. In the published JSON Schema (serialization mode) fields with defaults are listed as
required too, because every serialised payload carries them: a reader may rely on their presence.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Base of every integration-event payload and of the records nested in them: frozen, closed."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_serialization_defaults_required=True)
