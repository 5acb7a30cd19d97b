"""Monitoring's domain: the person-to-flat register, warnings, and the compact occupancy state.

Two kinds of state, stored differently on purpose:
- what a *decision* rests on is event-sourced (aggregates below): which household holds which unit
  with which members (`Household`, from eligibility's events), which credential belongs to which
  member (`Credential`, enrolled by an operator), excused absences, and every warning with its
  evidence and lifecycle (`OccupancyWarning`), plus the per-unit index that keeps a warning from being
  raised twice for the same open condition (`UnitWatch`);
- the raw signals are *not*: tens of thousands of door openings a day would be tens of thousands of
  events of no individual interest. They fold into `OccupancyBook`, a per-unit, per-day count kept in
  memory and checkpointed (see `services.monitoring.intake`). The detectors (`services.monitoring.
  detectors`) read the book and the register and say, with an explanation, what looks wrong.

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from services.kit.clock import Aggregate
from services.kit.dating import Dated

NAMESPACE = uuid5(NAMESPACE_URL, "https://housing.foshan.example/monitoring")

CONDITIONS = ("vacancy", "sublet_or_lend")
FINDINGS = {"vacancy": ("vacant",), "sublet_or_lend": ("sublet", "lend")}
"""What an inspector may confirm for each suspected condition."""


class UnitRef(NamedTuple):
    """A flat, named as eligibility's household registration names it."""

    estate: str
    building: str
    unit: str

    def key(self) -> str:
        return "\x1f".join(self)


def fact_key(department: str, reference: str, with_values: bool) -> str:
    return f"{department}/{reference}/{'values' if with_values else 'record'}"


class TransitionError(ValueError):
    """A lifecycle step that does not follow from the warning's current state."""


# -- event-sourced: the register ------------------------------------------------------------------


class Household(Aggregate):
    """A household as monitoring needs it: its unit, its members, their excused absences.

    The id is eligibility's household id, so a redelivered registration finds the existing aggregate.
    """

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return household_id

    class Registered(Aggregate.Created):
        household_id: UUID
        estate: str
        building: str
        unit: str
        tenancy_start: date
        members: list[UUID]
        region: str = ""  # the flat's city (CN-FS); empty in events stored before it was kept

    @event(Registered)
    def __init__(
        self,
        household_id: UUID,
        estate: str,
        building: str,
        unit: str,
        tenancy_start: date,
        members: list[UUID],
        region: str = "",
    ) -> None:
        self.household_id = household_id
        self.estate, self.building, self.unit = estate, building, unit
        self.tenancy_start = tenancy_start
        self.members = list(members)
        self.region = region
        self.excuses: list[tuple[UUID, date, date, str]] = []
        self.exited_on: date | None = None
        self.facts: set[str] = set()

    @property
    def unit_ref(self) -> UnitRef:
        return UnitRef(self.estate, self.building, self.unit)

    @event("MembersChanged")
    def change_members(self, members: list[UUID]) -> None:
        self.members = list(members)

    @event("AbsenceExcused")
    def excuse_absence(self, member_id: UUID, start: date, end: date, reason: str) -> None:
        """A member is away for a reason the authority accepts (hospital stay, care home, ...)."""
        self.excuses.append((member_id, start, end, reason))

    @event("DecisionRecorded")
    def record_decision(self, source: str, outcome: str, decided_on: date, overturned: bool = False) -> None:
        """Eligibility decided something about the household's tenancy: an exit (`exit_decided`, with
        its route), a manual re-review (`review_confirmed`) or an appeal (`appeal_resolved`)."""

    @event("FactNoted")
    def note_fact(
        self,
        department: str,
        reference: str,
        kind: str,
        described_on: date,
        hukou_city: str | None = None,
        actual_residence_city: str | None = None,
    ) -> None:
        """A department fact about the household, as evidence: from eligibility's `fact-recorded`
        (which record, no values) or the department's own `fact-reported` (with the cities)."""
        self.facts.add(fact_key(department, reference, actual_residence_city is not None))

    def knows_fact(self, department: str, reference: str, with_values: bool) -> bool:
        return fact_key(department, reference, with_values) in self.facts

    @event("Exited")
    def exit(self, on: date, how: str, recorded_by: str) -> None:
        """The household handed the flat back: monitoring of the flat ends for it."""
        self.exited_on = on


