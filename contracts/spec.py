"""What a stream and an integration event are, as data: the shapes every context's catalogue entries take.

Kept apart from `contracts.catalogue` so that a context's own module (`contracts.penalties`, ...) can
declare its events beside its payloads, and the catalogue only gathers them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel

from contracts.envelope import dataschema_for

__all__ = ["EventSpec", "StreamSpec"]

_PARAMETER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream: its name and the subjects it captures."""

    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_days: int | None = None
    """How long messages are kept; None keeps them (business events are the platform's record)."""


@dataclass(frozen=True)
class EventSpec:
    """One version of one integration event: where it is published, what its payload is, who sends it
    and who listens.

    `subject_pattern` is only for events whose subject carries a variable token (dead letters go to
    `housing.deadletter.{service}`); every other event is published on its `type`. `enveloped` is False
    for records published as bare JSON rather than inside a CloudEvents envelope (dead letters again).
    """

    context: str
    name: str
    version: int
    payload: type[BaseModel]
    summary: str
    producer: str
    consumers: tuple[str, ...]
    subject_pattern: str | None = None
    enveloped: bool = True
    batch_of: EventSpec | None = None
    """For a batch event: the event each entry of the payload's `batch_field` list is a payload of.
    Consumers take each entry as that event; an invalid entry is set aside alone (`services.kit.codec`)."""
    batch_field: str | None = None

    @property
    def type(self) -> str:
        """CloudEvents `type`: `housing.<context>.<name>`."""
        return f"housing.{self.context}.{self.name}"

    @property
    def subject(self) -> str:
        """NATS subject: the `type`, or the pattern with `{parameter}` placeholders when there is one."""
        return self.subject_pattern if self.subject_pattern is not None else self.type

    @property
    def dataschema(self) -> str:
        """`urn:housing:schema:<context>.<name>:v<version>`."""
        return dataschema_for(self.context, self.name, self.version)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the `{placeholders}` in `subject`, in order; empty for a fixed subject."""
        return tuple(_PARAMETER.findall(self.subject))

    @property
    def subject_filter(self) -> str:
        """NATS filter matching every concrete subject of this event (`{placeholder}` becomes `*`)."""
        return _PARAMETER.sub("*", self.subject)

    def __post_init__(self) -> None:
        if (self.batch_of is None) != (self.batch_field is None):
            raise ValueError(f"{self.type}: batch_of and batch_field go together")
        if self.batch_field is not None and self.batch_field not in self.payload.model_fields:
            raise ValueError(f"{self.type}: payload has no field {self.batch_field!r}")

    @cached_property
    def _subject_pattern(self) -> re.Pattern[str]:
        """`subject` as a regular expression, one named group per `{placeholder}` (compiled once: the
        inboxes match every message they take against it)."""
        literal = [re.escape(part) for part in _PARAMETER.split(self.subject)[::2]]
        names = self.parameters
        return re.compile(
            "".join(
                part + (f"(?P<{names[i]}>[^.]+)" if i < len(names) else "") for i, part in enumerate(literal)
            )
        )

    def subject_values(self, subject: str) -> dict[str, str] | None:
        """The `{placeholder}` tokens of a concrete `subject` by name; None when it is not this event's."""
        if not self.parameters:
            return {} if subject == self.subject else None
        match = self._subject_pattern.fullmatch(subject)
        return match.groupdict() if match else None

    def subject_of(self, payload: BaseModel) -> str:
        """The concrete subject of `payload`: each `{placeholder}` is the payload's field of that name
        (`department` of a fact). A batch event's entries name theirs: use `subject_for`."""
        if not self.parameters:
            return self.subject
        return self.subject_for(**{name: str(getattr(payload, name)) for name in self.parameters})

    def subject_for(self, **values: str) -> str:
        """The concrete subject, e.g. `subject_for(service="penalties")` for dead letters."""
        return self.subject.format(**values)
