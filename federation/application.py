"""Federation's Application: the event store every exchange is recorded in, and its use cases' writes.

The HTTP layer and the outbound worker call these methods; inbox handlers write through the unit of
work instead (`federation.handlers`). Writes to one check are serialised in-process: peers conclude in
parallel and would otherwise race on the aggregate's version.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from federation.domain import CrossRegionCheck, HouseholdSubjects, InboundExchange
from federation.settings import FederationSettings
from services.kit.clock import Clock
from services.kit.store import ServiceApplication

WRITE_ATTEMPTS = 5


class FederationApp(ServiceApplication):
    name = "Federation"

    def __init__(
        self, settings: FederationSettings, env: dict[str, str] | None = None, clock: Clock | None = None
    ) -> None:
        """`clock` (default: the process's) is what "now" is for every part of the city's federation:
        signatures made and checked, key windows, answers' `as_of`, verdicts, refusals."""
        super().__init__(settings, env, clock)
        self.federation = settings
        self._check_lock = threading.Lock()

    def record_exchange(self, exchange: InboundExchange) -> bool:
        """Store an answered exchange; False when its (city, nonce) was seen before: a replay."""
        return self.record_exchanges([exchange])[0]

    def record_exchanges(self, exchanges: list[InboundExchange]) -> list[bool]:
        """Store exchanges in one transaction; per exchange, False when it is a replay. A duplicate
        (city, nonce) fails the whole transaction, which is then retried one exchange at a time.
        Events are stored without passing through the aggregate cache (an exchange is never read
        back as an aggregate)."""
        pending = [exchange.collect_events() for exchange in exchanges]
        try:
            self._store([event for events in pending for event in events])
        except IntegrityError:
            if len(pending) == 1:
                return [False]
        else:
            return [True] * len(pending)
        stored = []
        for events in pending:
            try:
                self._store(events)
            except IntegrityError:
                stored.append(False)
            else:
                stored.append(True)
        return stored

    def evict_id(self, aggregate_id: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def _store(self, events: Sequence[Any]) -> None:
        processing_event: ProcessingEvent[UUID] = ProcessingEvent(None)
        processing_event.events.extend(events)
        self._notify(self._record(processing_event))

    def record_subjects(self, household_id: UUID, subjects: list[dict[str, str]]) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                register: HouseholdSubjects = self.repository.get(HouseholdSubjects.create_id(household_id))
            except AggregateNotFoundError:
                register = HouseholdSubjects(household_id)
            register.record(subjects)
            try:
                self.save(register)
                return
            except IntegrityError:  # another replica wrote it meanwhile (the cache entry is evicted)
                if attempt + 1 == WRITE_ATTEMPTS:
                    raise

    def check(self, check_id: UUID, *, fresh: bool = False) -> CrossRegionCheck | None:
        """A check; `fresh` reads it from the store, not the cache (another replica may have written)."""
        aggregate_id = CrossRegionCheck.create_id(check_id)
        if fresh:
            self.evict_id(aggregate_id)
        try:
            check: CrossRegionCheck = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return check

    def conclude(
        self,
        check_id: UUID,
        city: str,
        result: str,
        categories: dict[str, bool | None],
        reason: str | None,
        query_ids: list[str],
        exchanges: list[dict[str, Any]],
    ) -> bool:
        """Record one peer's verdict (with its raw exchanges) once; a second verdict is ignored, also
        one from another replica: its save fails on the check's version, the check is read again from
        the store and the city is found concluded. True when this call recorded the verdict."""
        with self._check_lock:
            for attempt in range(WRITE_ATTEMPTS):
                check = self.check(check_id, fresh=attempt > 0)
                if check is None or city not in check.pending_cities:
                    return False
                check.conclude(
                    check.check_id,
                    check.household_id,
                    city,
                    result,
                    categories,
                    reason,
                    query_ids,
                    exchanges,
                    self.clock(),
                )
                try:
                    self.save(check)
                    return True
                except IntegrityError:
                    if attempt + 1 == WRITE_ATTEMPTS:
                        raise
            return False  # pragma: no cover
