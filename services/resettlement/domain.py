"""Resettlement's aggregates and pure rules (no I/O).

- `Household`: what eligibility told us (estate, members with birth date and disability), and whether
  the household has handed its subsidised flat back (penalties' `exit-completed`).
- `Unit`: one unit of a pool (transitional rental, affordable-for-sale) and its state. A unit is
  offered to at most one case at a time, and since every offer is an event appended at the unit's
  next version, two writers that both saw it free cannot both succeed: the store refuses the second
  (optimistic concurrency). That is the whole guarantee against double booking.
- `PlacementCase`: one per household whose exit is decided (its id derives from the household's, so
  two replicas cannot open two cases either): classification and its reasons, guidance and loan
  discount records, waitlist, offers, acceptance, move-in, closing or withdrawal.

Rules:
- `classify`: special hardship (low income, or a member aged `elderly_age`+ on the decision date, or
  a disabled member) → transitional pool; else able to buy (wishes to buy) → affordable pool, purchase
  guidance and loan-rate discount; else market-rental guidance. Hardship is checked first: the
  transitional pool is the priority the reform gives these households.
- `priority`: the waitlist order. Fewer earlier declined/expired offers first; then a household with
  an elderly or disabled member; then a low-income one; then the earlier exit decision; then the
  household id (a fixed tie-break, so every replica computes the same order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import yaml
from eventsourcing.domain import event

from services.kit.clock import Aggregate

NAMESPACE = UUID("3b8f0c6e-9d4a-4e27-8a41-6c5d2e1f0a93")
PARAMETERS_FILE = Path(__file__).with_name("parameters") / "placement.yaml"

POOLS = ("transitional", "affordable")
UNIT_STATES = ("free", "offered", "held", "occupied", "sold", "out_of_service")
CASE_STATES = (
    "classified",
    "waitlisted",
    "offered",
    "accepted",
    "declined",
    "expired",
    "moved_in",
    "guided",
    "closed",
    "withdrawn",
)
"""`declined` and `expired` last only within the command that then waitlists or closes the case."""
ACTIVE_STATES = frozenset({"classified", "waitlisted", "offered", "accepted", "guided"})
POOL_OF_CLASS = {"special_hardship": "transitional", "purchase": "affordable", "market_rental": None}


class TransitionError(ValueError):
    """The step is not allowed in the aggregate's current state."""


# -- policy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The placement parameters in force from `effective_from`."""

    effective_from: date
    elderly_age: int
    loan_rate_discount_pp: Decimal
    offer_days: int
    max_offers: int
    legal_reference: str
    late_recording_days: int = 30


@dataclass(frozen=True)
class PolicyBook:
    """Dated policy values, latest first; the one in force on a day is the latest not after it."""

    entries: tuple[Policy, ...]

    def in_force(self, on: date) -> Policy:
        for policy in self.entries:
            if policy.effective_from <= on:
                return policy
        return self.entries[-1]


def load_policy(path: Path = PARAMETERS_FILE) -> PolicyBook:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = [
        Policy(
            effective_from=date.fromisoformat(str(item["effective_from"])),
            elderly_age=int(item["elderly_age"]),
            loan_rate_discount_pp=Decimal(str(item["loan_rate_discount_pp"])),
            offer_days=int(item["offer_days"]),
            max_offers=int(item["max_offers"]),
            legal_reference=str(item["legal_reference"]),
            late_recording_days=int(item.get("late_recording_days", 30)),
        )
        for item in raw["values"]
    ]
    if not entries:
        raise ValueError(f"{path}: no policy values")
    return PolicyBook(tuple(sorted(entries, key=lambda p: p.effective_from, reverse=True)))


# -- classification and priority ------------------------------------------------------------------


