"""The Eligibility application: commands (registration, fact intake, parameters, review steps) and
queries (households, cases, parameters, reviewer reports, what-if).

Fact intake has one code path for both doors (HTTP batch and the NATS inbox): `intake_fact` writes
through a `UnitOfWork`, so a batch of facts is one transaction whichever way it came, and a repeated
(department, reference) is found by its receipt in the store or earlier in the same batch.
HTTP commands of one process are serialised by a lock and retried on a concurrency conflict with the
inbox (optimistic concurrency: the store refuses a second writer of the same aggregate version).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from contracts.department import DepartmentFactReported
from services.eligibility import identity, queries, rules
from services.eligibility.domain import (
    FactReceipt,
    Household,
    ParameterBook,
    ParkedFacts,
    PersonIndex,
    RegistrationReceipt,
    RentSubsidy,
    ReviewCase,
    RoleRefused,
)
from services.eligibility.projection import Population
from services.eligibility.register import PROPERTY_RULE, RegisterKeeper
from services.eligibility.settings import EligibilitySettings
from services.eligibility.sweeps import SweepOrders
from services.kit.clock import Clock
from services.kit.linkage import Keyring, load_keyring
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork, run_in_unit_of_work

T = TypeVar("T")
IntakeStatus = Literal["recorded", "duplicate", "parked", "unmatched"]
RegistrationStatus = Literal["registered", "duplicate"]
REGISTER_CHUNK = 100
"""Registrations per transaction in a batch (each is ~4-5 events: the household, a person index per
member, its receipt), as many as HTTP fact batches commit at once (`INGEST_CHUNK`): larger chunks were
measured no cheaper (CPU per household) on SQLite, and a write conflict redoes only its chunk."""
CONFLICT_RETRIES = 5
INGEST_CHUNK = 100


class NotFound(LookupError):
    """No such household, case or rule."""


class Refused(ValueError):
    """A command the current state refuses (e.g. a person already in another household)."""


@dataclass(frozen=True)
class MemberInput:
    """A member as the registration API receives them; the ID number stops here."""

    id_number: str
    birth_date: date
    disabled: bool


@dataclass(frozen=True)
class TenancyInput:
    """A unit the household rents from the bureau."""

    estate: str
    building: str
    unit: str
    base_rent: Decimal
    start: date


@dataclass(frozen=True)
class Registration:
    """One household to register: its housing is a tenancy or a rent subsidy. `reference` is the
    registering office's own number for the household, if it has one: sent again, the registration
    is answered with the household it made."""

    region: str
    housing: TenancyInput | RentSubsidy
    members: Sequence[MemberInput]
    reference: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who does a step, for the accountability trail (the gateway authenticates them)."""

    operator_id: str
    role: str


