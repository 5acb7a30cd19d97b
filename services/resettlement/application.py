"""The Resettlement application: classification, pools, placement cases, and their queries.

Every command runs in a `UnitOfWork` and stores all it changed (case, unit, household) in one
transaction. No command takes an in-process lock: several replicas (processes, or application objects
in one process) may run the same commands on the same store at once, and the only thing that keeps a
unit from going to two households is the store itself. An offer appends an event to the unit at its
next version; a writer whose copy of the unit (or of the case) was stale is refused with an
`IntegrityError`, the kit evicts the stale copy from its cache, and the command runs again from fresh
state, trying the next free unit. The same holds for the inbox: its batch is handled again.

After a command frees a unit (declined, expired, withdrawn, vacated, back in service) the same
transaction offers it to the first waiting case in priority order. `drain` pairs whatever free units
and waiting cases remain (after pools are loaded, periodically, and after a case joins the waitlist),
which also covers a race in which a case was waitlisted while another replica freed a unit.
"""

from __future__ import annotations

import csv
import logging
import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import yaml

from contracts.eligibility import (
    AppealResolved,
    ExitDecided,
    HouseholdMembersChanged,
    HouseholdRegistered,
    Member,
)
from contracts.penalties import ExitCompleted
from services.kit.clock import Clock
from services.kit.dating import happened
from services.kit.paging import Page, paginate, time_key
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork, run_in_unit_of_work
from services.resettlement.domain import (
    ACTIVE_STATES,
    POOLS,
    Household,
    PlacementCase,
    PolicyBook,
    TransitionError,
    Unit,
    classify,
    describe_priority,
    load_policy,
    respond_by,
)
from services.resettlement.settings import ResettlementSettings
from services.resettlement.views import Placements

log = logging.getLogger(__name__)
T = TypeVar("T")
LOAD_CHUNK = 100
UNKNOWN_ESTATE = "unknown"


class NotFound(LookupError):
    """No such case, unit or household here."""


class Refused(ValueError):
    """The step is not possible yet (e.g. moving in before the subsidised flat was handed back)."""


@dataclass(frozen=True)
class UnitSpec:
    pool: str
    estate: str
    building: str
    unit: str
    area_m2: Decimal | None = None


def member_records(members: Sequence[Member]) -> list[dict[str, Any]]:
    return [{"member_id": m.member_id, "birth_date": m.birth_date, "disabled": m.disabled} for m in members]


def read_pools_file(path: Path) -> list[UnitSpec]:
    """Units from a CSV (`pool,estate,building,unit,area_m2`) or YAML (`pools: {pool: [unit, ...]}`)."""
    rows: list[dict[str, Any]]
    if path.suffix.lower() in (".yaml", ".yml"):
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        rows = [{**unit, "pool": pool} for pool, units in raw["pools"].items() for unit in units]
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [row for row in csv.DictReader(line for line in handle if not line.startswith("#"))]
    specs = []
    for row in rows:
        pool = str(row["pool"]).strip()
        if pool not in POOLS:
            raise ValueError(f"{path}: unknown pool {pool!r} (one of {', '.join(POOLS)})")
        area = row.get("area_m2")
        specs.append(
            UnitSpec(
                pool,
                str(row["estate"]).strip(),
                str(row["building"]).strip(),
                str(row["unit"]).strip(),
                None if area in (None, "") else Decimal(str(area)),
            )
        )
    return specs


FASTFORWARD_KEYS = ("AGGREGATE_CACHE_FASTFORWARD", "RESETTLEMENT_AGGREGATE_CACHE_FASTFORWARD")


def with_fastforward(env: dict[str, str] | None) -> dict[str, str]:
    """Replicas must read each other's writes: a case offered by one replica is accepted on another,
    a unit freed by one is offered by another. The kit's default cache serves what this process saw
    last (right for a single writer); here each read from the cache also fetches newer events, unless
    the deployment says otherwise."""
    env = dict(env or {})
    if not any(key in env or key in os.environ for key in FASTFORWARD_KEYS):
        env["AGGREGATE_CACHE_FASTFORWARD"] = "y"
    return env