class Credential(Aggregate):
    """A door credential (card or face template) enrolled to a registered member.

    Only its keyed digest is kept (`services.monitoring.credentials`): `credential_key` is
    `kind:<hex HMAC-SHA256>`, the same string the intake computes from a door opening.
    """

    @staticmethod
    def create_id(credential_key: str) -> UUID:
        return uuid5(NAMESPACE, f"credential/{credential_key}")

    class Enrolled(Aggregate.Created):
        kind: str
        credential_key: str
        member_id: UUID

    @event(Enrolled)
    def __init__(self, kind: str, credential_key: str, member_id: UUID) -> None:
        self.kind, self.credential_key, self.member_id = kind, credential_key, member_id

    @event("Reassigned")
    def reassign(self, member_id: UUID) -> None:
        self.member_id = member_id


class Pending(Aggregate):
    """What arrived for a household before its registration: its exit (PENALTIES) or department
    records (DEPARTMENT) come on other streams than the registration (ELIGIBILITY), with no order
    between them. Kept here, and applied to the `Household` when the registration comes.

    The registration writes this aggregate too (creating it `registered`, or marking it so), which
    makes a registration and a keep that race each other collide on its version: the store refuses
    the second commit and its inbox handles the message again on the state the first one left.
    """

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"pending/{household_id}")

    @event("Started")
    def __init__(self, household_id: UUID, registered: bool = False) -> None:
        self.household_id = household_id
        self.registered = registered
        self.exit: tuple[date, str, str] | None = None
        self.facts: list[tuple[str, str, str, date, str | None, str | None]] = []

    @event("Applied")
    def applied(self) -> None:
        """The household was registered and what was kept applied to it."""
        self.registered = True

    @event("ExitKept")
    def keep_exit(self, on: date, how: str, recorded_by: str) -> None:
        self.exit = (on, how, recorded_by)

    @event("FactKept")
    def keep_fact(
        self,
        department: str,
        reference: str,
        kind: str,
        described_on: date,
        hukou_city: str | None,
        actual_residence_city: str | None,
    ) -> None:
        self.facts.append((department, reference, kind, described_on, hukou_city, actual_residence_city))

    def knows_fact(self, department: str, reference: str, with_values: bool) -> bool:
        return any(
            (d, r, a is not None) == (department, reference, with_values) for d, r, _, _, _, a in self.facts
        )


# -- event-sourced: warnings ---------------------------------------------------------------------


def _late(dated: Dated | None) -> tuple[date | None, str | None]:
    """(recorded on, reason) of a step recorded after its day; (None, None) otherwise."""
    if dated is None or not dated.late:
        return None, None
    return dated.recorded_on, dated.reason


