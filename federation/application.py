"""Federation's Application: the event store every exchange is recorded in, and its use cases' writes.

The HTTP layer and the outbound worker call these methods; inbox handlers write through the unit of
work instead (`federation.handlers`). Writes to one check are serialised in-process: peers conclude in
parallel and would otherwise race on the aggregate's version.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from federation.domain import CrossRegionCheck, HouseholdSubjects, InboundExchange, InboundRejection
from federation.settings import FederationSettings
from services.kit.store import ServiceApplication


class FederationApp(ServiceApplication):
    name = "Federation"

    def __init__(self, settings: FederationSettings, env: dict[str, str] | None = None) -> None:
        super().__init__(settings, env)
        self.federation = settings
        self._check_lock = threading.Lock()

    def record_exchange(self, exchange: InboundExchange) -> bool:
        """Store an answered exchange; False when its (city, nonce) was seen before: a replay."""
        try:
            self.save(exchange)
        except IntegrityError:
            return False
        return True

    def record_rejection(
        self, claimed_city: str | None, status: int, reason: str, request: dict[str, Any]
    ) -> UUID:
        rejection = InboundRejection(claimed_city, status, reason, request, datetime.now(UTC))
        self.save(rejection)
        return rejection.id

    def record_subjects(self, household_id: UUID, subjects: list[dict[str, str]]) -> None:
        try:
            register: HouseholdSubjects = self.repository.get(HouseholdSubjects.create_id(household_id))
        except AggregateNotFoundError:
            register = HouseholdSubjects(household_id)
        register.record(subjects)
        self.save(register)

    def check(self, check_id: UUID) -> CrossRegionCheck | None:
        try:
            check: CrossRegionCheck = self.repository.get(CrossRegionCheck.create_id(check_id))
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
    ) -> None:
        """Record one peer's verdict (with its raw exchanges) once; a second verdict is ignored."""
        with self._check_lock:
            check = self.check(check_id)
            if check is None or city not in check.pending_cities:
                return
            check.conclude(
                check.check_id,
                check.household_id,
                city,
                result,
                categories,
                reason,
                query_ids,
                exchanges,
                datetime.now(UTC),
            )
            self.save(check)