class ResettlementApp(ServiceApplication):
    name = "Resettlement"

    def __init__(
        self,
        settings: ResettlementSettings,
        env: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = settings
        self.policies: PolicyBook = load_policy(settings.resettlement_parameters_file)
        super().__init__(settings, with_fastforward(env), clock)
        self.view = Placements(self)
        self.conflicts = 0
        """Commits refused by the store's version check (a race lost to another writer), then redone."""

    # -- running commands ----------------------------------------------------------------------------

    def _in_uow(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run `work` in a unit of work and commit it; on a lost race, run it again on fresh state."""
        return run_in_unit_of_work(
            self, work, attempts=self.config.conflict_retries, on_conflict=self._conflicted
        )

    def _conflicted(self) -> None:
        self.conflicts += 1

    def _case(self, uow: UnitOfWork, case_id: UUID) -> PlacementCase:
        case = uow.find(case_id, PlacementCase)
        if case is None:
            raise NotFound(f"placement case {case_id} does not exist")
        return case

    def _unit(self, uow: UnitOfWork, unit_id: UUID) -> Unit:
        unit = uow.find(unit_id, Unit)
        if unit is None:
            raise NotFound(f"unit {unit_id} does not exist")
        return unit

    # -- offers: the only places a unit changes hands ------------------------------------------------

    def _make_offer(self, case: PlacementCase, unit: Unit, today: date) -> None:
        deadline = respond_by(today, self.policies.in_force(today))
        unit.offer(case.id, case.household_id, today, deadline)
        case.offer(unit, today, deadline)

    def _offer_free_unit(self, uow: UnitOfWork, case: PlacementCase, today: date) -> bool:
        """Offer `case` a free unit of its pool, trying them in random order (replicas racing for units
        then rarely pick the same one); False when none is free."""
        assert case.pool is not None
        candidates = self.view.free_units(case.pool)
        random.shuffle(candidates)
        for unit_id in candidates:
            if unit_id in case.declined_units:
                continue
            unit = uow.get(unit_id, Unit)
            if unit.state != "free":
                continue  # taken since the view last looked: next one
            self._make_offer(case, unit, today)
            return True
        return False

    def _offer_to_waitlist(self, uow: UnitOfWork, unit: Unit, today: date) -> UUID | None:
        """Offer a unit that just became free to the first waiting case (priority order) that has not
        declined it; None if nobody waits."""
        if unit.state != "free":
            return None
        for waiting in self.view.waitlist(unit.pool):
            case = uow.get(waiting.id, PlacementCase)
            if case.state != "waitlisted" or unit.id in case.declined_units:
                continue
            self._make_offer(case, unit, today)
            return case.id
        return None

    def _place_or_waitlist(self, uow: UnitOfWork, case: PlacementCase, today: date) -> None:
        if not self._offer_free_unit(uow, case, today):
            case.waitlist(today)

    def _rejoin_or_close(self, uow: UnitOfWork, case: PlacementCase, today: date) -> None:
        """After a declined or expired offer: back on the waitlist, or closed once `max_offers` offers
        were lost (with market-rental guidance)."""
        policy = self.policies.in_force(today)
        if case.declines >= policy.max_offers:
            case.give_guidance("market_rental", today)
            case.close("offers_exhausted", today, None)
        else:
            case.waitlist(today)

    def _release_and_pass_on(
        self, uow: UnitOfWork, case_id: UUID, unit_id: UUID, reason: str, today: date
    ) -> None:
        unit = uow.get(unit_id, Unit)
        unit.release(case_id, reason, today)
        self._offer_to_waitlist(uow, unit, today)

    # -- integration events in (the inbox's unit of work) --------------------------------------------

    def on_household_registered(self, uow: UnitOfWork, payload: HouseholdRegistered) -> None:
        members = member_records(payload.members)
        household = uow.find(payload.household_id, Household)
        if household is None:
            uow.add(Household(household_id=payload.household_id, estate=payload.estate, members=members))
        elif household.estate != payload.estate or household.members != members:
            household.update(payload.estate, members)

    def on_members_changed(self, uow: UnitOfWork, payload: HouseholdMembersChanged) -> bool:
        household = uow.find(payload.household_id, Household)
        if household is None:
            return False
        members = member_records(payload.members)
        if household.members != members:
            household.change_members(members)
        return True

    def on_exit_decided(self, uow: UnitOfWork, payload: ExitDecided) -> PlacementCase:
        """Classify the household and start its placement; a case already open is left as it is (a
        redelivery, or an appeal that changed only the route)."""
        today = self.today()
        household = uow.find(payload.household_id, Household)
        estate = household.estate if household is not None else UNKNOWN_ESTATE
        policy = self.policies.in_force(payload.decided_on)
        found = classify(
            low_income=payload.low_income,
            wants_to_buy=payload.wants_to_buy,
            members=household.members if household is not None else None,
            decided_on=payload.decided_on,
            policy=policy,
        )
        case = uow.find(PlacementCase.create_id(payload.household_id), PlacementCase)
        if case is not None and case.state != "withdrawn":
            return case
        if case is not None:
            case.reclassify(found, estate, payload.low_income, payload.route, payload.decided_on, today)
        else:
            case = PlacementCase(
                household_id=payload.household_id,
                estate=estate,
                placement_class=found.placement_class,
                pool=found.pool,
                reasons=list(found.reasons),
                vulnerable=found.vulnerable,
                low_income=payload.low_income,
                route=payload.route,
                decided_on=payload.decided_on,
                classified_on=today,
            )
            uow.add(case)
        if found.placement_class == "purchase":
            case.give_guidance("purchase", today)
            case.grant_loan_discount(policy.loan_rate_discount_pp, today)
        if found.placement_class == "market_rental":
            case.give_guidance("market_rental", today)
            if household is not None and household.exit_completed_on is not None:
                case.close("guided", today, None)
        if case.pool is not None:
            self._place_or_waitlist(uow, case, today)
        return case

    def on_appeal_resolved(self, uow: UnitOfWork, payload: AppealResolved) -> bool:
        """An appeal that overturned the exit (the household keeps its flat: outcome `retain`) withdraws
        the case and frees its unit. An appeal that only changed the route leaves the placement be."""
        if not (payload.overturned and payload.outcome == "retain"):
            return False
        case = uow.find(PlacementCase.create_id(payload.household_id), PlacementCase)
        if case is None or case.state not in ACTIVE_STATES:
            return False
        self._withdraw(uow, case, "appeal overturned the exit decision", self.today(), None)
        return True

    def on_exit_completed(self, uow: UnitOfWork, payload: ExitCompleted) -> None:
        """The household has handed its subsidised flat back: a transitional move-in may now happen; a
        market-rental case has nothing left to wait for."""
        household = uow.find(payload.household_id, Household)
        if household is None:
            household = Household(household_id=payload.household_id, estate=payload.estate, members=None)
            uow.add(household)
        if household.exit_completed_on is None:
            household.exit_completed(payload.completed_on, payload.how)
        case = uow.find(PlacementCase.create_id(payload.household_id), PlacementCase)
        if case is not None and case.state == "guided":
            case.close("guided", self.today(), None)

    def _withdraw(
        self, uow: UnitOfWork, case: PlacementCase, reason: str, today: date, by: str | None
    ) -> None:
        unit_id = case.unit_id if case.state in ("offered", "accepted") else None
        case.withdraw(reason, today, by)
        if unit_id is not None:
            self._release_and_pass_on(uow, case.id, unit_id, "case withdrawn", today)

    # -- commands (HTTP, the periodic sweep, tests) ---------------------------------------------------

    def exit_decided(self, payload: ExitDecided) -> UUID:
        """`on_exit_decided` in a transaction of its own (the inbox path batches it instead)."""
        case_id = self._in_uow(lambda uow: self.on_exit_decided(uow, payload).id)
        self.drain()
        return case_id

    def accept(self, case_id: UUID, by: str) -> None:
        def work(uow: UnitOfWork) -> None:
            today = self.today()
            case = self._case(uow, case_id)
            case.accept(today, by)
            assert case.unit_id is not None
            uow.get(case.unit_id, Unit).hold(case.id, today)

        self._in_uow(work)

    def decline(self, case_id: UUID, by: str, reason: str) -> None:
        def work(uow: UnitOfWork) -> None:
            today = self.today()
            case = self._case(uow, case_id)
            unit_id = case.unit_id
            case.decline(today, by, reason)
            assert unit_id is not None
            self._rejoin_or_close(uow, case, today)
            self._release_and_pass_on(uow, case.id, unit_id, "offer declined", today)

        self._in_uow(work)
        self.drain()

    def expire_offers(self) -> list[UUID]:
        """Expire every offer whose last day is before today (the service's date: no caller names
        another day, so no deadline is moved); each freed unit goes to the next waiting case."""
        today = self.today()
        expired: list[UUID] = []
        for case_id in self.view.offers_due(today):

            def work(uow: UnitOfWork, case_id: UUID = case_id) -> bool:
                case = self._case(uow, case_id)
                if case.state != "offered" or case.respond_by is None or case.respond_by >= today:
                    return False  # answered or expired meanwhile (another replica's sweep)
                unit_id = case.unit_id
                assert unit_id is not None
                case.expire(today)
                self._rejoin_or_close(uow, case, today)
                self._release_and_pass_on(uow, case.id, unit_id, "offer expired", today)
                return True

            if self._in_uow(work):
                expired.append(case_id)
        self.drain()
        return expired

    def move_in(self, case_id: UUID, by: str, on: date | None = None, late_reason: str | None = None) -> None:
        """Move in today, or on an earlier day recorded late (inside `late_recording_days`, with a
        reason), never before the offer was accepted nor, for a transitional unit, before the
        subsidised flat was handed back."""

        def work(uow: UnitOfWork) -> None:
            today = self.today()
            case = self._case(uow, case_id)
            bounds: list[tuple[date, str]] = []
            accepted_on = getattr(case, "accepted_on", None)
            if accepted_on is not None:
                bounds.append((accepted_on, "the offer's acceptance"))
            if case.pool == "transitional":
                household = uow.find(case.household_id, Household)
                if household is None or household.exit_completed_on is None:
                    raise Refused(
                        "the household has not handed its subsidised flat back yet (no exit-completed)"
                    )
                bounds.append((household.exit_completed_on, "the hand-back of the subsidised flat"))
            not_before, depends_on = max(bounds) if bounds else (None, "")
            moved = happened(
                on,
                today,
                window_days=self.policies.in_force(today).late_recording_days,
                not_before=not_before,
                depends_on=depends_on,
                reason=late_reason,
            )
            late = moved.late
            case.move_in(moved.on, by, moved.recorded_on if late else None, moved.reason if late else None)
            assert case.unit_id is not None
            uow.get(case.unit_id, Unit).move_in(case.id, moved.on)

        self._in_uow(work)

    def close_case(self, case_id: UUID, by: str) -> None:
        def work(uow: UnitOfWork) -> None:
            case = self._case(uow, case_id)
            if case.state not in ("moved_in", "guided"):
                raise TransitionError(f"case is {case.state}: only a moved-in or guided case is closed")
            case.close("placed" if case.state == "moved_in" else "guided", self.today(), by)

        self._in_uow(work)

    def withdraw(self, case_id: UUID, by: str, reason: str) -> None:
        self._in_uow(lambda uow: self._withdraw(uow, self._case(uow, case_id), reason, self.today(), by))
        self.drain()

    def add_units(self, units: Iterable[UnitSpec]) -> int:
        """Add units to their pools (a unit already there is skipped); then fill them from the waitlist."""
        specs = list(units)
        added = 0
        for start in range(0, len(specs), LOAD_CHUNK):
            chunk = specs[start : start + LOAD_CHUNK]

            def work(uow: UnitOfWork, chunk: list[UnitSpec] = chunk) -> int:
                count = 0
                for spec in chunk:
                    unit_id = Unit.create_id(spec.pool, spec.estate, spec.building, spec.unit)
                    if uow.find(unit_id, Unit) is None:
                        uow.add(
                            Unit(
                                pool=spec.pool,
                                estate=spec.estate,
                                building=spec.building,
                                unit=spec.unit,
                                area_m2=spec.area_m2,
                            )
                        )
                        count += 1
                return count

            added += self._in_uow(work)
        self.drain()
        return added

    def load_pools_if_empty(self, path: Path | None) -> int:
        """Start-up: load the pools file when no unit exists yet (every replica may try; ids are
        derived from the unit's address, so a second loader adds nothing)."""
        self.view.catch_up()
        if path is None or self.view.units:
            return 0
        added = self.add_units(read_pools_file(path))
        log.info("loaded %s pool units from %s", added, path)
        return added

    def unit_step(self, unit_id: UUID, step: str, by: str, reason: str = "") -> None:
        """`vacate` (a transitional unit's occupant left), `out_of_service`, `back_in_service`."""

        def work(uow: UnitOfWork) -> None:
            today = self.today()
            unit = self._unit(uow, unit_id)
            if step == "vacate":
                unit.vacate(today, by)
            elif step == "out_of_service":
                unit.take_out_of_service(reason, today, by)
            elif step == "back_in_service":
                unit.return_to_service(today, by)
            else:
                raise ValueError(f"unknown unit step {step!r}")
            self._offer_to_waitlist(uow, unit, today)

        self._in_uow(work)

    def drain(self) -> int:
        """Offer free units to waiting cases, in priority order, until one side runs out."""
        offered = 0
        for pool in POOLS:
            for _ in range(len(self.view.free_units(pool)) + 1):
                waiting = self.view.waitlist(pool)
                if not waiting or not self.view.free_units(pool):
                    break

                def work(uow: UnitOfWork, pool: str = pool) -> bool:
                    on = self.today()
                    for entry in self.view.waitlist(pool):
                        case = uow.get(entry.id, PlacementCase)
                        if case.state == "waitlisted" and self._offer_free_unit(uow, case, on):
                            return True
                    return False

                if not self._in_uow(work):
                    break
                offered += 1
        return offered

    def sweep(self) -> dict[str, int]:
        """The periodic task: expire overdue offers, then fill free units from the waitlists, today."""
        expired = self.expire_offers()
        return {"expired": len(expired), "offered": self.drain()}

    # -- queries ------------------------------------------------------------------------------------

    def unit_view(self, unit: Unit) -> dict[str, Any]:
        case = self.view.cases.get(unit.case_id) if unit.case_id is not None else None
        return {
            "unit_id": str(unit.id),
            "pool": unit.pool,
            "estate": unit.estate,
            "building": unit.building,
            "unit": unit.unit,
            "area_m2": None if unit.area_m2 is None else f"{unit.area_m2:.2f}",
            "state": unit.state,
            "household_id": None if unit.household_id is None else str(unit.household_id),
            "household_estate": None if case is None else case.estate,
            "case_id": None if unit.case_id is None else str(unit.case_id),
            "respond_by": None if unit.respond_by is None else unit.respond_by.isoformat(),
        }

    def case_view(self, case: PlacementCase) -> dict[str, Any]:
        return {
            "case_id": str(case.id),
            "household_id": str(case.household_id),
            "estate": case.estate,
            "placement_class": case.placement_class,
            "reasons": list(case.reasons),
            "pool": case.pool,
            "state": case.state,
            "outcome": case.outcome,
            "route": case.route,
            "decided_on": case.decided_on.isoformat(),
            "classified_on": case.classified_on.isoformat(),
            "unit_id": None if case.unit_id is None else str(case.unit_id),
            "unit": case.unit_label,
            "respond_by": None if case.respond_by is None else case.respond_by.isoformat(),
            "waitlisted_on": None if case.waitlisted_on is None else case.waitlisted_on.isoformat(),
            "priority": describe_priority(case.priority) if case.pool is not None else None,
            "offers_lost": case.declines,
            "guidance": list(case.guidance),
            "loan_discount_pp": None if case.loan_discount_pp is None else f"{case.loan_discount_pp:.2f}",
        }

    def pools(self) -> list[dict[str, Any]]:
        return [
            {"pool": pool, "total": sum(states.values()), "states": states}
            for pool, states in self.view.occupancy().items()
        ]

    def units(self, pool: str, state: str | None = None) -> list[dict[str, Any]]:
        self.view.catch_up()
        with self.view.lock:
            chosen = [
                u for u in self.view.units.values() if u.pool == pool and (state is None or u.state == state)
            ]
            chosen.sort(key=lambda u: (u.estate, u.building, u.unit))
            return [self.unit_view(u) for u in chosen]

    def unit_history(self, unit_id: UUID) -> list[dict[str, Any]]:
        """Every event of a unit, oldest first: who was offered it, who held it, when it was freed."""
        history = []
        for stored in self.recorder.select_events(unit_id):
            domain_event = self.mapper.to_domain_event(stored)
            entry: dict[str, Any] = {
                "type": type(domain_event).__name__,
                "version": domain_event.originator_version,
            }
            for key in ("household_id", "case_id", "on", "respond_by", "reason", "by"):
                value = getattr(domain_event, key, None)
                if value is not None:
                    entry[key] = value.isoformat() if isinstance(value, date) else str(value)
            history.append(entry)
        if not history:
            raise NotFound(f"unit {unit_id} does not exist")
        return history

    def cases(self, state: str | None = None, pool: str | None = None) -> list[dict[str, Any]]:
        """Cases, optionally of one state or pool; waiting cases in priority order, others by decision."""
        self.view.catch_up()
        with self.view.lock:
            chosen = [
                c
                for c in self.view.cases.values()
                if (state is None or c.state == state) and (pool is None or c.pool == pool)
            ]
            chosen.sort(key=lambda c: (c.state != "waitlisted", c.priority))
            return [self.case_view(c) for c in chosen]

    def waitlist(self, pool: str) -> list[dict[str, Any]]:
        return [{**self.case_view(c), "position": i + 1} for i, c in enumerate(self.view.waitlist(pool))]

    # Pages (`services.kit.paging`): chosen and ordered on the read model, rendered for the page only.
    # `sees` is the caller's estates (`Caller.sees_estate`).

    def units_page(
        self,
        pool: str,
        state: str | None,
        estate: str | None,
        sees: Callable[[object], bool],
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        """By estate, building and unit, as `units` lists them."""
        self.view.catch_up()
        with self.view.lock:
            chosen = (
                u
                for u in self.view.units.values()
                if u.pool == pool
                and (state is None or u.state == state)
                and (estate is None or u.estate == estate)
                and sees(u.estate)
            )
            page = paginate(
                chosen, lambda u: (u.estate, u.building, u.unit, str(u.id)), limit=limit, cursor=cursor
            )
            return page.map(self.unit_view)

    def cases_page(
        self,
        state: str | None,
        pool: str | None,
        estate: str | None,
        sees: Callable[[object], bool],
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        """In the order the cases were opened (a key that never changes; the waitlist's priority order,
        which changes with each decline, is `GET /pools/{pool}/waitlist`)."""
        self.view.catch_up()
        with self.view.lock:
            chosen = (
                c
                for c in self.view.cases.values()
                if (state is None or c.state == state)
                and (pool is None or c.pool == pool)
                and (estate is None or c.estate == estate)
                and sees(c.estate)
            )
            page = paginate(chosen, lambda c: time_key(c.created_on, c.id), limit=limit, cursor=cursor)
            return page.map(self.case_view)

    def placement(self, household_id: UUID) -> dict[str, Any]:
        self.view.catch_up()
        with self.view.lock:
            case_id = self.view.by_household.get(household_id)
            if case_id is None:
                raise NotFound(f"household {household_id} has no placement case")
            view = self.case_view(self.view.cases[case_id])
        if view["state"] == "waitlisted" and view["pool"] is not None:
            order = [c.id for c in self.view.waitlist(view["pool"])]
            view["position"] = order.index(case_id) + 1 if case_id in order else None
        return view

    def figures(self) -> dict[str, Any]:
        occupancy = self.view.occupancy()
        by_state, by_class, purchase, loans, placed = self.view.case_counts()
        return {
            "units_by_pool_and_state": occupancy,
            "units_free": {pool: states["free"] for pool, states in occupancy.items()},
            "cases_by_state": dict(by_state),
            "cases_by_class": dict(by_class),
            "waitlisted": by_state.get("waitlisted", 0),
            "placements": placed,
            "purchase_guidance_records": purchase,
            "loan_discounts_granted": loans,
        }

    def aggregate_ids_of(self, household_id: UUID) -> list[UUID]:
        return [household_id, PlacementCase.create_id(household_id)]
