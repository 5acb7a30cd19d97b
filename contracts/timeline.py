"""A household's timeline as one service tells it: the HTTP contract behind the gateway's merged view.

Every service that keeps something about a household answers `GET /households/{household_id}/timeline`
with a `Timeline`; the gateway merges the services' answers into one list ordered by time. An entry says
what happened in words an operator reads, who did it (an operator account, or none for the platform
itself), why, and the trace id of the request or message that caused it, so a tracing UI can show the
whole flow. No entry carries a name, an ID number or an amount the reader's role may not see: services
put amounts in `summary` only where every operator role may read them.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from contracts.base import Contract
from contracts.identifiers import Label, OperatorId, ServiceName, Text
from contracts.times import Instant

__all__ = ["Timeline", "TimelineEntry", "TraceId"]

TraceId = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{32}$")]
"""W3C trace id (32 lowercase hex characters)."""


class TimelineEntry(Contract):
    """One thing that happened to a household, in one service."""

    at: Instant = Field(description="When the service recorded it.")
    service: ServiceName = Field(description="The service that recorded it.")
    type: Label = Field(description="What kind of step, e.g. `TransitionPlan.Started`.")
    summary: Text = Field(description="What happened, in plain language.")
    actor: OperatorId | None = Field(default=None, description="Operator who did it; none for the platform.")
    reason: Text = Field(default="", description="Why: the decision, warning or rule it rests on.")
    trace_id: TraceId | None = Field(default=None, description="Trace of the request or message behind it.")


class Timeline(Contract):
    """Everything one service holds about a household, oldest first."""

    household_id: UUID
    entries: list[TimelineEntry]
