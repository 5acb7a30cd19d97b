"""Registering households and changing their members: the registration capability of `EligibilityApp`.

A registration is checked whole before anything is written (a valid ID number for every member, none
of them already in another household, no member twice), so a refused one in a batch leaves the batch's
unit of work as it was. A person's index points at their household; facts parked for the person
before any household held them (intake.py) are recorded on the household that takes them in.
Split out of application.py so that the application module stays readable in one sitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

from services.eligibility import identity
from services.eligibility.base import EligibilityBase, NotFound, Refused, find_household
from services.eligibility.domain import Household, ParkedFacts, PersonIndex, RegistrationReceipt, RentSubsidy
from services.kit.dating import not_in_future
from services.kit.uow import UnitOfWork

RegistrationStatus = Literal["registered", "duplicate"]
REGISTER_CHUNK = 100
"""Registrations per transaction in a batch (each is ~4-5 events: the household, a person index per
member, its receipt), as many as HTTP fact batches commit at once (`INGEST_CHUNK`): larger chunks were
measured no cheaper (CPU per household) on SQLite, and a write conflict redoes only its chunk."""


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


class RegistrationsMixin(EligibilityBase):
    """Households: register (one, or a batch), change members, look a household up."""

    def _member_record(
        self, member: MemberInput, member_id: UUID | None = None, hashes: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """`hashes`: person hashes by ID number already made for this batch (`_prefetch_registrations`)."""
        if not identity.is_valid(member.id_number):
            raise Refused("an ID number has 17 digits and a final digit or X")
        # the API refuses both first, naming the member's field (422); kept here for every caller
        not_in_future(member.birth_date, self.today(), "birth_date", "a birth")
        hashed = None if hashes is None else hashes.get(member.id_number)
        return {
            "member_id": member_id or uuid4(),
            "person_hash": hashed or identity.person_hash(member.id_number, self.config.person_hash_key),
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
                hashes = self._prefetch_registrations(uow, chunk)
                out: list[tuple[RegistrationStatus, Household] | Refused] = []
                for registration in chunk:
                    try:
                        out.append(self._register(uow, registration, registered_by, hashes))
                    except Refused as exc:
                        out.append(exc)
                return out

            answers += self._in_uow(work)
        return answers

    def _prefetch_registrations(
        self, uow: UnitOfWork, registrations: Sequence[Registration]
    ) -> dict[str, str]:
        """One store query for what a chunk of new households would otherwise each ask (its receipt,
        and every member's person index and parked facts, which mostly do not exist); returns the
        members' person hashes by ID number, made once for both."""
        key = self.config.person_hash_key
        ids: list[UUID] = []
        hashes: dict[str, str] = {}
        for registration in registrations:
            if registration.reference is not None:
                ids.append(RegistrationReceipt.create_id(registration.reference))
            for member in registration.members:
                person = hashes[member.id_number] = identity.person_hash(member.id_number, key)
                ids += (PersonIndex.create_id(person), ParkedFacts.create_id(person))
        uow.prefetch(ids)
        return hashes

    def _register(
        self,
        uow: UnitOfWork,
        registration: Registration,
        registered_by: str | None,
        hashes: Mapping[str, str] | None = None,
    ) -> tuple[RegistrationStatus, Household]:
        """Everything that can refuse the registration is checked before anything is written to `uow`,
        so a refused one leaves the batch's unit of work as it was."""
        if registration.reference is not None:
            receipt = uow.find(RegistrationReceipt.create_id(registration.reference), RegistrationReceipt)
            if receipt is not None:
                return "duplicate", self._household(uow, receipt.household_id)
        records = [self._member_record(m, hashes=hashes) for m in registration.members]
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
        household = find_household(uow, household_id)
        if household is None:
            raise NotFound(f"no household {household_id}")
        return household

    def household(self, household_id: UUID) -> Household:
        return self.stored(household_id, Household, "household")


def _no_repeats(records: Sequence[dict[str, Any]]) -> None:
    hashes = [r["person_hash"] for r in records]
    if not records:
        raise Refused("a household has at least one member")
    if len(hashes) != len(set(hashes)):
        raise Refused("the same ID number appears twice")
