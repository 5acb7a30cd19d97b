"""The core of penalties' Application: state, policy, running a command, dating a step, the views.

Every command works on a `UnitOfWork`: the inbox hands one in (committed with its tracking record),
HTTP commands get one from `run`, which commits it and retries on a version conflict. No command takes
a lock: concurrency is the store's business (optimistic versions, and for the one-time subsidy a
deterministic aggregate id whose second creation the store refuses).

When a step happens (`dated`): today, the city's date by the injected clock; a caller may only say it
happened earlier, within `late_recording_days`, never before what it depends on, and with a reason
(`services.kit.dating`). Every period a household is given (a notice's deadline, an appeal window, a
credit-list entry's length) counts from the day the step is recorded, so a late recording can only
lengthen it, never shorten it.

The views the list endpoints read (`catch_up`) are folds of this application's notification log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from services.kit.clock import Clock
from services.kit.dating import Dated, happened
from services.kit.paging import instant
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork, run_in_unit_of_work
from services.kit.views import Tail
from services.penalties.domain import RuleError, Sanction, Tenancy
from services.penalties.parameters import ParameterTable, Policy, load
from services.penalties.settings import PenaltiesSettings

T = TypeVar("T")
Sees = Callable[[object], bool]
"""Whether the caller may see an object of an estate (`Caller.sees_estate`)."""

MAX_STATEMENT_MONTHS = 120
MAX_RECORDED_FAILURES = 5
"""Failed deliveries recorded on a notice; later ones (a webhook down for days) are only logged."""


class NotFound(LookupError):
    """The named household, sanction, appeal or notice is unknown here (HTTP 404)."""


class OutsideWindow(RuleError):
    """An appeal lodged outside its window (HTTP 422)."""


@dataclass
class SanctionView:
    sanction_id: UUID
    household_id: UUID
    estate: str
    kind: str
    violation: str
    state: str
    imposed_at: str = ""
    """When it was imposed (`paging.instant`): its place in the list, which never changes."""
    suspended: bool = False


def recorded_view(stamped: dict[str, Any]) -> dict[str, Any]:
    """A step's day as the API shows it: when it happened, when it was recorded, late or not, why."""
    return {
        "on": stamped["on"].isoformat(),
        "recorded_on": stamped["recorded_on"].isoformat(),
        "recorded_late": stamped["on"] < stamped["recorded_on"],
        "late_reason": stamped["late_reason"] or None,
    }


class PenaltiesCore(ServiceApplication):
    def __init__(
        self,
        settings: PenaltiesSettings,
        env: dict[str, str] | None = None,
        table: ParameterTable | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, env, clock)
        self.config = settings
        self.table = table or load()
        self.lock = threading.RLock()
        self._seen = 0
        self._tail = Tail(self)
        self.conflicts = 0
        """Commands run again after a version conflict (for tests and curiosity)."""
        self.estates: dict[UUID, str] = {}
        self.transitions: dict[UUID, dict[str, Any]] = {}
        self.sanctions: dict[UUID, SanctionView] = {}
        self.appeals: dict[UUID, dict[str, Any]] = {}
        self.pending_notices: dict[UUID, int] = {}
        self.notices_issued = 0
        self.notices_delivered = 0
        self.subsidies: dict[UUID, Decimal] = {}
        self.exits: dict[str, int] = {}

    # -- time and policy -------------------------------------------------------------------------------

    def policy(self, tenancy: Tenancy | None, on: date) -> Policy:
        region = tenancy.region if tenancy is not None else self.config.default_region
        return self.table.policy(region, on)

    def dated(
        self,
        tenancy: Tenancy,
        requested: date | None,
        reason_late: str | None,
        not_before: date,
        depends_on: str,
    ) -> Dated:
        """The day a step on `tenancy` happened: today, or a day named by the caller within the
        region's `late_recording_days`, never before `not_before` (`DateRefused`, HTTP 422)."""
        today = self.today()
        return happened(
            requested,
            today,
            window_days=self.policy(tenancy, today).late_recording_days,
            not_before=not_before,
            depends_on=depends_on,
            reason=reason_late,
        )

    # -- running a command -----------------------------------------------------------------------------

    def run(self, command: Callable[[UnitOfWork], T], attempts: int = 5) -> T:
        """Run `command` as one unit of work, again on fresh state after a version conflict (the kit's
        `run_in_unit_of_work`), then bring the views up to date."""
        result = run_in_unit_of_work(self, command, attempts=attempts, on_conflict=self._conflicted)
        self.catch_up()
        return result

    def _conflicted(self) -> None:
        self.conflicts += 1

    def tenancy(self, uow: UnitOfWork, household_id: UUID) -> Tenancy:
        tenancy = uow.find(Tenancy.create_id(household_id), Tenancy)
        if tenancy is None:
            raise NotFound(f"household {household_id} is not registered with penalties")
        return tenancy

    def sanction(self, uow: UnitOfWork, sanction_id: UUID) -> Sanction:
        sanction = uow.find(sanction_id, Sanction)
        if sanction is None:
            raise NotFound(f"sanction {sanction_id} does not exist")
        return sanction

    # -- views -----------------------------------------------------------------------------------------

    def catch_up(self) -> None:
        with self.lock:
            self._seen = self._tail.follow(self._seen, self._apply)

    def _apply(self, e: Any) -> None:
        kind = type(e).__qualname__
        if kind == "Tenancy.Registered":
            self.estates[e.originator_id] = e.estate
        elif kind == "Tenancy.TransitionStarted":
            self.transitions[e.originator_id] = {
                "transition_id": e.transition_id,
                "state": "active",
                "route": e.route,
                "due": e.exit_due_on,
                "started_at": instant(e.timestamp),
            }
        elif kind == "Tenancy.TransitionClosed":
            self.transitions[e.originator_id]["state"] = e.how
        elif kind == "Tenancy.ExitCompleted":
            self.exits[e.how] = self.exits.get(e.how, 0) + 1
        elif kind == "Sanction.Imposed":
            awaiting = getattr(e, "awaiting_entry", False)
            self.sanctions[e.originator_id] = SanctionView(
                e.originator_id,
                e.household_id,
                e.estate,
                e.kind,
                e.violation,
                "issued" if e.kind == "repossession" else "proposed" if awaiting else "active",
                instant(e.timestamp),
            )
        elif kind == "Sanction.Entered":
            self.sanctions[e.originator_id].state = "active"
        elif kind == "Sanction.Changed":
            view = self.sanctions[e.originator_id]
            if e.state == "suspended":
                view.suspended = True
            elif e.state == "resumed":
                view.suspended = False
            else:
                view.state = e.state
        elif kind == "Appeal.Lodged":
            self.appeals[e.originator_id] = {
                "household_id": e.household_id,
                "sanction_id": e.sanction_id,
                "state": "open",
                "estate": e.estate,
                "lodged_at": instant(e.timestamp),
            }
        elif kind == "Appeal.Resolved":
            self.appeals[e.originator_id]["state"] = e.outcome
        elif kind == "Notice.Issued":
            self.pending_notices[e.originator_id] = 0
            self.notices_issued += 1
        elif kind == "Notice.Delivered":
            self.pending_notices.pop(e.originator_id, None)
            self.notices_delivered += 1
        elif kind == "Subsidy.Awarded":
            self.subsidies[e.household_id] = e.amount