class EligibilityApp(ServiceApplication):
    name = "Eligibility"

    def __init__(
        self,
        settings: EligibilitySettings,
        env: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = settings
        self.defaults = rules.load_table()
        self._table_cache: tuple[int, rules.ParameterTable] | None = None
        self._in_force_cache: tuple[rules.ParameterTable | None, dict[tuple[str, date], rules.InForce]] = (
            None,
            {},
        )
        self._write_lock = threading.RLock()
        self._books: weakref.WeakKeyDictionary[UnitOfWork, ParameterBook | None] = weakref.WeakKeyDictionary()
        keys = settings.linkage_keys_file
        keyring = Keyring() if keys is None else load_keyring(keys, settings.home_region)
        self.register_keeper = RegisterKeeper(keyring, settings.home_region)
        super().__init__(settings, env, clock)
        self.population = Population(self)

    # -- unit-of-work plumbing for HTTP commands ---------------------------------------------------------

    def _in_uow(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run `work` in a unit of work and commit it; redo it from scratch on a write conflict."""
        with self._write_lock:
            return run_in_unit_of_work(self, work, attempts=CONFLICT_RETRIES)

    # -- households ------------------------------------------------------------------------------------

    def _member_record(self, member: MemberInput, member_id: UUID | None = None) -> dict[str, Any]:
        if not identity.is_valid(member.id_number):
            raise Refused("an ID number has 17 digits and a final digit or X")
        return {
            "member_id": member_id or uuid4(),
            "person_hash": identity.person_hash(member.id_number, self.config.person_hash_key),
            "id_number": identity.normalise(member.id_number),
            "birth_date": member.birth_date,
            "disabled": member.disabled,
        }

    def register_household(
        self,
        *,
        region: str,
        estate: str | None = None,
        building: str | None = None,
        unit: str | None = None,
        base_rent: Decimal | None = None,
        tenancy_start: date | None = None,
        members: Sequence[MemberInput],
        registered_by: str | None = None,
        rent_subsidy: RentSubsidy | None = None,
        reference: str | None = None,
    ) -> Household:
        """A household in a unit (estate ... tenancy_start) or on a rent subsidy (`rent_subsidy`)."""
        housing: TenancyInput | RentSubsidy
        if rent_subsidy is not None:
            housing = rent_subsidy
        elif estate and building and unit and base_rent is not None and tenancy_start is not None:
            housing = TenancyInput(estate, building, unit, base_rent, tenancy_start)
        else:
            raise Refused("a household has a tenancy (estate, building, unit, rent, start) or a rent subsidy")
        return self.register(Registration(region, housing, members, reference), registered_by)[1]

    def register(
        self, registration: Registration, registered_by: str | None = None
    ) -> tuple[RegistrationStatus, Household]:
        """One registration; `duplicate` (with the household made before) for a reference already taken."""
        return self._in_uow(lambda uow: self._register(uow, registration, registered_by))

    def register_batch(
        self, registrations: Sequence[Registration], registered_by: str | None = None
    ) -> list[tuple[RegistrationStatus, Household] | Refused]:
        """Many registrations, `REGISTER_CHUNK` per transaction; one refused (an invalid ID number, a
        member of another household) is answered as such and does not cost the others theirs."""
        answers: list[tuple[RegistrationStatus, Household] | Refused] = []
        for start in range(0, len(registrations), REGISTER_CHUNK):
            chunk = registrations[start : start + REGISTER_CHUNK]

            def work(
                uow: UnitOfWork, chunk: Sequence[Registration] = chunk
            ) -> list[tuple[RegistrationStatus, Household] | Refused]:
                self._prefetch_registrations(uow, chunk)
                out: list[tuple[RegistrationStatus, Household] | Refused] = []
                for registration in chunk:
                    try:
                        out.append(self._register(uow, registration, registered_by))
                    except Refused as exc:
                        out.append(exc)
                return out

            answers += self._in_uow(work)
        return answers

    def _prefetch_registrations(self, uow: UnitOfWork, registrations: Sequence[Registration]) -> None:
        """One store query for what a chunk of new households would otherwise each ask (its receipt,
        and every member's person index and parked facts, which mostly do not exist)."""
        key = self.config.person_hash_key
        ids: list[UUID] = []
        for registration in registrations:
            if registration.reference is not None:
                ids.append(RegistrationReceipt.create_id(registration.reference))
            for member in registration.members:
                person = identity.person_hash(member.id_number, key)
                ids += (PersonIndex.create_id(person), ParkedFacts.create_id(person))
        uow.prefetch(ids)

    def _register(
        self, uow: UnitOfWork, registration: Registration, registered_by: str | None
    ) -> tuple[RegistrationStatus, Household]:
        """Everything that can refuse the registration is checked before anything is written to `uow`,
        so a refused one leaves the batch's unit of work as it was."""
        if registration.reference is not None:
            receipt = uow.find(RegistrationReceipt.create_id(registration.reference), RegistrationReceipt)
            if receipt is not None:
                return "duplicate", self._household(uow, receipt.household_id)
        records = [self._member_record(m) for m in registration.members]
        _no_repeats(records)
        for record in records:
            index = uow.find(PersonIndex.create_id(record["person_hash"]), PersonIndex)
            if index is not None and index.household_id is not None:
                raise Refused(f"a member already belongs to household {index.household_id}")
        housing = registration.housing
        household: Household
        if isinstance(housing, RentSubsidy):
            household = Household.on_rent_subsidy(
                registration.region, housing, records, registered_by, registration.reference
            )
        else:
            household = Household(
                registration.region,
                housing.estate,
                housing.building,
                housing.unit,
                housing.base_rent,
                housing.start,
                records,
                registered_by,
                reference=registration.reference,
            )
        uow.add(household)
        if registration.reference is not None:
            uow.add(RegistrationReceipt(registration.reference, household.id))
        released = sum(self._link(uow, record, household) for record in records)
        if released:
            self.evaluate_household(uow, household)
        self.refresh_register(uow, household)
        return "registered", household

    def _link(self, uow: UnitOfWork, record: dict[str, Any], household: Household) -> int:
        """Point the person's index at `household` and record the facts parked for them there;
        returns how many were."""
        person_hash = record["person_hash"]
        index = uow.find(PersonIndex.create_id(person_hash), PersonIndex)
        if index is None:
            uow.add(PersonIndex(person_hash, household.id, record["member_id"]))
        elif index.household_id is None:
            index.move(household.id, record["member_id"])
        elif index.household_id != household.id:
            raise Refused(f"a member already belongs to household {index.household_id}")
        else:
            return 0
        parked = uow.find(ParkedFacts.create_id(person_hash), ParkedFacts)
        if parked is None:
            return 0
        released = parked.release(household.id)
        for fact in released:
            scope = str(record["member_id"])  # parked for a person: about that member (income too)
            household.record_fact(fact.department, fact.reference, fact.described_on, dict(fact.fact), scope)
        return len(released)

    def change_members(self, household_id: UUID, members: Sequence[MemberInput]) -> Household:
        """Replace the member list; a member keeps their member_id (matched by person hash)."""

        def work(uow: UnitOfWork) -> Household:
            household = self._household(uow, household_id)
            known = {m["person_hash"]: m["member_id"] for m in household.members}
            records = []
            for member in members:
                hashed = identity.person_hash(member.id_number, self.config.person_hash_key)
                records.append(self._member_record(member, known.get(hashed)))
            _no_repeats(records)
            released = sum(self._link(uow, record, household) for record in records)
            remaining = {r["person_hash"] for r in records}
            for gone in (m for m in household.members if m["person_hash"] not in remaining):
                index = uow.find(PersonIndex.create_id(gone["person_hash"]), PersonIndex)
                if index is not None and index.household_id == household.id:
                    index.move(None, None)
            household.change_members(records)
            if released or household.decision is not None:
                # who the members are is a rule input (per-capita income over the members)
                self.evaluate_household(uow, household)
            self.refresh_register(uow, household)
            return household

        return self._in_uow(work)

    def _household(self, uow: UnitOfWork, household_id: UUID) -> Household:
        household: Household | None
        try:
            household = uow.find(household_id, Household)
        except TypeError:
            household = None
        if household is None:
            raise NotFound(f"no household {household_id}")
        return household

    def household(self, household_id: UUID) -> Household:
        household: Any
        try:
            household = self.repository.get(household_id)
        except AggregateNotFoundError:
            raise NotFound(f"no household {household_id}") from None
        if not isinstance(household, Household):
            raise NotFound(f"no household {household_id}")
        return household

    # -- department facts ------------------------------------------------------------------------------

    def ingest(self, reports: Sequence[DepartmentFactReported]) -> list[IntakeStatus]:
        """HTTP batch intake: the valid facts of a request, one transaction per `INGEST_CHUNK` facts.

        Chunks keep transactions small: on PostgreSQL, the library's pipelined insert of a few
        hundred events (~1-2 KB each) in one transaction was seen to hang (server waiting for the
        client, client waiting for the sync), with psycopg's Python and C implementations alike.
        A chunk's write conflict is also redone without redoing the whole request.
        """
        statuses: list[IntakeStatus] = []
        for start in range(0, len(reports), INGEST_CHUNK):
            chunk = reports[start : start + INGEST_CHUNK]

            def work(uow: UnitOfWork, chunk: Sequence[DepartmentFactReported] = chunk) -> list[IntakeStatus]:
                self.prefetch_receipts(uow, chunk)
                return [self.intake_fact(uow, report) for report in chunk]

            statuses += self._in_uow(work)
        return statuses

    def intake_fact(self, uow: UnitOfWork, report: DepartmentFactReported) -> IntakeStatus:
        """Record one fact on its household, which is re-evaluated when `uow` commits (once for all its
        facts in the unit of work); ignore a fact already received.

        A fact about a person no household holds yet is `parked` (with its receipt) and recorded on
        the household that later takes them in. A fact naming only a household id we do not know is
        `unmatched` and leaves no receipt: the department's data is wrong, and it can send the fact
        again corrected.
        """
        department = report.department.value
        if uow.find(FactReceipt.create_id(department, report.reference), FactReceipt) is not None:
            return "duplicate"
        household, member = self._locate(uow, report)
        if household is None:
            if report.person_hash is None:
                return "unmatched"
            self._park(uow, report, report.person_hash)
            return "parked"
        if report.person_hash is not None and member is None:
            # a household and a person who is not its member: which one the figure describes is
            # unknowable (a member's income read as the household's would decide wrongly)
            return "unmatched"
        uow.add(FactReceipt(department, report.reference, household.id))
        fact = report.fact.model_dump()
        scope = str(member["member_id"]) if member is not None else "household"
        household.record_fact(department, report.reference, report.described_on, fact, scope)
        self.evaluate_before_commit(uow, household.id)
        return "recorded"

    def prefetch_receipts(self, uow: UnitOfWork, reports: Sequence[DepartmentFactReported]) -> None:
        """One store query for the receipts of a batch of facts (new facts have none: without this,
        each would cost a query that finds nothing)."""
        uow.prefetch(FactReceipt.create_id(r.department.value, r.reference) for r in reports)

    def _park(self, uow: UnitOfWork, report: DepartmentFactReported, person_hash: str) -> None:
        parked = uow.find(ParkedFacts.create_id(person_hash), ParkedFacts)
        if parked is None:
            parked = ParkedFacts(person_hash)
            uow.add(parked)
        department = report.department.value
        parked.park(department, report.reference, report.described_on, report.fact.model_dump())
        uow.add(FactReceipt(department, report.reference, None))

    def note_occupancy(
        self,
        uow: UnitOfWork,
        household_id: UUID | None,
        warning_id: UUID,
        step: str,
        on: date,
        detail: str,
        by: str | None = None,
    ) -> bool:
        """Monitoring's warnings are facts for the review: kept on the household, shown to reviewers;
        False for a household we do not know."""
        if household_id is None:
            return False
        try:
            household = uow.find(household_id, Household)
        except TypeError:
            household = None
        if household is None:
            return False
        household.note_occupancy(warning_id, step, on, detail[:500], by)
        return True

    def record_cross_region(
        self, uow: UnitOfWork, household_id: UUID, check_id: UUID, city: str, result: str
    ) -> bool:
        """A peer city's answer to the household's current check; re-evaluates the household.
        An answer to an older check, or about an unknown household, changes nothing."""
        try:
            household = uow.find(household_id, Household)
        except TypeError:
            household = None
        if household is None or household.check_id != check_id:
            return False
        household.cross_region_answered(check_id, city, result)
        self.evaluate_before_commit(uow, household.id)
        return True

    # -- cross-region checks: the periodic sweep and operators' orders --------------------------------

    def sweep_policy(self, orders: SweepOrders | None) -> queries.SweepPolicy:
        table = self.current_table()
        today = self.today()
        days: dict[str, int] = {}

        def recheck_days(region: str) -> int:
            if region not in days:
                value = table.value_at("cross_region_recheck_days", region, today)
                days[region] = self.config.cross_region_recheck_days if value is None else int(value.value)
            return days[region]

        return queries.SweepPolicy(
            now=self.clock(),
            recheck_days=recheck_days,
            first_after=timedelta(seconds=self.config.cross_region_first_check_after_s),
            retry=timedelta(seconds=self.config.cross_region_retry_s),
            orders=orders.orders if orders is not None else (),
        )

    def _sweep_orders(self) -> SweepOrders | None:
        """The orders as stored (not as cached: another replica may have taken one since)."""
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(SweepOrders.create_id(), evict=True)
        orders: Any
        try:
            orders = self.repository.get(SweepOrders.create_id())
        except AggregateNotFoundError:
            return None
        return orders if isinstance(orders, SweepOrders) else None

    def cross_region_due(self) -> list[tuple[UUID, str]]:
        """Households due for a cross-region check (and why), from the read model: it may lag the
        store, so `request_cross_region_checks` decides again on each household's current state."""
        self.population.catch_up()
        policy = self.sweep_policy(self._sweep_orders())
        return queries.cross_region_due(list(self.population.households.values()), policy)

    def cross_region_in_flight(self) -> int:
        self.population.catch_up()
        policy = self.sweep_policy(None)
        return queries.cross_region_in_flight(list(self.population.households.values()), policy)

    def cross_region_status(self) -> dict[str, Any]:
        self.population.catch_up()
        policy = self.sweep_policy(self._sweep_orders())
        return queries.cross_region_status(list(self.population.households.values()), policy)

    def request_cross_region_checks(self, household_ids: Sequence[UUID]) -> int:
        """Ask federation about the households of one sweep batch (one transaction); returns how many
        were asked. A household is asked only if still due on its stored state, so two processes
        sweeping at once (a lease lost mid-batch) ask it once: the second one's write conflicts, is
        redone, and finds it no longer due."""

        orders = self._sweep_orders()

        def work(uow: UnitOfWork) -> int:
            policy = self.sweep_policy(orders)
            uow.prefetch(household_ids)
            asked = 0
            for household_id in household_ids:
                try:
                    household = uow.find(household_id, Household)
                except TypeError:
                    household = None
                if household is None:
                    continue
                reason = queries.cross_region_reason(household, policy)
                if reason is None:
                    continue
                cities = list(self.config.cross_region_cities)
                household.cross_region_requested(
                    uuid4(),
                    cities,
                    self.config.cross_region_sweep_purpose,
                    policy.now,
                    reason,
                    self.register_keeper.check_subjects(household, cities, policy.now),
                )
                asked += 1
            return asked

        return self._in_uow(work)

    def order_cross_region_sweep(
        self, region: str | None, estate: str | None, actor: Actor, reason: str
    ) -> int:
        """An operator's order to ask again about every household of a region and/or estate; the
        periodic sweep asks them at its pace. Returns how many households it covers."""
        if actor.role != "supervisor":
            raise RoleRefused("only a supervisor orders a cross-region sweep")

        def work(uow: UnitOfWork) -> None:
            orders = uow.find(SweepOrders.create_id(), SweepOrders)
            if orders is None:
                orders = SweepOrders()
                uow.add(orders)
            orders.order(region, estate, self.clock(), actor.operator_id, reason[:500])

        self._in_uow(work)
        self.population.catch_up()
        return sum(
            1
            for h in list(self.population.households.values())
            if (region is None or h.region == region) and (estate is None or h.estate == estate)
        )

    def _locate(
        self, uow: UnitOfWork, report: DepartmentFactReported
    ) -> tuple[Household | None, dict[str, Any] | None]:
        household: Household | None = None
        if report.household_id is not None:
            try:
                household = uow.find(report.household_id, Household)
            except TypeError:
                household = None
        elif report.person_hash is not None:
            index = uow.find(PersonIndex.create_id(report.person_hash), PersonIndex)
            if index is not None and index.household_id is not None:
                household = uow.find(index.household_id, Household)
        if household is None:
            return None, None
        member = household.member_of(report.person_hash) if report.person_hash else None
        return household, member

    def evaluate_before_commit(self, uow: UnitOfWork, household_id: UUID) -> None:
        """Decide on the household once, just before `uow` commits, on everything recorded in it.

        Facts arrive in batches (an inbox batch, an HTTP chunk); a household with several facts in one
        batch gets one decision that reflects all of them, rather than one per fact of which all but
        the last were out of date before they were stored.
        """
        uow.defer(("evaluate", household_id), lambda u: self._evaluate_deferred(u, household_id))

    def _evaluate_deferred(self, uow: UnitOfWork, household_id: UUID) -> None:
        self.evaluate_household(uow, uow.get(household_id, Household))

    def evaluate_household(self, uow: UnitOfWork, household: Household) -> rules.Decision:
        """Automated first review; a household newly failing opens a review case."""
        table = self.parameter_table(self._book(uow))
        decision = rules.evaluate(household.snapshot(), self._in_force(table, household.region, self.today()))
        previous = household.outcome
        review_id = uuid4()
        household.evaluated(review_id, rules.decision_record(decision), previous)
        if (
            decision.outcome == "exit_triggered"
            and previous != "exit_triggered"
            and household.open_case is None
        ):
            triggered = [r.rule for r in decision.results if r.triggered]
            reason = f"automated review: exit condition met ({', '.join(triggered)})"
            case = ReviewCase(
                household.id, review_id, reason, self.clock(), household.region, household.estate
            )
            uow.add(case)
            check_id = uuid4()
            household.case_opened(case.id, review_id, check_id, reason, triggered)
            cities, now = list(self.config.cross_region_cities), self.clock()
            household.cross_region_requested(
                check_id,
                cities,
                self.config.cross_region_purpose,
                now,
                "review case opened",
                self.register_keeper.check_subjects(household, cities, now),
            )
        self.refresh_register(uow, household)
        return decision

    # -- the register peers are answered from (services/eligibility/register.py) ----------------------

    def refresh_register(self, uow: UnitOfWork, household: Household) -> None:
        today = self.today()
        threshold = self._in_force(self.parameter_table(self._book(uow)), household.region, today).get(
            PROPERTY_RULE
        )
        self.register_keeper.refresh(
            household, None if threshold is None else threshold.value, today, self.clock()
        )

    def registers_stale(self) -> list[UUID]:
        """Households whose register entry is missing or hashed on another basis (a linkage key added
        or expired, or a store from before entries were kept), from the read model."""
        self.population.catch_up()
        now = self.clock()
        return [h.id for h in list(self.population.households.values()) if self.register_keeper.stale(h, now)]

    def refresh_registers(self, household_ids: Sequence[UUID]) -> int:
        """Bring the register entries of one batch of households up to date (one transaction)."""

        def work(uow: UnitOfWork) -> int:
            uow.prefetch(household_ids)
            refreshed = 0
            for household_id in household_ids:
                try:
                    household = uow.find(household_id, Household)
                except TypeError:
                    household = None
                if household is not None and self.register_keeper.stale(household, self.clock()):
                    self.refresh_register(uow, household)
                    refreshed += 1
            return refreshed

        return self._in_uow(work)

    # -- parameters ------------------------------------------------------------------------------------

    def _book(self, uow: UnitOfWork) -> ParameterBook | None:
        """The parameter book as this unit of work sees it, looked up once per unit of work (a batch
        of facts would otherwise query the store for it once per fact)."""
        if uow not in self._books:
            self._books[uow] = uow.find(ParameterBook.create_id(), ParameterBook)
        return self._books[uow]

    def parameter_table(self, book: ParameterBook | None) -> rules.ParameterTable:
        """Defaults from the files plus supervisors' additions (cached per version of the book)."""
        if book is None:
            return self.defaults
        cached = self._table_cache
        if cached is not None and cached[0] == book.version:
            return cached[1]
        table = self.defaults.with_values(book.parameter_values())
        self._table_cache = (book.version, table)
        return table

    def _in_force(self, table: rules.ParameterTable, region: str, on: date) -> rules.InForce:
        """`rules.parameters_at`, remembered for the current table (a batch decides many households of
        a few regions on one date)."""
        cached_table, values = self._in_force_cache
        if cached_table is not table:
            values = {}
            self._in_force_cache = (table, values)
        found = values.get((region, on))
        if found is None:
            found = values[(region, on)] = rules.parameters_at(table, region, on)
        return found

    def current_table(self) -> rules.ParameterTable:
        book: Any
        try:
            book = self.repository.get(ParameterBook.create_id())
        except AggregateNotFoundError:
            book = None
        return self.parameter_table(book)

    def add_parameter_value(self, value: rules.ParameterValue, actor: Actor, reason: str) -> None:
        if actor.role != "supervisor":
            raise RoleRefused("only a supervisor adds parameter values")

        def work(uow: UnitOfWork) -> None:
            book = self._book(uow)
            if book is None:
                book = ParameterBook()
                uow.add(book)
                self._books[uow] = book
            self.parameter_table(book).check(value)
            book.add_value(
                value.rule,
                value.region,
                value.effective_from,
                value.value,
                value.unit,
                value.legal_reference,
                actor.operator_id,
                reason,
            )

        self._in_uow(work)

    # -- review cases ----------------------------------------------------------------------------------

    def case(self, case_id: UUID) -> ReviewCase:
        case: Any
        try:
            case = self.repository.get(case_id)
        except AggregateNotFoundError:
            raise NotFound(f"no case {case_id}") from None
        if not isinstance(case, ReviewCase):
            raise NotFound(f"no case {case_id}")
        return case

    def _case_step(self, case_id: UUID, step: Callable[[ReviewCase, datetime], None]) -> ReviewCase:
        def work(uow: UnitOfWork) -> ReviewCase:
            case: ReviewCase | None
            try:
                case = uow.find(case_id, ReviewCase)
            except TypeError:
                case = None
            if case is None:
                raise NotFound(f"no case {case_id}")
            was = case.status
            step(case, self.clock())
            if case.status == "decided" and was != "decided":
                household = self._household(uow, case.household_id)
                household.case_closed(case.id, str(case.final_outcome))
            elif was == "decided" and case.status != "decided":
                household = self._household(uow, case.household_id)
                household.case_reopened(case.id, f"case {case.status} again")
            return case

        return self._in_uow(work)

    def record_finding(
        self,
        case_id: UUID,
        actor: Actor,
        *,
        findings: str,
        proposed_outcome: str,
        reason_code: str,
        low_income: bool,
        wants_to_buy: bool,
    ) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.record_finding(
                actor.operator_id,
                actor.role,
                findings,
                proposed_outcome,
                reason_code,
                now,
                low_income,
                wants_to_buy,
            ),
        )

    def approve(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id, lambda case, now: case.approve(actor.operator_id, actor.role, reason, now)
        )

    def send_back(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id, lambda case, now: case.send_back(actor.operator_id, actor.role, reason, now)
        )

    def request_assessment(
        self, case_id: UUID, actor: Actor, assessor_id: str, deadline: date, reason: str
    ) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.request_assessment(
                actor.operator_id, actor.role, assessor_id, deadline, reason, now
            ),
        )

    def receive_assessment(self, case_id: UUID, actor: Actor, report: str, recommendation: str) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.receive_assessment(
                actor.operator_id, actor.role, report, recommendation, now
            ),
        )

    def lodge_appeal(self, case_id: UUID, actor: Actor, reason: str) -> ReviewCase:
        return self._case_step(
            case_id,
            lambda case, now: case.lodge_appeal(
                actor.operator_id, actor.role, reason, now, self.config.appeal_window_days
            ),
        )


def _no_repeats(records: Sequence[dict[str, Any]]) -> None:
    hashes = [r["person_hash"] for r in records]
    if not records:
        raise Refused("a household has at least one member")
    if len(hashes) != len(set(hashes)):
        raise Refused("the same ID number appears twice")
