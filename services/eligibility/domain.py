"""Eligibility's aggregates. State is kept as plain JSON-friendly values (str, Decimal, date, UUID,
dicts, lists) so that events and snapshots store without custom transcodings.

- `Household`: tenancy or rent subsidy, members (with ID numbers: only this service holds them), the
  department facts that still matter (latest described date per kind and scope), the latest decision,
  the open case.
- `PersonIndex`: person hash → household, so a fact naming a person finds its household.
- `FactReceipt`: one per (department, reference): a fact already received is acknowledged and ignored.
- `RegistrationReceipt`: one per external registration reference: a registration sent again is
  answered with the household it made.
- `ParkedFacts`: facts about a person no household holds yet, kept until one does (nothing is lost
  because a department reported before the housing authority registered).
- `ParameterBook`: dated parameter values supervisors added (the files hold the defaults).
- `ReviewCase`: the manual re-review with four-eyes, third-party assessment, appeal, and the
  accountability trail (who, role, when, why, before/after) of every step.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.eligibility import register, rules
from services.kit.clock import Aggregate

NAMESPACE = UUID("5d0f3f5e-3c4b-4b7e-9a51-2f0d6c1e8a10")

FACT_VALUE_FIELDS = {"income": "monthly_income", "property": "area_m2", "financial_assets": "amount"}
"""The fact kinds the exit rules read, and the field holding the value each compares."""

PROPOSALS = ("exit_required", "transition", "retain")
REVIEWER_ROLES = frozenset({"reviewer", "supervisor"})
APPELLANT_ROLES = frozenset({"household", "reviewer", "supervisor"})
APPEAL_DECISIONS = ("upheld", "overturned")
EXIT_OUTCOMES = frozenset({"exit_required", "transition"})
"""Final outcomes that are exit decisions: an appeal against one may be upheld or overturned."""


@dataclass(frozen=True)
class Recorded:
    """A record kept whole in aggregate state (the latest decision and its explanation). It is never
    changed, only replaced, so the repository's deep copy of a loaded aggregate shares it."""

    data: Mapping[str, Any]

    def __deepcopy__(self, memo: dict[int, Any]) -> Recorded:
        return self