class OccupancyWarning(Aggregate):
    """A suspicion about one unit, from detection to its outcome.

    raised → assigned (again, to change inspector) → confirmed (finding) or dismissed (reason);
    confirmed → rectified; any open one → withdrawn when the household leaves the flat. Every step
    names the operator who took it (accountability trail), except a withdrawal, which follows the
    recorded exit; every event carries the household so the relay can address it without loading
    anything.
    """

    class Raised(Aggregate.Created):
        household_id: UUID
        estate: str
        building: str
        unit: str
        condition: str
        raised_on: date
        risk_score: int
        explanation: str
        evidence: list[list[str]]

    @event(Raised)
    def __init__(
        self,
        household_id: UUID,
        estate: str,
        building: str,
        unit: str,
        condition: str,
        raised_on: date,
        risk_score: int,
        explanation: str,
        evidence: list[list[str]],
    ) -> None:
        self.household_id = household_id
        self.estate, self.building, self.unit = estate, building, unit
        self.condition = condition
        self.raised_on = raised_on
        self.risk_score = risk_score
        self.explanation = explanation
        self.evidence = evidence
        self.status = "raised"
        self.inspector_id: str | None = None
        self.finding: str | None = None
        self.closed_on: date | None = None
        self.outcome_note = ""
        self.stepped_on: date | None = raised_on  # the day of the latest step (a late step not before)

    @property
    def unit_ref(self) -> UnitRef:
        return UnitRef(self.estate, self.building, self.unit)

    @property
    def is_open(self) -> bool:
        """Open = still blocks a new warning for the same condition on the same unit."""
        return self.status in ("raised", "assigned", "confirmed")

    def not_before(self) -> tuple[date, str]:
        """The earliest day the next step may be dated, and what happened then."""
        stepped = getattr(self, "stepped_on", None) or self.raised_on
        if stepped > self.raised_on:
            return stepped, "the warning's previous step"
        return self.raised_on, "the warning being raised"

    def assign(self, inspector_id: str, on: date, late: Dated | None = None) -> None:
        if self.status not in ("raised", "assigned"):
            raise TransitionError(f"a {self.status} warning cannot be assigned")
        recorded_on, late_reason = _late(late)
        self._assigned(
            household_id=self.household_id,
            inspector_id=inspector_id,
            on=on,
            recorded_on=recorded_on,
            late_reason=late_reason,
        )

    @event("Assigned")
    def _assigned(
        self,
        household_id: UUID,
        inspector_id: str,
        on: date,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.status = "assigned"
        self.inspector_id = inspector_id
        self.stepped_on = on

    def confirm(
        self, inspector_id: str, finding: str, on: date, note: str, late: Dated | None = None
    ) -> None:
        if self.status != "assigned":
            raise TransitionError(f"a {self.status} warning cannot be confirmed (assign it first)")
        if finding not in FINDINGS[self.condition]:
            raise TransitionError(f"{finding!r} is not a finding for {self.condition!r}")
        self._confirmed(
            household_id=self.household_id,
            estate=self.estate,
            building=self.building,
            unit=self.unit,
            inspector_id=inspector_id,
            finding=finding,
            on=on,
            note=note,
            recorded_on=_late(late)[0],
            late_reason=_late(late)[1],
        )

    @event("Confirmed")
    def _confirmed(
        self,
        household_id: UUID,
        estate: str,
        building: str,
        unit: str,
        inspector_id: str,
        finding: str,
        on: date,
        note: str,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.status = "confirmed"
        self.inspector_id = inspector_id
        self.finding = finding
        self.outcome_note = note
        self.stepped_on = on

    def dismiss(self, inspector_id: str, reason: str, on: date, late: Dated | None = None) -> None:
        if self.status != "assigned":
            raise TransitionError(f"a {self.status} warning cannot be dismissed (assign it first)")
        if not reason.strip():
            raise TransitionError("a dismissal needs a reason")
        recorded_on, late_reason = _late(late)
        self._dismissed(
            household_id=self.household_id,
            inspector_id=inspector_id,
            reason=reason,
            on=on,
            recorded_on=recorded_on,
            late_reason=late_reason,
        )

    @event("Dismissed")
    def _dismissed(
        self,
        household_id: UUID,
        inspector_id: str,
        reason: str,
        on: date,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.status = "dismissed"
        self.inspector_id = inspector_id
        self.outcome_note = reason
        self.closed_on = on
        self.stepped_on = on

    def rectify(self, operator_id: str, on: date, note: str, late: Dated | None = None) -> None:
        if self.status != "confirmed":
            raise TransitionError(f"a {self.status} warning cannot be rectified (only a confirmed one)")
        recorded_on, late_reason = _late(late)
        self._rectified(
            household_id=self.household_id,
            operator_id=operator_id,
            on=on,
            note=note,
            recorded_on=recorded_on,
            late_reason=late_reason,
        )

    @event("Rectified")
    def _rectified(
        self,
        household_id: UUID,
        operator_id: str,
        on: date,
        note: str,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.stepped_on = on
        self.status = "rectified"
        self.outcome_note = note
        self.closed_on = on

    def withdraw(self, reason: str, on: date) -> None:
        """Close an open warning without a finding: the household it concerns left the flat."""
        if not self.is_open:
            raise TransitionError(f"a {self.status} warning cannot be withdrawn")
        self._withdrawn(household_id=self.household_id, reason=reason, on=on, previous_status=self.status)

    @event("Withdrawn")
    def _withdrawn(self, household_id: UUID, reason: str, on: date, previous_status: str) -> None:
        self.status = "withdrawn"
        self.outcome_note = reason
        self.closed_on = on


class UnitWatch(Aggregate):
    """Per unit: the open warning of each condition, and when the last one of each closed.

    This is what makes "never raised twice for the same open condition" a fact of the store rather
    than of a cache: a new warning and the watch's `Opened` are saved together, and the version check
    refuses a second writer. A condition may be raised again only once its warning is closed, and only
    on evidence gathered after the closure (`closed_on`), so a dismissal is not undone by the same
    days of data the inspector already looked at.
    """

    @staticmethod
    def create_id(estate: str, building: str, unit: str) -> UUID:
        return uuid5(NAMESPACE, f"watch/{UnitRef(estate, building, unit).key()}")

    @event("Started")
    def __init__(self, estate: str, building: str, unit: str) -> None:
        self.estate, self.building, self.unit = estate, building, unit
        self.open: dict[str, UUID] = {}
        self.closed_on: dict[str, date] = {}

    @event("Opened")
    def opened(self, condition: str, warning_id: UUID) -> None:
        self.open[condition] = warning_id

    @event("Closed")
    def closed(self, condition: str, warning_id: UUID, on: date) -> None:
        if self.open.get(condition) == warning_id:
            del self.open[condition]
        self.closed_on[condition] = on

    @event("Released")
    def released(self, household_id: UUID, estate: str, building: str, unit: str, on: date) -> None:
        """The household handed the flat back on `on`: no evidence before it is used again. Saved with
        the exit, so a detection racing the exit collides with it on this aggregate's version."""
        for condition in CONDITIONS:
            self.closed_on[condition] = max(on, self.closed_on.get(condition, on))


# -- in memory: the register as the intake reads it ----------------------------------------------


@dataclass(frozen=True)
class Decision:
    """An eligibility decision about the household, as monitoring shows it."""

    source: str  # exit_decided, review_confirmed, appeal_resolved
    outcome: str
    decided_on: date
    overturned: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "outcome": self.outcome,
            "decided_on": self.decided_on.isoformat(),
            "overturned": self.overturned,
        }


@dataclass
class RegistrationRecord:
    """A department record about the household (`registration` is the one a detector weighs)."""

    department: str
    reference: str
    kind: str
    described_on: date
    hukou_city: str | None = None
    actual_residence_city: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "reference": self.reference,
            "kind": self.kind,
            "described_on": self.described_on.isoformat(),
            "hukou_city": self.hukou_city,
            "actual_residence_city": self.actual_residence_city,
        }


@dataclass
class HouseholdView:
    household_id: UUID
    unit: UnitRef
    tenancy_start: date
    members: frozenset[UUID]
    excuses: list[tuple[UUID, int, int]] = field(default_factory=list)  # member, first day, last day
    region: str = ""
    exited_on: date | None = None
    exit_how: str | None = None
    decisions: list[Decision] = field(default_factory=list)
    facts: dict[tuple[str, str], RegistrationRecord] = field(default_factory=dict)

    def all_excused(self, day: int) -> bool:
        """Every member's absence on `day` is excused: nobody who should live here is expected."""
        if not self.excuses or not self.members:
            return False
        return all(any(m == member and a <= day <= b for m, a, b in self.excuses) for member in self.members)

    @property
    def exit_decision(self) -> Decision | None:
        """The exit in force: the last `exit_decided`, unless an appeal since kept the household."""
        current: Decision | None = None
        for decision in self.decisions:
            if decision.source == "exit_decided":
                current = decision
            elif decision.source == "appeal_resolved" and decision.outcome == "retain":
                current = None
        return current

    @property
    def status(self) -> str:
        if self.exited_on is not None:
            return "exited"
        return "exit_decided" if self.exit_decision is not None else "monitored"


class Register:
    """Person to flat, in memory: the fold of `Household` and `Credential` events.

    The intake asks it, for every door opening, whose credential it is and whose flat the door is;
    dictionaries keep that at a few lookups per signal. A household that exited stays in `households`
    (its history is still asked for) but leaves `by_unit` and `member_household`: its flat is *unlet*
    until another household is registered there, and its members' cards open no door of theirs.
    """

    def __init__(self) -> None:
        self.households: dict[UUID, HouseholdView] = {}
        self.by_unit: dict[UnitRef, UUID] = {}
        self.units: set[UnitRef] = set()  # every flat a household ever held here
        self.member_household: dict[UUID, UUID] = {}
        self.credentials: dict[str, UUID] = {}
        self.credential_keys: dict[UUID, str] = {}
        self.estates: set[str] = set()

    def apply(self, domain_event: Any) -> None:
        kind = type(domain_event).__qualname__
        if kind == "Household.Registered":
            unit = UnitRef(domain_event.estate, domain_event.building, domain_event.unit)
            view = HouseholdView(
                domain_event.originator_id,
                unit,
                domain_event.tenancy_start,
                frozenset(domain_event.members),
                region=getattr(domain_event, "region", ""),
            )
            self.households[view.household_id] = view
            self.by_unit[unit] = view.household_id
            self.units.add(unit)
            self.estates.add(unit.estate)
            for member in view.members:
                self.member_household[member] = view.household_id
        elif kind == "Household.MembersChanged":
            view = self.households[domain_event.originator_id]
            self._unmap(view)
            view.members = frozenset(domain_event.members)
            if view.exited_on is None:
                for member in view.members:
                    self.member_household[member] = view.household_id
        elif kind == "Household.AbsenceExcused":
            view = self.households[domain_event.originator_id]
            view.excuses.append(
                (domain_event.member_id, domain_event.start.toordinal(), domain_event.end.toordinal())
            )
        elif kind == "Household.DecisionRecorded":
            self.households[domain_event.originator_id].decisions.append(
                Decision(
                    domain_event.source,
                    domain_event.outcome,
                    domain_event.decided_on,
                    domain_event.overturned,
                )
            )
        elif kind == "Household.FactNoted":
            view = self.households[domain_event.originator_id]
            record = view.facts.get((domain_event.department, domain_event.reference))
            if record is None:
                record = view.facts[(domain_event.department, domain_event.reference)] = RegistrationRecord(
                    domain_event.department,
                    domain_event.reference,
                    domain_event.kind,
                    domain_event.described_on,
                )
            if domain_event.actual_residence_city is not None:
                record.hukou_city = domain_event.hukou_city
                record.actual_residence_city = domain_event.actual_residence_city
                record.described_on = domain_event.described_on
        elif kind == "Household.Exited":
            view = self.households[domain_event.originator_id]
            view.exited_on, view.exit_how = domain_event.on, domain_event.how
            self._unmap(view)
            if self.by_unit.get(view.unit) == view.household_id:
                del self.by_unit[view.unit]
        elif kind == "Credential.Enrolled":
            key = getattr(domain_event, "credential_key", None)
            if key is None:
                return  # enrolled by the first slice, token in clear: not matched, to be enrolled again
            self.credentials[key] = domain_event.member_id
            self.credential_keys[domain_event.originator_id] = key
        elif kind == "Credential.Reassigned":
            key = self.credential_keys.get(domain_event.originator_id)
            if key is not None:
                self.credentials[key] = domain_event.member_id

    def _unmap(self, view: HouseholdView) -> None:
        for member in view.members:
            if self.member_household.get(member) == view.household_id:
                del self.member_household[member]

    def household_of_credential(self, key: str) -> UUID | None:
        member = self.credentials.get(key)
        return None if member is None else self.member_household.get(member)

    def unlet(self) -> set[UnitRef]:
        """Flats held before and by no household now."""
        return self.units - self.by_unit.keys()


# -- in memory: the occupancy book (the projection of SIGNALS) ------------------------------------

MEMBER, OTHER, ELSEWHERE = 0, 1, 2
"""Day counters of a unit: openings by its household's members; by anyone else; and openings by
its members at *other* units (evidence that they live elsewhere)."""

MAX_OTHER_CREDENTIALS = 32


@dataclass
class UnitOccupancy:
    """A unit's compact state: per-day counters, the last member access, the strangers seen."""

    days: dict[int, list[int]] = field(default_factory=dict)
    last_member_day: int | None = None
    others: dict[str, list[int]] = field(default_factory=dict)  # credential → [count, last day]
    utilities: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)

    def counts(self, day: int) -> list[int]:
        counts = self.days.get(day)
        if counts is None:
            counts = self.days[day] = [0, 0, 0]
        return counts

    def sums(self, first: int, last: int) -> list[int]:
        total = [0, 0, 0]
        for day, counts in self.days.items():
            if first <= day <= last:
                total[0] += counts[0]
                total[1] += counts[1]
                total[2] += counts[2]
        return total

    def see_other(self, key: str, day: int) -> None:
        seen = self.others.get(key)
        if seen is not None:
            seen[0] += 1
            seen[1] = max(seen[1], day)
            return
        if len(self.others) >= MAX_OTHER_CREDENTIALS:  # bounded: forget the least seen
            del self.others[min(self.others, key=lambda k: (self.others[k][0], self.others[k][1]))]
        self.others[key] = [1, day]

    def to_json(self) -> dict[str, Any]:
        return {
            "d": {str(k): v for k, v in self.days.items()},
            "m": self.last_member_day,
            "o": self.others,
            "u": {k: [None if x is None else str(x) for x in v] for k, v in self.utilities.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitOccupancy:
        return cls(
            days={int(k): list(v) for k, v in data["d"].items()},
            last_member_day=data["m"],
            others={k: list(v) for k, v in data["o"].items()},
            utilities={
                k: (None if v[0] is None else Decimal(v[0]), None if v[1] is None else Decimal(v[1]))
                for k, v in data["u"].items()
            },
        )


class OccupancyBook:
    """Every monitored unit's `UnitOccupancy`, the first day seen and the latest signal time.

    `zone` (the city's) turns a door opening's instant into the estate's local day: a night-shift
    worker coming home at 07:30 in Foshan is at home on that local day, not on the UTC day before.
    """

    def __init__(self, zone: tzinfo, retention_days: int = 120) -> None:
        self.zone = zone
        self.retention_days = retention_days
        self.units: dict[UnitRef, UnitOccupancy] = {}
        self.first_day: int | None = None
        self.watermark: datetime | None = None
        self.estate_days: dict[str, int] = {}  # the latest local day each estate's readers reported
        self.signals: dict[str, int] = {}  # signals taken in since the book began, by outcome

    def local_day(self, at: datetime) -> int:
        return at.astimezone(self.zone).toordinal()

    def unit(self, unit: UnitRef) -> UnitOccupancy:
        occupancy = self.units.get(unit)
        if occupancy is None:
            occupancy = self.units[unit] = UnitOccupancy()
        return occupancy

    def record_access(
        self, register: Register, unit: UnitRef, household_id: UUID | None, key: str, at: datetime
    ) -> None:
        """Fold one door opening at `unit` (held by `household_id`; None: unlet) by credential `key`."""
        day = self.local_day(at)
        if self.first_day is None or day < self.first_day:
            self.first_day = day
        if self.watermark is None or at > self.watermark:
            self.watermark = at
        if day > self.estate_days.get(unit.estate, 0):
            self.estate_days[unit.estate] = day
        occupancy = self.unit(unit)
        holder = register.household_of_credential(key)
        if holder is not None and holder == household_id:
            occupancy.counts(day)[MEMBER] += 1
            if occupancy.last_member_day is None or day > occupancy.last_member_day:
                occupancy.last_member_day = day
            return
        occupancy.counts(day)[OTHER] += 1
        occupancy.see_other(key, day)
        if holder is not None:  # a member of another household: seen away from home
            home = register.households[holder].unit
            self.unit(home).counts(day)[ELSEWHERE] += 1

    def record_utilities(
        self, unit: UnitRef, month: str, water: Decimal | None, power: Decimal | None
    ) -> None:
        occupancy = self.unit(unit)
        occupancy.utilities[month] = (water, power)
        for old in sorted(occupancy.utilities)[:-12]:
            del occupancy.utilities[old]

    def prune(self) -> None:
        """Forget days older than the retention: memory stays bounded however long it runs."""
        if self.watermark is None:
            return
        horizon = self.local_day(self.watermark) - self.retention_days
        for occupancy in self.units.values():
            for day in [d for d in occupancy.days if d < horizon]:
                del occupancy.days[day]

    def to_json(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day,
            "watermark": None if self.watermark is None else self.watermark.isoformat(),
            "estates": self.estate_days,
            "signals": self.signals,
            "units": [[list(unit), occupancy.to_json()] for unit, occupancy in self.units.items()],
        }

    def load_json(self, data: dict[str, Any]) -> None:
        self.first_day = data["first_day"]
        self.watermark = None if data["watermark"] is None else datetime.fromisoformat(data["watermark"])
        self.estate_days = dict(data["estates"])
        self.signals = dict(data.get("signals", {}))
        self.units = {UnitRef(*unit): UnitOccupancy.from_json(state) for unit, state in data["units"]}


def month_of(day: int) -> str:
    d = date.fromordinal(day)
    return f"{d.year:04d}-{d.month:02d}"


def months_between(first: int, last: int) -> list[str]:
    d = date.fromordinal(first).replace(day=1)
    end = date.fromordinal(last)
    result = []
    while d <= end:
        result.append(f"{d.year:04d}-{d.month:02d}")
        d = (d + timedelta(days=32)).replace(day=1)
    return result


def flatten(items: Iterable[tuple[str, str]]) -> list[list[str]]:
    return [[label, value] for label, value in items]
