"""Operators' cross-region sweep orders: "ask the neighbour cities again about every household of this
region / estate". An order is kept (an event, with who and why), not executed on the spot: the
periodic sweep, which runs in one replica under a lease, asks the households it covers at its own
pace, so an order for a whole region never floods the peers and any replica can take it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.kit.clock import Aggregate

NAMESPACE = UUID("8a1b6f3e-2c7d-4e59-b0a4-6d3f1e9c2b75")


class SweepOrders(Aggregate):
    """The one register of sweep orders (a handful a year: the whole list is kept in state)."""

    class Opened(Aggregate.Created):
        pass

    class Ordered(Aggregate.Event):
        region: str | None
        estate: str | None
        ordered_at: datetime
        by: str
        reason: str

    @staticmethod
    def create_id() -> UUID:
        return uuid5(NAMESPACE, "cross-region-sweep-orders")

    @event(Opened)
    def __init__(self) -> None:
        self.orders: tuple[dict[str, Any], ...] = ()

    @event(Ordered)
    def order(
        self, region: str | None, estate: str | None, ordered_at: datetime, by: str, reason: str
    ) -> None:
        entry = {"region": region, "estate": estate, "ordered_at": ordered_at, "by": by, "reason": reason}
        self.orders = (*self.orders, entry)
