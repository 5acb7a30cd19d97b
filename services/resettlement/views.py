"""The placements read model: every pool unit and placement case, as of the latest stored event.

It follows this service's notification log (whoever wrote: this process's HTTP commands, its inbox,
another replica on the same store) and applies each unit and case event to an in-memory copy of the
aggregate. It catches up before every query and before every allocation, so a replica sees what the
others committed; it can be dropped at any time and rebuilt from the log. It never decides alone
whether a unit is free: allocation re-reads the unit aggregate and the store's version check has the
last word.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.utils import get_topic

from services.kit.views import Tail
from services.resettlement.domain import POOLS, UNIT_STATES, PlacementCase, Unit

if TYPE_CHECKING:
    from services.kit.store import ServiceApplication

BATCH = 2000
_TRACKED = (Unit, PlacementCase)


def _event_topics() -> list[str]:
    topics = []
    for kind in _TRACKED:
        for name in dir(kind):
            attribute = getattr(kind, name)
            if isinstance(attribute, type) and issubclass(attribute, kind.Event):
                topics.append(get_topic(attribute))
    return sorted(set(topics))


class Placements:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self.position = 0
        self.units: dict[UUID, Unit] = {}
        self.cases: dict[UUID, PlacementCase] = {}
        self.by_household: dict[UUID, UUID] = {}
        self.lock = threading.RLock()
        self._tail = Tail(app, _event_topics())

    def catch_up(self) -> None:
        with self.lock:
            self.position = self._tail.follow(self.position, self._apply, batch=BATCH)

    def _apply(self, domain_event: Any) -> None:
        originator = domain_event.originator_id
        if originator in self.units:
            domain_event.mutate(self.units[originator])
        elif originator in self.cases:
            domain_event.mutate(self.cases[originator])
        else:
            aggregate = domain_event.mutate(None)
            if isinstance(aggregate, Unit):
                self.units[originator] = aggregate
            elif isinstance(aggregate, PlacementCase):
                self.cases[originator] = aggregate
                self.by_household[aggregate.household_id] = originator

    # -- what allocation reads (fresh) -------------------------------------------------------------

    def free_units(self, pool: str) -> list[UUID]:
        self.catch_up()
        with self.lock:
            return [u.id for u in self.units.values() if u.pool == pool and u.state == "free"]

    def waitlist(self, pool: str) -> list[PlacementCase]:
        """Waiting cases of `pool` in priority order (the aggregates themselves: read, never change)."""
        self.catch_up()
        with self.lock:
            waiting = [c for c in self.cases.values() if c.pool == pool and c.state == "waitlisted"]
            return sorted(waiting, key=lambda c: c.priority)

    def offers_due(self, as_of: Any) -> list[UUID]:
        """Cases whose offer's last day is before `as_of`."""
        self.catch_up()
        with self.lock:
            return [
                c.id
                for c in self.cases.values()
                if c.state == "offered" and c.respond_by is not None and c.respond_by < as_of
            ]

    # -- one object by id (the gateway's object-level check; never a whole list) --------------------

    def unit(self, unit_id: UUID) -> Unit | None:
        self.catch_up()
        with self.lock:
            return self.units.get(unit_id)

    def case(self, case_id: UUID) -> PlacementCase | None:
        self.catch_up()
        with self.lock:
            return self.cases.get(case_id)

    # -- counts -------------------------------------------------------------------------------------

    def occupancy(self) -> dict[str, dict[str, int]]:
        self.catch_up()
        with self.lock:
            counts = {pool: dict.fromkeys(UNIT_STATES, 0) for pool in POOLS}
            for unit in self.units.values():
                counts[unit.pool][unit.state] += 1
            return counts

    def case_counts(self) -> tuple[Counter[str], Counter[str], int, int, int]:
        """Cases by state, by class, purchase-guidance records, loan discounts, households placed
        (moved in, or closed after moving in)."""
        self.catch_up()
        with self.lock:
            by_state = Counter(c.state for c in self.cases.values())
            by_class = Counter(c.placement_class for c in self.cases.values())
            purchase = sum(1 for c in self.cases.values() if "purchase" in c.guidance)
            loans = sum(1 for c in self.cases.values() if c.loan_discount_pp is not None)
            placed = sum(1 for c in self.cases.values() if c.state == "moved_in" or c.outcome == "placed")
            return by_state, by_class, purchase, loans, placed
