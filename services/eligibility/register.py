"""Our register as peer cities see it, derived where the ID numbers are.

Peers are asked about our households, and answer about theirs, by per-pair linkage hashes of the
members' ID numbers (`services.kit.linkage`). Eligibility is the only service that holds the numbers,
so it is the one that hashes: for each check it asks, every member under the key current for each
requested city (`check_subjects`, carried by `cross-region-check-requested` v2), and for the register
federation answers from, every member under every usable key of every peer (`register_subjects`, in
`cross-region-register-updated`, with the three categories). No operator or loader supplies a hash.

The categories hold for every member of the household: it is in our registers (a unit or a rent
subsidy: `holds_subsidised_housing`, until penalties' `exit-completed` says it handed its flat
back), on a rent subsidy (`receives_housing_subsidy`), and the property
in our city on record for its members together exceeds the dated threshold
`cross_region_property_area` (`owns_property_over_threshold`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.kit.linkage import Keyring, Subject

PROPERTY_RULE = "cross_region_property_area"


def basis(keyring: Keyring, members: Iterable[Mapping[str, Any]], moment: datetime) -> tuple[str, ...]:
    """What a household's register hashes are made from (its members and the usable keys), as
    `Household.RegisterUpdated` records it: a change of either is seen without hashing again."""
    return (*(str(m["member_id"]) for m in members), *keyring.basis(moment))


def check_subjects(
    keyring: Keyring, members: Iterable[Mapping[str, Any]], cities: list[str], moment: datetime
) -> list[str]:
    """Each member for each of `cities` under the key current at `moment` (none for a city we share
    no current key with: federation answers it `unverified`)."""
    return [_subject(m, s) for m in members for s in keyring.ask(str(m["id_number"]), cities, moment)]


def register_subjects(
    keyring: Keyring, members: Iterable[Mapping[str, Any]], moment: datetime
) -> tuple[str, ...]:
    """Each member under every usable key of every peer, as `_subject` writes them."""
    return tuple(
        SEPARATOR.join((str(m["member_id"]), key.city, key.key_id, digest))
        for m in members
        for key, digest in keyring.register_hashes(str(m["id_number"]), moment)
    )


SEPARATOR = " "
"""Between the four parts of a stored subject; none of them holds a space (a UUID, a city code, a key
id from the peer directory, a hex digest)."""


def _subject(member: Mapping[str, Any], subject: Subject) -> str:
    """A member's subject as the domain events store it: one string, `member_id city key_id id_hash`.

    A register entry holds members x peers x usable keys subjects; as four-key objects they were most
    of the entry's bytes and of the time to store, relay and read it back (each object walked by the
    transcoder). The bus still carries objects (`contracts.federation.PeerSubject`): `unpacked`."""
    return SEPARATOR.join((str(member["member_id"]), subject.city, subject.key_id, subject.id_hash))


def packed(subject: Mapping[str, str]) -> str:
    """A subject object (as events stored before the compact form held them) as the stored string."""
    return SEPARATOR.join((subject["member_id"], subject["city"], subject["key_id"], subject["id_hash"]))


def unpacked(subjects: Iterable[str]) -> list[dict[str, str]]:
    """Stored subjects as the bus carries them (`contracts.federation.PeerSubject`)."""
    out = []
    for subject in subjects:
        member_id, city, key_id, id_hash = subject.split(SEPARATOR)
        out.append({"member_id": member_id, "city": city, "key_id": key_id, "id_hash": id_hash})
    return out


def local_property_area(properties: Iterable[tuple[str, str, Decimal, date]], city: str, on: date) -> Decimal:
    """Floor area on record in `city` (latest record per property, described on or before `on`)."""
    return sum(
        (area for _, where, area, described_on in properties if where == city and described_on <= on),
        Decimal("0.00"),
    )


def categories(
    rent_subsidy: bool, area: Decimal, threshold: Decimal | None, housed: bool = True
) -> dict[str, bool]:
    """A household with no threshold in force owns nothing "over" it: we answer what a rule says.
    One that handed its flat back (`housed` False) holds nothing of ours and receives nothing."""
    return {
        "holds_subsidised_housing": housed,
        "receives_housing_subsidy": rent_subsidy and housed,
        "owns_property_over_threshold": threshold is not None and area > threshold,
    }


class RegisterKeeper:
    """Keeps each household's `RegisterUpdated` current: at registration, when its members, its
    property on record, its tenancy or the keyring's usable keys change. Hashing is the costly part
    (members x peers x keys HMACs), so an unchanged entry (same basis, same categories) is found
    without it; a new entry is hashed whole (the aggregate keeps the basis, not the hashes)."""

    def __init__(self, keyring: Keyring, city: str) -> None:
        self.keyring, self.city = keyring, city

    def check_subjects(self, household: Any, cities: list[str], moment: datetime) -> list[str]:
        return check_subjects(self.keyring, household.members, cities, moment)

    def stale(self, household: Any, moment: datetime, keys: tuple[str, ...] | None = None) -> bool:
        """The household's register entry is missing or was hashed on another basis. `keys`: the
        keyring's basis at `moment`, when the caller asks of many households at once."""
        if household.register_categories is None:
            return True
        keys = self.keyring.basis(moment) if keys is None else keys
        return tuple(household.register_basis) != (*(str(m["member_id"]) for m in household.members), *keys)

    def refresh(self, household: Any, threshold: Decimal | None, on: date, moment: datetime) -> bool:
        """Record a new entry when anything in it changed; True when one was recorded."""
        now_basis = basis(self.keyring, household.members, moment)
        area = local_property_area(household.property_places, self.city, on)
        judged = categories(household.rent_subsidy is not None, area, threshold, household.left_on is None)
        previous = household.register_categories
        if household.register_basis == now_basis and previous is not None and dict(previous.data) == judged:
            return False
        subjects = register_subjects(self.keyring, household.members, moment)
        household.register_updated(list(subjects), judged, on, list(now_basis))
        return True