class MemberRecord(dict[str, Any]):
    """A member as the household holds them; replaced whole on a change, never edited, so a deep copy
    of the household may share it (the repository deep-copies every household it hands out)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> MemberRecord:
        return self


_SHARED = (str, int, Decimal, date, UUID, type(None), Recorded, tuple)
"""Attribute values a copy of a household may share: immutable (a tuple holds members, themselves
never changed in place)."""


@dataclass(frozen=True)
class RentSubsidy:
    """A household's housing when it rents on the market with a monthly subsidy (租赁补贴): no estate,
    building or unit, no rent the bureau collects. `district` is where it lives, when known."""

    monthly_subsidy: Decimal
    start: date
    district: str | None = None


HOUSING_KINDS = ("tenancy", "rent_subsidy")


class Household(Aggregate):
    """A household and its housing: a tenancy of a unit (estate, building, unit, base rent, start) or a
    rent subsidy (monthly amount, start, district; `estate`, `building`, `unit`, `base_rent` and
    `tenancy_start` are None). The exit rules are the same for both."""

    class Registered(Aggregate.Created):
        region: str
        estate: str | None
        building: str | None
        unit: str | None
        base_rent: Decimal | None
        tenancy_start: date | None
        members: list[dict[str, Any]]
        registered_by: str | None
        housing: str
        monthly_subsidy: Decimal | None
        subsidy_start: date | None
        district: str | None
        reference: str | None

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Registrations stored before operators were recorded: nobody on record."""
            state["registered_by"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Registrations stored before rent-subsidy households: all tenancies, with no external
            reference."""
            state.update(
                housing="tenancy", monthly_subsidy=None, subsidy_start=None, district=None, reference=None
            )

    class MembersChanged(Aggregate.Event):
        members: list[dict[str, Any]]

    class FactRecorded(Aggregate.Event):
        department: str
        reference: str
        described_on: date
        kind: str
        scope: str
        fact: dict[str, Any]

    class Evaluated(Aggregate.Event):
        review_id: UUID
        decision: dict[str, Any]
        previous_outcome: str | None

    class CaseOpened(Aggregate.Event):
        case_id: UUID
        review_id: UUID
        check_id: UUID
        reason: str
        rules: list[str]

    class CaseClosed(Aggregate.Event):
        case_id: UUID
        outcome: str

    class CaseReopened(Aggregate.Event):
        case_id: UUID
        reason: str

    class CrossRegionAnswered(Aggregate.Event):
        check_id: UUID
        city: str
        result: str
        matched: list[str]
        """The categories true there (on a `match`: what the explanation names)."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Answers stored before their categories were: none known."""
            state["matched"] = []

    class CrossRegionRequested(Aggregate.Event):
        """A cross-region check asked of federation: by the periodic sweep (`eligibility-review`) or
        because a review case opened (`exit-review`). Published as `cross-region-check-requested`."""

        check_id: UUID
        cities: list[str]
        purpose: str
        requested_at: datetime
        reason: str
        subjects: list[str]
        """`member_id city key_id id_hash` each (`services.eligibility.register`)."""

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Checks asked before eligibility derived subjects: none (federation held them)."""
            state["subjects"] = []

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Subjects stored as objects before the compact form."""
            state["subjects"] = [register.packed(s) for s in state["subjects"]]

    class RegisterUpdated(Aggregate.Event):
        """What peers are answered about the members (`services.eligibility.register`): their hashes
        under every usable linkage key, the three categories, and what the hashes were made from."""

        subjects: list[str]
        """`member_id city key_id id_hash` each (`services.eligibility.register`)."""
        categories: dict[str, bool]
        as_of: date
        basis: list[str]

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Subjects stored as objects before the compact form."""
            state["subjects"] = [register.packed(s) for s in state["subjects"]]

    class Left(Aggregate.Event):
        """The household handed its flat back (penalties' `exit-completed`): no longer housed here,
        which is what peers are told from then on."""

        on: date
        how: str

    class OccupancyNoted(Aggregate.Event):
        """A step of an occupancy warning monitoring raised on the household's flat: evidence for
        the reviewers (the household page and timeline show it); no exit rule reads it."""

        warning_id: UUID
        step: str
        on: date
        detail: str
        by: str | None

    @event(Registered)
    def __init__(
        self,
        region: str,
        estate: str | None,
        building: str | None,
        unit: str | None,
        base_rent: Decimal | None,
        tenancy_start: date | None,
        members: list[dict[str, Any]],
        registered_by: str | None = None,
        housing: str = "tenancy",
        monthly_subsidy: Decimal | None = None,
        subsidy_start: date | None = None,
        district: str | None = None,
        reference: str | None = None,
    ) -> None:
        self.region = region
        self.registered_by = registered_by
        self.housing = housing
        self.monthly_subsidy = monthly_subsidy
        self.subsidy_start = subsidy_start
        self.district = district
        self.reference = reference
        self.estate = estate
        self.building = building
        self.unit = unit
        self.base_rent = base_rent
        self.tenancy_start = tenancy_start
        self.members = tuple(MemberRecord(m) for m in members)
        self.facts: dict[str, dict[str, tuple[rules.Observation, ...]]] = {}
        self.decision: Recorded | None = None
        self.review_id: UUID | None = None
        self.open_case: UUID | None = None
        self.check_id: UUID | None = None
        self.cross_region: dict[str, rules.CrossRegionResult] = {}
        self.occupancy: tuple[Recorded, ...] = ()

    property_places: tuple[tuple[str, str, Decimal, date], ...] = ()
    """Each property on record (reference, city, area, the date its latest record describes), so
    that what we answer peers about property here needs no rule (`services.eligibility.register`)."""
    cross_region_matched: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(city, the categories true there) of the answers above (replaced whole, never edited)."""
    left_on: date | None = None
    """The day the household handed its flat back (None: still housed)."""
    register_basis: tuple[str, ...] = ()
    register_categories: Recorded | None = None
    """What the last `RegisterUpdated` was made from and said (class defaults: none sent yet)."""

    checked_at: datetime | None = None
    """When the current cross-region check was requested (None: never asked, or only by a case
    opened before checks were recorded; class defaults also serve histories from before)."""
    check_cities: tuple[str, ...] = ()
    check_answered: tuple[str, ...] = ()
    """Peer cities asked in the current check, and those that answered it."""

    @property
    def check_awaiting(self) -> bool:
        """The current check still waits for a peer city's answer."""
        return bool(set(self.check_cities) - set(self.check_answered))

    def __deepcopy__(self, memo: dict[int, Any]) -> Household:
        """The repository deep-copies every household it hands out (so a failed command cannot corrupt
        its cache), once per fact. Only the containers a command changes in place are copied: `facts`
        (two levels; observations are immutable), `cross_region` and the pending events; the rest is
        immutable or replaced whole (members, the recorded decision). Anything else is deep-copied."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        state = dict(self.__dict__)
        for key, value in state.items():
            if key == "facts":
                state[key] = {kind: dict(scopes) for kind, scopes in value.items()}
            elif key in ("cross_region", "_pending_events"):
                state[key] = copy.copy(value)
            elif not isinstance(value, _SHARED):
                state[key] = copy.deepcopy(value, memo)
        clone.__dict__.update(state)
        return clone

    @classmethod
    def on_rent_subsidy(
        cls,
        region: str,
        subsidy: RentSubsidy,
        members: list[dict[str, Any]],
        registered_by: str | None = None,
        reference: str | None = None,
    ) -> Household:
        """A household without a unit: estate-scoped views and operators do not see it (no estate)."""
        return cls(
            region,
            None,
            None,
            None,
            None,
            None,
            members,
            registered_by,
            "rent_subsidy",
            subsidy.monthly_subsidy,
            subsidy.start,
            subsidy.district,
            reference,
        )

    @property
    def rent_subsidy(self) -> RentSubsidy | None:
        if self.housing != "rent_subsidy" or self.monthly_subsidy is None or self.subsidy_start is None:
            return None
        return RentSubsidy(self.monthly_subsidy, self.subsidy_start, self.district)

    @event(MembersChanged)
    def change_members(self, members: list[dict[str, Any]]) -> None:
        self.members = tuple(MemberRecord(m) for m in members)

    def member_of(self, person_hash: str) -> dict[str, Any] | None:
        return next((m for m in self.members if m["person_hash"] == person_hash), None)

    def record_fact(
        self, department: str, reference: str, described_on: date, fact: dict[str, Any], scope: str
    ) -> None:
        self._fact_recorded(department, reference, described_on, str(fact["kind"]), scope, fact)

    @event(FactRecorded)
    def _fact_recorded(
        self, department: str, reference: str, described_on: date, kind: str, scope: str, fact: dict[str, Any]
    ) -> None:
        field = FACT_VALUE_FIELDS.get(kind)
        if field is None:
            return  # recorded for the trail (and monitoring); no exit rule reads it
        if kind == "property":
            scope = str(fact["property_ref"])
            known = next((p for p in self.property_places if p[0] == scope), None)
            if known is None or known[3] <= described_on:
                place = (scope, str(fact["city"]), Decimal(str(fact["area_m2"])), described_on)
                self.property_places = (*(p for p in self.property_places if p[0] != scope), place)
        observation = rules.Observation(
            Decimal(str(fact[field])), rules.Source(department, reference, described_on), scope
        )
        current = self.facts.setdefault(kind, {}).get(scope, ())
        if current and current[0].source.described_on > described_on:
            return  # older than what we know: kept in the event history only
        if current and current[0].source.described_on == described_on:
            # A department's later record of the same date corrects its earlier one; records of the
            # same date from different departments are kept side by side (a conflict if they differ).
            others = tuple(o for o in current if o.source.department != department)
            self.facts[kind][scope] = (*others, observation)
        else:
            self.facts[kind][scope] = (observation,)

    def newer_record(
        self, kind: str, scope: str, fact: Mapping[str, Any], described_on: date
    ) -> rules.Source | None:
        """The record on file that describes a later day than a fact of `kind` about `scope` (a
        member's id or `household`; a property is its own scope) describing `described_on`: such a
        fact is kept in the history but does not replace it (`_fact_recorded`). None when the fact
        would be used, or no rule reads its kind."""
        if kind not in FACT_VALUE_FIELDS:
            return None
        if kind == "property":
            scope = str(fact["property_ref"])
        current = self.facts.get(kind, {}).get(scope, ())
        if current and current[0].source.described_on > described_on:
            return current[0].source
        return None

    def snapshot(self) -> rules.Snapshot:
        """The rule inputs as of now (copied: later facts do not change a snapshot), with the current
        members' ids: the income rule divides their own incomes over them."""
        facts = {kind: dict(scopes) for kind, scopes in self.facts.items()}
        members = tuple(str(m["member_id"]) for m in self.members)
        return rules.Snapshot(
            self.region, facts, dict(self.cross_region), members, dict(self.cross_region_matched)
        )

    @event(CrossRegionAnswered)
    def cross_region_answered(self, check_id: UUID, city: str, result: str, matched: list[str]) -> None:
        """A city's answer replaces its earlier one; the others stay until they answer again (a new
        check does not forget a match while it is being asked again)."""
        if check_id == self.check_id and result in ("match", "no_match", "unverified"):
            self.cross_region[city] = result  # type: ignore[assignment]
            others = tuple((c, m) for c, m in self.cross_region_matched if c != city)
            self.cross_region_matched = (*others, (city, tuple(matched)))
            if city not in self.check_answered:
                self.check_answered = (*self.check_answered, city)

    @event(CrossRegionRequested)
    def cross_region_requested(
        self,
        check_id: UUID,
        cities: list[str],
        purpose: str,
        requested_at: datetime,
        reason: str,
        subjects: list[str],
    ) -> None:
        self.check_id = check_id
        self.check_cities = tuple(cities)
        self.check_answered = ()
        self.checked_at = requested_at

    @event(Left)
    def leave(self, on: date, how: str) -> None:
        self.left_on = on

    @event(RegisterUpdated)
    def register_updated(
        self, subjects: list[str], categories: dict[str, bool], as_of: date, basis: list[str]
    ) -> None:
        self.register_basis = tuple(basis)
        self.register_categories = Recorded(dict(categories))

    @property
    def outcome(self) -> str | None:
        return None if self.decision is None else str(self.decision.data["outcome"])

    @event(Evaluated)
    def evaluated(self, review_id: UUID, decision: dict[str, Any], previous_outcome: str | None) -> None:
        self.review_id = review_id
        self.decision = Recorded(decision)

    @event(CaseOpened)
    def case_opened(
        self, case_id: UUID, review_id: UUID, check_id: UUID, reason: str, rules: list[str]
    ) -> None:
        self.open_case = case_id
        self.check_id = check_id

    @event(OccupancyNoted)
    def note_occupancy(self, warning_id: UUID, step: str, on: date, detail: str, by: str | None) -> None:
        """The warning's latest step replaces its earlier one (the events keep every step)."""
        entry = Recorded({"warning_id": warning_id, "step": step, "on": on, "detail": detail, "by": by})
        others = tuple(o for o in self.occupancy if o.data["warning_id"] != warning_id)
        self.occupancy = (*others, entry)

    @event(CaseClosed)
    def case_closed(self, case_id: UUID, outcome: str) -> None:
        if self.open_case == case_id:
            self.open_case = None

    @event(CaseReopened)
    def case_reopened(self, case_id: UUID, reason: str) -> None:
        """An appeal reopened a decided case: it is the household's open case again, so a later
        automated exit trigger does not open a second one beside it."""
        self.open_case = case_id


class PersonIndex(Aggregate):
    """Where a person (by hash) lives now; the hash is the only key departments share with us."""

    class Linked(Aggregate.Created):
        person_hash: str
        household_id: UUID
        member_id: UUID

    class Moved(Aggregate.Event):
        household_id: UUID | None
        member_id: UUID | None

    @staticmethod
    @functools.lru_cache(maxsize=16384)  # asked three times per member (batch look-up, find, creation)
    def create_id(person_hash: str) -> UUID:
        return uuid5(NAMESPACE, f"person/{person_hash}")

    @event(Linked)
    def __init__(self, person_hash: str, household_id: UUID, member_id: UUID) -> None:
        self.person_hash = person_hash
        self.household_id: UUID | None = household_id
        self.member_id: UUID | None = member_id

    @event(Moved)
    def move(self, household_id: UUID | None, member_id: UUID | None) -> None:
        self.household_id = household_id
        self.member_id = member_id


class FactReceipt(Aggregate):
    """Proof that (department, reference) was received: the key of idempotent intake.
    `household_id` is None for a fact parked until its person is registered."""

    class Received(Aggregate.Created):
        department: str
        reference: str
        household_id: UUID | None

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # asked three times per fact (batch look-up, intake, creation)
    def create_id(department: str, reference: str) -> UUID:
        return uuid5(NAMESPACE, f"fact/{department}/{reference}")

    @event(Received)
    def __init__(self, department: str, reference: str, household_id: UUID | None) -> None:
        self.department = department
        self.reference = reference
        self.household_id = household_id


class RegistrationReceipt(Aggregate):
    """Proof that a registration with this external reference (the registering office's own number
    for the household, e.g. `H000001`) was taken: a registration sent again is answered with the
    household it created, not a second household or a refusal."""

    class Received(Aggregate.Created):
        reference: str
        household_id: UUID

    @staticmethod
    @functools.lru_cache(maxsize=8192)  # asked twice per registration (batch look-up, find)
    def create_id(reference: str) -> UUID:
        return uuid5(NAMESPACE, f"registration/{reference}")

    @event(Received)
    def __init__(self, reference: str, household_id: UUID) -> None:
        self.reference = reference
        self.household_id = household_id


@dataclass(frozen=True)
class ParkedFact:
    department: str
    reference: str
    described_on: date
    fact: Mapping[str, Any]


class ParkedFacts(Aggregate):
    """Facts about a person (by hash) whom no household holds yet.

    Departments report on their own schedule: a fact may arrive before the household is registered, or
    between a member's move out of one household and into another. Such facts are kept here, and
    recorded on the household the moment the person is linked to one.
    """

    class Opened(Aggregate.Created):
        person_hash: str

    class Parked(Aggregate.Event):
        department: str
        reference: str
        described_on: date
        fact: dict[str, Any]

    class Released(Aggregate.Event):
        household_id: UUID
        count: int

    @staticmethod
    @functools.lru_cache(maxsize=16384)  # asked twice per member (batch look-up, find)
    def create_id(person_hash: str) -> UUID:
        return uuid5(NAMESPACE, f"parked/{person_hash}")

    @event(Opened)
    def __init__(self, person_hash: str) -> None:
        self.person_hash = person_hash
        self.pending: tuple[ParkedFact, ...] = ()

    @event(Parked)
    def park(self, department: str, reference: str, described_on: date, fact: dict[str, Any]) -> None:
        self.pending = (*self.pending, ParkedFact(department, reference, described_on, fact))

    def release(self, household_id: UUID) -> tuple[ParkedFact, ...]:
        """The facts to record on `household_id`, now that the person belongs to it."""
        pending = self.pending
        if pending:
            self._released(household_id, len(pending))
        return pending

    @event(Released)
    def _released(self, household_id: UUID, count: int) -> None:
        self.pending = ()


class ParameterBook(Aggregate):
    """Dated values supervisors added: one event each, never an overwrite."""

    class Opened(Aggregate.Created):
        pass

    class ValueAdded(Aggregate.Event):
        rule: str
        region: str
        effective_from: date
        value: Decimal
        unit: str
        legal_reference: str
        added_by: str
        reason: str

    @staticmethod
    def create_id() -> UUID:
        return uuid5(NAMESPACE, "parameters")

    @event(Opened)
    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []

    @event(ValueAdded)
    def add_value(
        self,
        rule: str,
        region: str,
        effective_from: date,
        value: Decimal,
        unit: str,
        legal_reference: str,
        added_by: str,
        reason: str,
    ) -> None:
        self.values.append(
            {
                "rule": rule,
                "region": region,
                "effective_from": effective_from,
                "value": value,
                "unit": unit,
                "legal_reference": legal_reference,
                "added_by": added_by,
                "reason": reason,
            }
        )

    def parameter_values(self) -> list[rules.ParameterValue]:
        return [
            rules.ParameterValue(
                rule=v["rule"],
                region=v["region"],
                effective_from=v["effective_from"],
                value=Decimal(str(v["value"])),
                unit=v["unit"],
                legal_reference=v["legal_reference"],
                added_by=v["added_by"],
            )
            for v in self.values
        ]


# -- the manual re-review ----------------------------------------------------------------------------


class CaseError(Exception):
    """A step the case refuses; `status` is the HTTP status the API answers with."""

    status = 409
    title = "Step not allowed in this state"


class FourEyesViolation(CaseError):
    status = 403
    title = "Four-eyes principle"


class RoleRefused(CaseError):
    status = 403
    title = "Role not allowed"


class AppealFourEyes(CaseError):
    """The appeal's decider approved the decision or lodged the appeal: refused as every four-eyes
    step is (403, naming the rule; gateway/README.md, "Statuses")."""

    status = 403
    title = "Four-eyes principle"


class ReviewCase(Aggregate):
    """Statuses: open → proposed → decided; proposed → open (sent back); open → assessment → open;
    decided → appealed → proposed → decided; decided → appealed → decided (an exit decision's appeal
    upheld or overturned by a supervisor, `decide_appeal`)."""

    class Opened(Aggregate.Created):
        household_id: UUID
        review_id: UUID
        reason: str
        opened_at: datetime
        region: str
        estate: str | None

    class FindingRecorded(Aggregate.Event):
        household_id: UUID
        reviewer: str
        role: str
        findings: str
        proposed_outcome: str
        reason_code: str
        low_income: bool
        wants_to_buy: bool
        at: datetime

    class Approved(Aggregate.Event):
        """Carries the approved proposal so the relay can publish it from the event alone."""

        approver: str
        role: str
        reason: str
        at: datetime
        household_id: UUID
        review_id: UUID
        outcome: str
        reviewer: str
        low_income: bool
        wants_to_buy: bool
        appeal: bool
        previous_outcome: str | None

    class SentBack(Aggregate.Event):
        supervisor: str
        role: str
        reason: str
        at: datetime

    class AssessmentRequested(Aggregate.Event):
        household_id: UUID
        requested_by: str
        role: str
        assessor_id: str
        deadline: date
        reason: str
        at: datetime

    class AssessmentReceived(Aggregate.Event):
        household_id: UUID
        assessor_id: str
        role: str
        report: str
        recommendation: str
        at: datetime

    class AppealLodged(Aggregate.Event):
        household_id: UUID
        lodged_by: str
        role: str
        reason: str
        at: datetime

    class AppealDecided(Aggregate.Event):
        """A supervisor decided an appeal against an exit decision: `upheld` (the decision stands) or
        `overturned` (the household keeps its home: `outcome` is `retain`)."""

        household_id: UUID
        decided_by: str
        role: str
        decision: str
        reason: str
        at: datetime
        outcome: str
        previous_outcome: str | None

    @event(Opened)
    def __init__(
        self,
        household_id: UUID,
        review_id: UUID,
        reason: str,
        opened_at: datetime,
        region: str,
        estate: str | None,
    ) -> None:
        """`estate` is None for a household on a rent subsidy (see `Household`)."""
        self.household_id = household_id
        self.review_id = review_id
        self.reason = reason
        self.opened_at = opened_at
        self.region = region
        self.estate = estate
        self.status = "open"
        self.proposal: dict[str, Any] | None = None
        self.final_outcome: str | None = None
        self.final_proposal: dict[str, Any] | None = None
        self.decided_at: datetime | None = None
        self.assessments: list[dict[str, Any]] = []
        self.appeals: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self._step(opened_at, "system", "system", "opened", reason, None, "open")

    def _step(
        self, at: datetime, actor: str, role: str, action: str, reason: str, before: Any, after: Any
    ) -> None:
        self.steps.append(
            {
                "at": at,
                "actor": actor,
                "role": role,
                "action": action,
                "reason": reason,
                "before": before,
                "after": after,
            }
        )

    def _require(self, *statuses: str) -> None:
        if self.status not in statuses:
            raise CaseError(f"the case is {self.status}; this step needs {' or '.join(statuses)}")

    # -- commands: check, then record ------------------------------------------------------------------

    def record_finding(
        self,
        reviewer: str,
        role: str,
        findings: str,
        proposed_outcome: str,
        reason_code: str,
        at: datetime,
        low_income: bool = False,
        wants_to_buy: bool = False,
    ) -> None:
        self._require("open", "appealed")
        if role not in REVIEWER_ROLES:
            raise RoleRefused(f"a {role} cannot record findings; reviewers and supervisors can")
        if proposed_outcome not in PROPOSALS:
            raise CaseError(f"proposed_outcome must be one of {', '.join(PROPOSALS)}")
        self._finding_recorded(
            self.household_id,
            reviewer,
            role,
            findings,
            proposed_outcome,
            reason_code,
            low_income,
            wants_to_buy,
            at,
        )

    def approve(self, approver: str, role: str, reason: str, at: datetime) -> None:
        self._require("proposed")
        self._second_pair_of_eyes(approver, role, "approve")
        assert self.proposal is not None
        proposal = self.proposal
        self._approved(
            approver,
            role,
            reason,
            at,
            self.household_id,
            self.review_id,
            proposal["proposed_outcome"],
            proposal["reviewer"],
            proposal["low_income"],
            proposal["wants_to_buy"],
            proposal["appeal"],
            self.final_outcome,
        )

    def send_back(self, supervisor: str, role: str, reason: str, at: datetime) -> None:
        self._require("proposed")
        self._second_pair_of_eyes(supervisor, role, "send back")
        self._sent_back(supervisor, role, reason, at)

    def request_assessment(
        self,
        requested_by: str,
        role: str,
        assessor_id: str,
        deadline: date,
        reason: str,
        at: datetime,
        today: date,
    ) -> None:
        """`today`: the city's date at `at` (a deadline is a calendar date in Foshan, not in UTC)."""
        self._require("open", "appealed")
        if role not in REVIEWER_ROLES:
            raise RoleRefused(f"a {role} cannot request a third-party assessment")
        if deadline <= today:
            raise CaseError(f"the assessment deadline must be after today ({today})")
        self._assessment_requested(self.household_id, requested_by, role, assessor_id, deadline, reason, at)

    def receive_assessment(
        self, assessor_id: str, role: str, report: str, recommendation: str, at: datetime
    ) -> None:
        self._require("assessment")
        pending = self.assessments[-1]
        if role != "assessor":
            raise RoleRefused(f"a {role} cannot file an assessment report; the assigned assessor does")
        if assessor_id != pending["assessor_id"]:
            raise RoleRefused(f"the assessment was requested from {pending['assessor_id']}")
        self._assessment_received(self.household_id, assessor_id, role, report, recommendation, at)

    def lodge_appeal(
        self,
        lodged_by: str,
        role: str,
        reason: str,
        at: datetime,
        window_days: int,
        local_date: Callable[[datetime], date],
    ) -> None:
        """The window is counted in the city's calendar days (`local_date`) from the decision's day: it
        closes at the end of its last day in Foshan, whatever the UTC date."""
        self._require("decided")
        if role not in APPELLANT_ROLES:
            raise RoleRefused("an appeal is lodged by the household or by an operator on its behalf")
        assert self.decided_at is not None
        closes = local_date(self.decided_at) + timedelta(days=window_days)
        if local_date(at) > closes:
            raise CaseError(f"the appeal window closed on {closes} ({window_days} days)")
        self._appeal_lodged(self.household_id, lodged_by, role, reason, at)

    def decide_appeal(self, decided_by: str, role: str, decision: str, reason: str, at: datetime) -> None:
        """An appeal against an exit decision, decided by a supervisor who neither approved the decision
        appealed against nor lodged the appeal (four eyes)."""
        self._require("appealed")
        if role != "supervisor":
            raise RoleRefused("only a supervisor decides an appeal")
        if decision not in APPEAL_DECISIONS:
            raise CaseError(f"decision must be one of {', '.join(APPEAL_DECISIONS)}")
        if not reason.strip():
            raise CaseError("an appeal's decision gives its reason")
        previous = self.final_outcome
        if previous not in EXIT_OUTCOMES:
            raise CaseError(
                f"the decision appealed against is {previous}, not an exit: record findings on the appeal"
            )
        approver = (self.final_proposal or {}).get("approver")
        if decided_by == approver:
            raise AppealFourEyes(
                f"four-eyes rule: {decided_by} approved the exit decision appealed against and cannot "
                "also decide the appeal"
            )
        lodged_by = self.appeals[-1]["lodged_by"]
        if decided_by == lodged_by:
            raise AppealFourEyes(f"four-eyes rule: {decided_by} lodged this appeal and cannot also decide it")
        outcome = previous if decision == "upheld" else "retain"
        self._appeal_decided(self.household_id, decided_by, role, decision, reason, at, outcome, previous)

    def _second_pair_of_eyes(self, actor: str, role: str, what: str) -> None:
        assert self.proposal is not None
        if role != "supervisor":
            raise RoleRefused(f"only a supervisor can {what} a proposal")
        if actor == self.proposal["reviewer"]:
            raise FourEyesViolation(f"{actor} proposed this outcome and cannot also {what} it")

    # -- events ----------------------------------------------------------------------------------------

    @event(FindingRecorded)
    def _finding_recorded(
        self,
        household_id: UUID,
        reviewer: str,
        role: str,
        findings: str,
        proposed_outcome: str,
        reason_code: str,
        low_income: bool,
        wants_to_buy: bool,
        at: datetime,
    ) -> None:
        before = self.status
        self.proposal = {
            "reviewer": reviewer,
            "findings": findings,
            "proposed_outcome": proposed_outcome,
            "reason_code": reason_code,
            "low_income": low_income,
            "wants_to_buy": wants_to_buy,
            "at": at,
            "appeal": before == "appealed",
        }
        self.status = "proposed"
        self._step(at, reviewer, role, "finding", f"{reason_code}: {findings}", before, proposed_outcome)

    @event(Approved)
    def _approved(
        self,
        approver: str,
        role: str,
        reason: str,
        at: datetime,
        household_id: UUID,
        review_id: UUID,
        outcome: str,
        reviewer: str,
        low_income: bool,
        wants_to_buy: bool,
        appeal: bool,
        previous_outcome: str | None,
    ) -> None:
        assert self.proposal is not None
        before = self.final_outcome
        if appeal and self.appeals:
            self.appeals[-1]["resolved_at"] = at
            self.appeals[-1]["outcome"] = outcome
            self.appeals[-1]["overturned"] = outcome != before
        self.final_outcome = outcome
        self.final_proposal = {**self.proposal, "approver": approver, "approved_at": at}
        self.decided_at = at
        self.status = "decided"
        self._step(at, approver, role, "approved", reason, before, self.final_outcome)

    @event(SentBack)
    def _sent_back(self, supervisor: str, role: str, reason: str, at: datetime) -> None:
        assert self.proposal is not None
        outcome = self.proposal["proposed_outcome"]
        self.status = "appealed" if self.proposal["appeal"] else "open"
        self.proposal = None
        self._step(at, supervisor, role, "sent_back", reason, outcome, None)

    @event(AssessmentRequested)
    def _assessment_requested(
        self,
        household_id: UUID,
        requested_by: str,
        role: str,
        assessor_id: str,
        deadline: date,
        reason: str,
        at: datetime,
    ) -> None:
        self.assessments.append(
            {
                "requested_by": requested_by,
                "assessor_id": assessor_id,
                "deadline": deadline,
                "requested_at": at,
                "reason": reason,
                "resume": self.status,
                "report": None,
                "recommendation": None,
                "received_at": None,
            }
        )
        before = self.status
        self.status = "assessment"
        self._step(at, requested_by, role, "assessment_requested", reason, before, assessor_id)

    @event(AssessmentReceived)
    def _assessment_received(
        self, household_id: UUID, assessor_id: str, role: str, report: str, recommendation: str, at: datetime
    ) -> None:
        pending = self.assessments[-1]
        pending.update(report=report, recommendation=recommendation, received_at=at)
        self.status = pending["resume"]
        self._step(at, assessor_id, role, "assessment_received", report, None, recommendation)

    @event(AppealLodged)
    def _appeal_lodged(
        self, household_id: UUID, lodged_by: str, role: str, reason: str, at: datetime
    ) -> None:
        self.appeals.append({"lodged_by": lodged_by, "reason": reason, "lodged_at": at, "outcome": None})
        self.status = "appealed"
        self.proposal = None
        self._step(at, lodged_by, role, "appeal_lodged", reason, self.final_outcome, "appealed")

    @event(AppealDecided)
    def _appeal_decided(
        self,
        household_id: UUID,
        decided_by: str,
        role: str,
        decision: str,
        reason: str,
        at: datetime,
        outcome: str,
        previous_outcome: str | None,
    ) -> None:
        appeal = self.appeals[-1]
        appeal.update(
            resolved_at=at,
            outcome=outcome,
            overturned=outcome != previous_outcome,
            decision=decision,
            decided_by=decided_by,
            decision_reason=reason,
        )
        if outcome != previous_outcome:
            # the exit decision is withdrawn: the household keeps its home, decided today
            self.final_proposal = {
                **(self.final_proposal or {}),
                "proposed_outcome": outcome,
                "approver": decided_by,
                "approved_at": at,
                "appeal": True,
            }
            self.decided_at = at
        self.final_outcome = outcome
        self.status = "decided"
        self._step(at, decided_by, role, "appeal_decided", reason, previous_outcome, decision)
