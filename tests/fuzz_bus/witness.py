"""A witness of committed effects: every handled message leaves its stream sequence in a ledger that
is stored in the same transaction as the handler's own effects (the inbox's unit of work). A message
whose effects were committed twice shows its sequence twice; one never committed shows none.

Kept in its own importable module: stored event topics name it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from services.kit.codec import Incoming
from services.kit.inbox import Handler
from services.kit.runtime import Consumes
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork


class Ledger(Aggregate):
    @staticmethod
    def create_id(stream: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"fuzz-bus-ledger/{stream}")

    @event("Opened")
    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.sequences: list[int] = []

    @event("Saw")
    def saw(self, sequence: int) -> None:
        self.sequences.append(sequence)


class Witnessed:
    """The service's handler, then the ledger entry, in the same unit of work. Keeps the handler's
    `prepare` (a `BatchHandler`) so the inbox treats it as the service does."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def prepare(self, batch: Sequence[Incoming], uow: UnitOfWork) -> None:
        prepare: Any = getattr(self.handler, "prepare", None)
        if prepare is not None:
            prepare(batch, uow)

    def refuse(self, payload: object) -> str | None:
        """The handler's own refusal of a valid payload for good (a fact dated after today), if any."""
        refuse: Any = getattr(self.handler, "refuse", None)
        return None if refuse is None else refuse(payload)

    def __call__(self, incoming: Incoming, uow: UnitOfWork) -> None:
        self.handler(incoming, uow)
        ledger = uow.find(Ledger.create_id(incoming.stream), Ledger)
        if ledger is None:
            ledger = Ledger(incoming.stream)
            uow.add(ledger)
        ledger.saw(incoming.stream_sequence)


def witnessed(consumes: Sequence[Consumes]) -> tuple[Consumes, ...]:
    return tuple(
        Consumes(c.stream, {kind: Witnessed(handler) for kind, handler in c.handlers.items()})
        for c in consumes
    )


def seen(app: ServiceApplication, stream: str) -> Mapping[int, int]:
    """How many times each sequence of `stream` had its effects committed."""
    try:
        ledger: Ledger = app.repository.get(Ledger.create_id(stream))
    except AggregateNotFoundError:
        return {}
    counts: dict[int, int] = {}
    for sequence in ledger.sequences:
        counts[sequence] = counts.get(sequence, 0) + 1
    return counts
