"""Federation's Application: the event store every exchange is recorded in, and its use cases' writes.

The HTTP layer and the outbound worker call these methods; inbox handlers write through the unit of
work instead (`federation.handlers`). Writes to one check are serialised in-process: peers conclude in
parallel and would otherwise race on the aggregate's version.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from federation.domain import BatchExchange, CrossRegionCheck, InboundExchange
from federation.settings import FederationSettings
from services.kit.clock import Clock
from services.kit.store import ServiceApplication

WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class Verdict:
    """One peer's verdict on one check, as `FederationApp.conclude_batch` records it."""

    check_id: UUID
    city: str
    result: str
    categories: dict[str, bool | None]
    reason: str | None
    query_ids: list[str]
    exchanges: list[dict[str, Any]]


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

    def conclude_batch(self, exchange: BatchExchange | None, verdicts: Sequence[Verdict]) -> list[bool]:
        """Record an outbound batch's exchange and the verdicts of its checks in one transaction (one
        commit for the households of a batch, not one each); per verdict, True when this call recorded
        it. A city already concluded (a verdict recorded before, by this replica or another) is passed
        over. When the transaction fails on a check's version (another replica concluded it meanwhile),
        the exchange is stored on its own and then each verdict as `conclude` records it: a verdict
        never names a batch that is not stored."""
        exchange_events = list(exchange.collect_events()) if exchange is not None else []
        with self._check_lock:
            processing: ProcessingEvent[UUID] = ProcessingEvent(None)
            processing.events.extend(exchange_events)
            touched: dict[UUID, CrossRegionCheck] = {}
            recorded = []
            for verdict in verdicts:
                check = touched.get(verdict.check_id) or self.check(verdict.check_id)
                if check is None or verdict.city not in check.pending_cities:
                    recorded.append(False)
                    continue
                check.conclude(
                    check.check_id,
                    check.household_id,
                    verdict.city,
                    verdict.result,
                    verdict.categories,
                    verdict.reason,
                    verdict.query_ids,
                    verdict.exchanges,
                    self.clock(),
                )
                touched[verdict.check_id] = check
                recorded.append(True)
            processing.collect_events(*touched.values())
            if not processing.events:
                return recorded
            try:
                self._notify(self._record(processing))
                return recorded
            except IntegrityError:
                self.evict(touched.values())
        if exchange_events:
            self._store(exchange_events)  # a fresh batch id: only a check's version can conflict
        return [
            self.conclude(v.check_id, v.city, v.result, v.categories, v.reason, v.query_ids, v.exchanges)
            for v in verdicts
        ]