def age_on(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class Classification:
    placement_class: str
    pool: str | None
    vulnerable: bool
    """An elderly or disabled member (a waitlist priority)."""
    reasons: tuple[str, ...]


def classify(
    *,
    low_income: bool,
    wants_to_buy: bool,
    members: Sequence[Mapping[str, Any]] | None,
    decided_on: date,
    policy: Policy,
) -> Classification:
    """The placement class of a household whose exit is decided, and why (every criterion listed)."""
    known = members is not None
    members = members or []
    elderly = [m for m in members if age_on(m["birth_date"], decided_on) >= policy.elderly_age]
    disabled = [m for m in members if m["disabled"]]
    count = len(members)
    reasons = [
        f"low income (exit decision): {'yes' if low_income else 'no'}",
        (
            f"member aged {policy.elderly_age} or more on {decided_on}: "
            f"{'yes' if elderly else 'no'} ({len(elderly)} of {count})"
            if known
            else "members unknown (household not registered here): age not assessed"
        ),
        (
            f"member disabled: {'yes' if disabled else 'no'} ({len(disabled)} of {count})"
            if known
            else "members unknown: disability not assessed"
        ),
        f"wishes to buy (exit decision): {'yes' if wants_to_buy else 'no'}",
    ]
    vulnerable = bool(elderly or disabled)
    if low_income or vulnerable:
        placement_class = "special_hardship"
        reasons.append("special hardship: transitional housing first")
    elif wants_to_buy:
        placement_class = "purchase"
        reasons.append(
            "able to buy: purchase guidance, priority on affordable-for-sale units, "
            f"loan-rate discount of {policy.loan_rate_discount_pp} percentage points"
        )
    else:
        placement_class = "market_rental"
        reasons.append("neither special hardship nor buying: market-rental guidance")
    reasons.append(f"policy in force since {policy.effective_from}: {policy.legal_reference}")
    return Classification(placement_class, POOL_OF_CLASS[placement_class], vulnerable, tuple(reasons))


def priority(
    *, declines: int, vulnerable: bool, low_income: bool, decided_on: date, household_id: UUID
) -> tuple[int, int, int, str, str]:
    """Waitlist order (smallest first); see the module docstring."""
    return (
        declines,
        0 if vulnerable else 1,
        0 if low_income else 1,
        decided_on.isoformat(),
        str(household_id),
    )


def describe_priority(key: Sequence[Any]) -> str:
    declines, vulnerable, low_income, decided_on, _ = key
    parts = [
        "elderly or disabled member" if vulnerable == 0 else "no elderly or disabled member",
        "low income" if low_income == 0 else "not low income",
        f"decided {decided_on}",
    ]
    if declines:
        parts.insert(0, f"{declines} earlier offer(s) declined or expired")
    return "; ".join(parts)


# -- aggregates -----------------------------------------------------------------------------------


class Household(Aggregate):
    """A household as eligibility (and penalties) described it; its id is the household id."""

    class Registered(Aggregate.Created):
        household_id: UUID
        estate: str
        members: list[dict[str, Any]] | None

    class Updated(Aggregate.Event):
        estate: str
        members: list[dict[str, Any]]

    class MembersChanged(Aggregate.Event):
        members: list[dict[str, Any]]

    class ExitCompleted(Aggregate.Event):
        completed_on: date
        how: str

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return household_id

    @event(Registered)
    def __init__(self, household_id: UUID, estate: str, members: list[dict[str, Any]] | None) -> None:
        self.household_id = household_id
        self.estate = estate
        self.members = members
        self.exit_completed_on: date | None = None

    @event(Updated)
    def update(self, estate: str, members: list[dict[str, Any]]) -> None:
        self.estate = estate
        self.members = members

    @event(MembersChanged)
    def change_members(self, members: list[dict[str, Any]]) -> None:
        self.members = members

    @event(ExitCompleted)
    def exit_completed(self, completed_on: date, how: str) -> None:
        self.exit_completed_on = completed_on


class Unit(Aggregate):
    """One unit of a pool. States: free, offered, held, occupied (transitional), sold (affordable),
    out_of_service."""

    class Added(Aggregate.Created):
        pool: str
        estate: str
        building: str
        unit: str
        area_m2: Decimal | None

    class Offered(Aggregate.Event):
        case_id: UUID
        household_id: UUID
        on: date
        respond_by: date

    class Held(Aggregate.Event):
        on: date

    class Released(Aggregate.Event):
        case_id: UUID
        reason: str
        on: date

    class MovedIn(Aggregate.Event):
        on: date

    class Vacated(Aggregate.Event):
        on: date
        by: str

    class OutOfService(Aggregate.Event):
        reason: str
        on: date
        by: str

    class BackInService(Aggregate.Event):
        on: date
        by: str

    @staticmethod
    def create_id(pool: str, estate: str, building: str, unit: str) -> UUID:
        return uuid5(NAMESPACE, f"unit:{pool}:{estate}:{building}:{unit}")

    @event(Added)
    def __init__(self, pool: str, estate: str, building: str, unit: str, area_m2: Decimal | None) -> None:
        if pool not in POOLS:
            raise ValueError(f"unknown pool {pool!r}")
        self.pool = pool
        self.estate = estate
        self.building = building
        self.unit = unit
        self.area_m2 = area_m2
        self.state = "free"
        self.case_id: UUID | None = None
        self.household_id: UUID | None = None
        self.respond_by: date | None = None

    def _require(self, *states: str) -> None:
        if self.state not in states:
            raise TransitionError(f"unit {self.label} is {self.state}, not {' or '.join(states)}")

    @property
    def label(self) -> str:
        return f"{self.pool}:{self.estate}/{self.building}/{self.unit}"

    def offer(self, case_id: UUID, household_id: UUID, on: date, respond_by: date) -> None:
        self._require("free")
        self._offered(case_id, household_id, on, respond_by)

    @event(Offered)
    def _offered(self, case_id: UUID, household_id: UUID, on: date, respond_by: date) -> None:
        self.state = "offered"
        self.case_id = case_id
        self.household_id = household_id
        self.respond_by = respond_by

    def hold(self, case_id: UUID, on: date) -> None:
        self._require("offered")
        self._check_case(case_id)
        self._held(on)

    @event(Held)
    def _held(self, on: date) -> None:
        self.state = "held"
        self.respond_by = None

    def release(self, case_id: UUID, reason: str, on: date) -> None:
        self._require("offered", "held")
        self._check_case(case_id)
        self._released(case_id, reason, on)

    @event(Released)
    def _released(self, case_id: UUID, reason: str, on: date) -> None:
        self.state = "free"
        self.case_id = None
        self.household_id = None
        self.respond_by = None

    def move_in(self, case_id: UUID, on: date) -> None:
        self._require("held")
        self._check_case(case_id)
        self._moved_in(on)

    @event(MovedIn)
    def _moved_in(self, on: date) -> None:
        self.state = "occupied" if self.pool == "transitional" else "sold"

    def vacate(self, on: date, by: str) -> None:
        if self.pool != "transitional":
            raise TransitionError(f"unit {self.label} was sold: it is not vacated into the pool")
        self._require("occupied")
        self._vacated(on, by)

    @event(Vacated)
    def _vacated(self, on: date, by: str) -> None:
        self.state = "free"
        self.case_id = None
        self.household_id = None

    def take_out_of_service(self, reason: str, on: date, by: str) -> None:
        self._require("free")
        self._out_of_service(reason, on, by)

    @event(OutOfService)
    def _out_of_service(self, reason: str, on: date, by: str) -> None:
        self.state = "out_of_service"

    def return_to_service(self, on: date, by: str) -> None:
        self._require("out_of_service")
        self._back_in_service(on, by)

    @event(BackInService)
    def _back_in_service(self, on: date, by: str) -> None:
        self.state = "free"

    def _check_case(self, case_id: UUID) -> None:
        if self.case_id != case_id:
            raise TransitionError(f"unit {self.label} is not offered to case {case_id}")


class PlacementCase(Aggregate):
    """A household's placement, from classification to closing. States: classified, waitlisted,
    offered, accepted, moved_in, guided (market rental), closed, withdrawn."""

    class Classified(Aggregate.Created):
        household_id: UUID
        estate: str
        placement_class: str
        pool: str | None
        reasons: list[str]
        vulnerable: bool
        low_income: bool
        route: str
        decided_on: date
        classified_on: date

    class Reclassified(Aggregate.Event):
        estate: str
        placement_class: str
        pool: str | None
        reasons: list[str]
        vulnerable: bool
        low_income: bool
        route: str
        decided_on: date
        classified_on: date

    class GuidanceGiven(Aggregate.Event):
        kind: str
        on: date

    class LoanDiscountGranted(Aggregate.Event):
        percentage_points: Decimal
        on: date

    class Waitlisted(Aggregate.Event):
        on: date
        priority: list[Any]

    class Offered(Aggregate.Event):
        unit_id: UUID
        pool: str
        unit_estate: str
        building: str
        unit: str
        on: date
        respond_by: date

    class Accepted(Aggregate.Event):
        on: date
        by: str

    class Declined(Aggregate.Event):
        on: date
        by: str
        reason: str

    class Expired(Aggregate.Event):
        on: date

    class MovedIn(Aggregate.Event):
        on: date
        by: str
        recorded_on: date | None = None  # set when recorded after the day it happened
        late_reason: str | None = None

    class Closed(Aggregate.Event):
        outcome: str
        on: date
        by: str | None

    class Withdrawn(Aggregate.Event):
        reason: str
        on: date
        by: str | None
        released_unit_id: UUID | None

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"case:{household_id}")

    @event(Classified)
    def __init__(
        self,
        household_id: UUID,
        estate: str,
        placement_class: str,
        pool: str | None,
        reasons: list[str],
        vulnerable: bool,
        low_income: bool,
        route: str,
        decided_on: date,
        classified_on: date,
    ) -> None:
        self.household_id = household_id
        self._classify(estate, placement_class, pool, reasons, vulnerable, low_income, route, decided_on)
        self.classified_on = classified_on
        self.guidance: list[str] = []
        self.loan_discount_pp: Decimal | None = None
        self.declines = 0
        self.declined_units: list[UUID] = []

    def _classify(
        self,
        estate: str,
        placement_class: str,
        pool: str | None,
        reasons: list[str],
        vulnerable: bool,
        low_income: bool,
        route: str,
        decided_on: date,
    ) -> None:
        self.estate = estate
        self.placement_class = placement_class
        self.pool = pool
        self.reasons = list(reasons)
        self.vulnerable = vulnerable
        self.low_income = low_income
        self.route = route
        self.decided_on = decided_on
        self.state = "classified"
        self.unit_id: UUID | None = None
        self.unit_label: str | None = None
        self.respond_by: date | None = None
        self.accepted_on: date | None = None
        self.outcome: str | None = None
        self.waitlisted_on: date | None = None

    def reclassify(
        self, c: Classification, estate: str, low_income: bool, route: str, decided_on: date, on: date
    ) -> None:
        if self.state != "withdrawn":
            raise TransitionError(
                f"case of {self.household_id} is {self.state}: only a withdrawn case reopens"
            )
        self._reclassified(
            estate,
            c.placement_class,
            c.pool,
            list(c.reasons),
            c.vulnerable,
            low_income,
            route,
            decided_on,
            on,
        )

    @event(Reclassified)
    def _reclassified(
        self,
        estate: str,
        placement_class: str,
        pool: str | None,
        reasons: list[str],
        vulnerable: bool,
        low_income: bool,
        route: str,
        decided_on: date,
        classified_on: date,
    ) -> None:
        self._classify(estate, placement_class, pool, reasons, vulnerable, low_income, route, decided_on)
        self.classified_on = classified_on
        self.declines = 0
        self.declined_units = []

    def _require(self, *states: str) -> None:
        if self.state not in states:
            raise TransitionError(f"case of {self.household_id} is {self.state}, not {' or '.join(states)}")

    @property
    def priority(self) -> tuple[int, int, int, str, str]:
        return priority(
            declines=self.declines,
            vulnerable=self.vulnerable,
            low_income=self.low_income,
            decided_on=self.decided_on,
            household_id=self.household_id,
        )

    @event(GuidanceGiven)
    def give_guidance(self, kind: str, on: date) -> None:
        self.guidance.append(kind)
        if kind == "market_rental" and self.state in ("classified", "waitlisted"):
            self.state = "guided"

    @event(LoanDiscountGranted)
    def grant_loan_discount(self, percentage_points: Decimal, on: date) -> None:
        self.loan_discount_pp = percentage_points

    def waitlist(self, on: date) -> None:
        self._require("classified", "waitlisted", "declined", "expired")
        if self.pool is None:
            raise TransitionError("a market-rental case has no pool to wait for")
        self._waitlisted(on, list(self.priority))

    @event(Waitlisted)
    def _waitlisted(self, on: date, priority: list[Any]) -> None:
        self.state = "waitlisted"
        self.waitlisted_on = on
        self.unit_id = None
        self.unit_label = None
        self.respond_by = None

    def offer(self, unit: Unit, on: date, respond_by: date) -> None:
        self._require("classified", "waitlisted")
        if unit.pool != self.pool:
            raise TransitionError(f"a {self.placement_class} case is placed from the {self.pool} pool")
        self._offered(unit.id, unit.pool, unit.estate, unit.building, unit.unit, on, respond_by)

    @event(Offered)
    def _offered(
        self, unit_id: UUID, pool: str, unit_estate: str, building: str, unit: str, on: date, respond_by: date
    ) -> None:
        self.state = "offered"
        self.unit_id = unit_id
        self.unit_label = f"{unit_estate}/{building}/{unit}"
        self.respond_by = respond_by

    def accept(self, on: date, by: str) -> None:
        self._require("offered")
        assert self.respond_by is not None
        if on > self.respond_by:
            raise TransitionError(f"the offer expired after {self.respond_by}")
        self._accepted(on, by)

    @event(Accepted)
    def _accepted(self, on: date, by: str) -> None:
        self.state = "accepted"
        self.respond_by = None
        self.accepted_on = on

    def decline(self, on: date, by: str, reason: str) -> None:
        self._require("offered")
        self._declined(on, by, reason)

    @event(Declined)
    def _declined(self, on: date, by: str, reason: str) -> None:
        self._lost_offer("declined")

    def expire(self, on: date) -> None:
        self._require("offered")
        assert self.respond_by is not None
        if on <= self.respond_by:
            raise TransitionError(f"the offer runs until {self.respond_by}")
        self._expired(on)

    @event(Expired)
    def _expired(self, on: date) -> None:
        self._lost_offer("expired")

    def _lost_offer(self, state: str) -> None:
        # `declined`/`expired` last only until the same command waitlists or closes the case.
        self.state = state
        self.declines += 1
        if self.unit_id is not None:
            self.declined_units.append(self.unit_id)

    def move_in(
        self, on: date, by: str, recorded_on: date | None = None, late_reason: str | None = None
    ) -> None:
        """Moved in on `on` (checked by the caller: not in the future, not before the acceptance);
        `recorded_on` and `late_reason` when it is recorded after that day."""
        self._require("accepted")
        self._moved_in(on, by, recorded_on, late_reason)

    @event(MovedIn)
    def _moved_in(self, on: date, by: str, recorded_on: date | None, late_reason: str | None) -> None:
        self.state = "moved_in"

    def close(self, outcome: str, on: date, by: str | None) -> None:
        self._require("moved_in", "guided", "declined", "expired")
        self._closed(outcome, on, by)

    @event(Closed)
    def _closed(self, outcome: str, on: date, by: str | None) -> None:
        self.state = "closed"
        self.outcome = outcome
        self.respond_by = None

    def withdraw(self, reason: str, on: date, by: str | None) -> None:
        self._require(*ACTIVE_STATES)
        held = self.unit_id if self.state in ("offered", "accepted") else None
        self._withdrawn(reason, on, by, held)

    @event(Withdrawn)
    def _withdrawn(self, reason: str, on: date, by: str | None, released_unit_id: UUID | None) -> None:
        self.state = "withdrawn"
        self.outcome = "withdrawn"
        self.unit_id = None
        self.unit_label = None
        self.respond_by = None


def respond_by(on: date, policy: Policy) -> date:
    return on + timedelta(days=policy.offer_days)
