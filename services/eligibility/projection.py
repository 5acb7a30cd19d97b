"""The population read model: every household, review case and record request, as of the latest
stored event.

Queries across households (case lists, reviewer reports, what-if over 38,600 households) cannot load
aggregates one by one from the store. This projection follows the notification log from its own
position and applies each household and case event to an in-memory copy of the aggregate (those this
process stored as they were committed, without reading them back: `services.kit.views.Tail`). It can be
dropped at any time: a new one rebuilds from the log. It catches up before every query, so it sees
what any writer (HTTP, inbox, another process) has committed.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from uuid import UUID

from services.eligibility import rules
from services.eligibility.coordination import CoordinationProblem
from services.eligibility.domain import Household, ReviewCase
from services.eligibility.record_request import RecordRequest
from services.kit.views import Tail

if TYPE_CHECKING:
    from services.kit.store import ServiceApplication

log = logging.getLogger(__name__)
BATCH = 2000
_TRACKED = (Household, ReviewCase, RecordRequest, CoordinationProblem)


class Population:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self.position = 0
        self.households: dict[UUID, Household] = {}
        self.cases: dict[UUID, ReviewCase] = {}
        self.requests: dict[UUID, RecordRequest] = {}
        self.requests_by_case: dict[UUID, list[UUID]] = {}
        self.problems: dict[UUID, CoordinationProblem] = {}
        self._snapshots: dict[UUID, tuple[int, rules.Snapshot]] = {}
        self._outcomes: dict[UUID, tuple[int, rules.InForce, str]] = {}
        self._lock = threading.Lock()
        self._changed: set[UUID] = set()
        self._tail = Tail(app, self._event_topics())

    def _event_topics(self) -> list[str]:
        from eventsourcing.utils import get_topic

        topics = []
        for kind in _TRACKED:
            for name in dir(kind):
                attribute = getattr(kind, name)
                if isinstance(attribute, type) and issubclass(attribute, kind.Event):
                    topics.append(get_topic(attribute))
        return sorted(set(topics))

    def catch_up(self) -> None:
        """Apply what was stored since the last call; then bring the rule inputs of the households
        that changed up to date, so that a query finds them ready."""
        with self._lock:
            self._catch_up()
            changed, self._changed = self._changed, set()
            for household_id in changed:
                self.snapshot(self.households[household_id])

    def catch_up_in_background(self) -> threading.Thread:
        """Catch up on a thread (at start: a fresh process's first query would wait for the whole log)."""
        thread = threading.Thread(target=self._catch_up_logged, name="population-catch-up", daemon=True)
        thread.start()
        return thread

    def keep_up(self, interval_s: float = 1.0) -> threading.Thread:
        """Catch up every `interval_s` on a thread of its own, for the life of the process: a bulk
        registration stores hundreds of thousands of events, and a list asked right after it would
        otherwise apply them all inside its request (past the gateway's deadline)."""

        never = threading.Event()  # nothing stops it but the process's end (a daemon thread)

        def run() -> None:
            while True:
                self._catch_up_logged()
                never.wait(interval_s)

        thread = threading.Thread(target=run, name="population-keep-up", daemon=True)
        thread.start()
        return thread

    def _catch_up_logged(self) -> None:
        try:
            self.catch_up()
        except Exception:  # the next query catches up again, and reports what goes wrong
            log.exception("population read model: background catch-up failed")

    def _catch_up(self) -> None:
        self.position = self._tail.follow(self.position, self._apply, batch=BATCH)

    def _apply(self, domain_event: Any) -> None:
        originator = domain_event.originator_id
        if originator in self.households:
            domain_event.mutate(self.households[originator])
            self._changed.add(originator)
        elif originator in self.cases:
            domain_event.mutate(self.cases[originator])
        elif originator in self.requests:
            domain_event.mutate(self.requests[originator])
        elif originator in self.problems:
            domain_event.mutate(self.problems[originator])
        else:
            aggregate = domain_event.mutate(None)
            if isinstance(aggregate, Household):
                self.households[originator] = aggregate
                self._changed.add(originator)
            elif isinstance(aggregate, ReviewCase):
                self.cases[originator] = aggregate
            elif isinstance(aggregate, RecordRequest):
                self.requests[originator] = aggregate
                if aggregate.case_id is not None:
                    self.requests_by_case.setdefault(aggregate.case_id, []).append(originator)
            elif isinstance(aggregate, CoordinationProblem):
                self.problems[originator] = aggregate

    def snapshot(self, household: Household) -> rules.Snapshot:
        """The household's rule inputs, built once per version (what-if evaluates them twice; catch-up
        builds those of changed households)."""
        cached = self._snapshots.get(household.id)
        if cached is not None and cached[0] == household.version:
            return cached[1]
        snapshot = household.snapshot()
        self._snapshots[household.id] = (household.version, snapshot)
        return snapshot

    def outcome(self, household: Household, snapshot: rules.Snapshot, parameters: rules.InForce) -> str:
        """The outcome under the parameters in force, remembered per household version: repeated what-if
        calls against the same table and date only evaluate the candidate."""
        cached = self._outcomes.get(household.id)
        if cached is not None and cached[0] == household.version and cached[1] == parameters:
            return cached[2]
        outcome = rules.outcome(snapshot, parameters)
        self._outcomes[household.id] = (household.version, parameters, outcome)
        return outcome
