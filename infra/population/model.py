"""The population in memory: estates and units, households and people, their situation (violation,
exit triggers, data problems, cross-region matches) and the money and area figures behind it.

Pure and deterministic: every random draw comes from a `random.Random` derived from the seed and a
component name (`stream`), and nothing iterates over a `set` of strings (whose order changes from one
process to the next), so the same seed and scale always give the same population.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from infra.population import params as P
from infra.population.idnumbers import IdNumbers
from services.eligibility import identity, rules

HOME = "CN-FS"
INCOME, HOUSING, ASSETS = rules.INCOME, rules.HOUSING, rules.ASSETS

SUBLET, LEND, VACANT = "sublet", "lend", "vacant"
CONCEALED_INCOME, PROPERTY_ELSEWHERE, HOUSED_ELSEWHERE = (
    "concealed_income",
    "property_elsewhere",
    "housed_elsewhere",
)
NONE = "none"
KINDS = (SUBLET, LEND, VACANT, CONCEALED_INCOME, PROPERTY_ELSEWHERE, HOUSED_ELSEWHERE, NONE)

MISSING_ASSETS, STALE_INCOME, CONFLICTING_INCOME, AT_THRESHOLD = (
    "missing_assets",
    "stale_income",
    "conflicting_income",
    "at_threshold",
)
NORMAL, LONG_ABSENCE, PARTIAL_ABSENCE = "normal", "long_absence", "partial_absence"


def stream(seed: int, name: str) -> random.Random:
    """An independent generator per component: adding draws to one never shifts another."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - synthetic data, not secrets


def scaled(total: int, scale: Decimal) -> int:
    return int((Decimal(total) * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def share_of(count: int, share: str) -> int:
    return int((Decimal(count) * Decimal(share)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apportion(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder; ties to the first)."""
    whole = sum(Decimal(w) for w in weights)
    if total == 0 or whole == 0:
        return [0] * len(weights)
    exact = [Decimal(total) * Decimal(w) / whole for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


@dataclass(slots=True)
class Person:
    id_number: str
    birth: date
    male: bool
    disabled: bool
    person_hash: str
    age: int
    wage: int = 0
    """Monthly wage in cents (0: no contributing job)."""


@dataclass(slots=True)
class Unit:
    estate: str
    building: str
    unit: str
    area: int
    """Floor area, centi-m²."""
    rent: int
    """Monthly base rent, cents."""


@dataclass(slots=True)
class Household:
    ref: str
    housed: bool
    members: list[Person]
    hukou_city: str
    start: date
    """Tenancy start (housed) or subsidy start."""
    unit: Unit | None = None
    subsidy: int = 0
    """Monthly rent subsidy in cents (households without a unit)."""
    kind: str = NONE
    triggers: list[str] = field(default_factory=list)
    issue: str | None = None
    income: int = 0
    """Per-capita monthly income, cents."""
    second_income: int | None = None
    """A second department's different figure for the same date (conflicting income)."""
    income_described: date | None = None
    assets: list[int] = field(default_factory=list)
    """Financial assets per adult member, cents (empty: the finance side reported none)."""
    properties: list[tuple[str, int, date]] = field(default_factory=list)
    """(registry reference, area in centi-m², registration date) of each dwelling in Foshan."""
    matches: list[tuple[str, str, int]] = field(default_factory=list)
    """(peer city, category, member index) of each cross-region record."""
    occupancy: str = NORMAL
    residence_city: str = HOME

    @property
    def violating(self) -> bool:
        return self.kind != NONE

    def expected_decision(self, cross_region: bool = False) -> str:
        if self.triggers or (cross_region and self.matches):
            return "exit_triggered"
        if self.issue in (MISSING_ASSETS, STALE_INCOME, CONFLICTING_INCOME):
            return "needs_manual"
        return "qualifies"


@dataclass(frozen=True)
class Thresholds:
    income: int
    area: int
    assets: int

    @staticmethod
    def in_force(on: date, region: str = HOME) -> Thresholds:
        found = rules.parameters_at(rules.load_table(), region, on)
        values = {}
        for rule in (INCOME, HOUSING, ASSETS):
            value = found.get(rule)
            if value is None:
                raise SystemExit(f"no {rule} value in force in {region} on {on}: cannot calibrate")
            values[rule] = cents(value.value)
        return Thresholds(values[INCOME], values[HOUSING], values[ASSETS])


@dataclass
class Population:
    seed: int
    scale: Decimal
    as_of: date
    thresholds: Thresholds
    estates: list[tuple[str, str]]
    """(estate name, district)."""
    households: list[Household]
    ids: IdNumbers
    """The run's ID-number issuer: peers' residents get numbers from it too, so none repeats a Foshan one."""

    @property
    def housed(self) -> list[Household]:
        return [h for h in self.households if h.housed]

    @property
    def subsidised(self) -> list[Household]:
        return [h for h in self.households if not h.housed]


# -- building it ---------------------------------------------------------------------------------------

_SUFFIXES = ("Garden", "Court", "Residence", "Homes", "Village", "Park", "Terrace", "Heights", "Square")


def estate_names(count: int) -> list[tuple[str, str]]:
    per_district = apportion(count, [n for _, n in P.DISTRICTS])
    names = []
    for (district, _), n in zip(P.DISTRICTS, per_district, strict=True):
        names += [(f"{district} {_SUFFIXES[i % len(_SUFFIXES)]}", district) for i in range(n)]
    return names


def _sizes(rng: random.Random, households: int, people: int) -> list[int]:
    sizes = rng.choices([s for s, _ in P.SIZE_WEIGHTS], [w for _, w in P.SIZE_WEIGHTS], k=households)
    total = sum(sizes)
    while total != people:
        i = rng.randrange(households)
        if total < people and sizes[i] < P.MAX_SIZE:
            sizes[i] += 1
            total += 1
        elif total > people and sizes[i] > 1:
            sizes[i] -= 1
            total -= 1
    return sizes


def _units(rng: random.Random, estates: list[tuple[str, str]], count: int) -> list[Unit]:
    weights = [Decimal(50 + rng.randrange(100)) for _ in estates]
    per_estate = apportion(count, weights)
    units = []
    for (estate, _), n in zip(estates, per_estate, strict=True):
        rate = 800 + rng.randrange(700)  # cents per m² per month
        for i in range(n):
            building, rest = divmod(i, 72)
            floor, flat = divmod(rest, 4)
            area = 3500 + rng.randrange(3000)
            rent = (area * rate // 10000) * 100
            units.append(Unit(estate, f"B{building + 1:02d}", f"{floor + 2}{flat + 1:02d}", area, rent))
    rng.shuffle(units)
    return units


def _age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _birth(rng: random.Random, on: date, age: int) -> date:
    return on - timedelta(days=365 * age + int(rng.random() * 365))


def _ages(rng: random.Random, size: int) -> list[tuple[int, bool]]:
    """(age, male) of each member, head first."""
    head_age = 22 + int(rng.triangular(0, 63, 18))
    head_male = rng.random() < 0.55
    members = [(head_age, head_male)]
    if size == 1:
        return members
    if rng.random() < 0.8:
        members.append((max(20, min(90, head_age + rng.randrange(-5, 6))), not head_male))
    while len(members) < size:
        if size >= 5 and len(members) == size - 1 and head_age < 60:
            members.append((min(95, head_age + 24 + rng.randrange(10)), rng.random() < 0.45))
        else:
            members.append((max(0, head_age - 22 - rng.randrange(20)), rng.random() < 0.5))
    return members


def build(seed: int, scale: Decimal, as_of: date, person_hash_key: str) -> Population:
    thresholds = Thresholds.in_force(as_of)
    n_units = scaled(P.UNITS, scale)
    n_households = scaled(P.HOUSEHOLDS, scale)
    n_people = scaled(P.PEOPLE, scale)
    if n_units < 1 or n_households < n_units or n_people < n_households:
        raise SystemExit(f"scale {scale} is too small: {n_units} units, {n_households} households")
    estates = estate_names(min(P.ESTATES, n_units))

    sizes = _sizes(stream(seed, "sizes"), n_households, n_people)
    units = _units(stream(seed, "units"), estates, n_units)
    rng = stream(seed, "people")
    ids = IdNumbers(stream(seed, "id-numbers"))
    households: list[Household] = []
    district_of = dict(estates)
    for index, size in enumerate(sizes):
        housed = index < n_units
        unit = units[index] if housed else None
        if rng.random() < float(P.MIGRANT_SHARE):
            region, city = P.ELSEWHERE_REGIONS[rng.randrange(len(P.ELSEWHERE_REGIONS))]
        else:
            district = district_of[unit.estate] if unit else P.DISTRICTS[rng.randrange(len(P.DISTRICTS))][0]
            region, city = P.DISTRICT_CODES[district], HOME
        members = []
        for age, male in _ages(rng, size):
            birth = _birth(rng, as_of, age)
            number = ids.issue(region, birth, male)
            members.append(
                Person(
                    id_number=number,
                    birth=birth,
                    male=male,
                    disabled=rng.random() < float(P.DISABLED_SHARE),
                    person_hash=identity.person_hash(number, person_hash_key),
                    age=_age_on(birth, as_of),
                )
            )
        start = date(2012, 1, 1) + timedelta(days=rng.randrange((as_of - date(2012, 1, 1)).days - 120))
        ref = f"H{index + 1:06d}" if housed else f"R{index - n_units + 1:06d}"
        household = Household(ref, housed, members, city, start, unit=unit)
        if not housed:
            household.subsidy = (300 + rng.randrange(700)) * 100
        households.append(household)

    population = Population(seed, scale, as_of, thresholds, estates, households, ids)
    _violations(stream(seed, "violations"), population)
    _triggers(stream(seed, "triggers"), population)
    _issues(stream(seed, "issues"), population)
    _finances(stream(seed, "finances"), population)
    _occupancy(stream(seed, "occupancy"), population)
    return population


def _violations(rng: random.Random, population: Population) -> None:
    housed = population.housed
    violating = share_of(len(housed), P.VIOLATING_SHARE)
    sublet_or_lend, vacant, other = apportion(
        violating,
        [Decimal(P.SUBLET_OR_LEND_SHARE), Decimal(P.VACANT_SHARE), Decimal(P.OTHER_VIOLATION_SHARE)],
    )
    sublet = share_of(sublet_or_lend, P.SUBLET_SHARE_OF_SUBLET_OR_LEND)
    elsewhere = min(other, scaled(P.CROSS_REGION_MATCHES, population.scale))
    prop, housed_there = apportion(elsewhere, [P.PROPERTY_ELSEWHERE_WEIGHT, P.HOUSED_ELSEWHERE_WEIGHT])
    chosen = rng.sample(housed, violating)
    kinds = (
        [SUBLET] * sublet
        + [LEND] * (sublet_or_lend - sublet)
        + [VACANT] * vacant
        + [PROPERTY_ELSEWHERE] * prop
        + [HOUSED_ELSEWHERE] * housed_there
        + [CONCEALED_INCOME] * (other - elsewhere)
    )
    cities = [c for c, _ in P.PEER_MATCH_WEIGHTS]
    weights = [w for _, w in P.PEER_MATCH_WEIGHTS]
    for household, kind in zip(chosen, kinds, strict=True):
        household.kind = kind
        if kind in (PROPERTY_ELSEWHERE, HOUSED_ELSEWHERE):
            city = rng.choices(cities, weights)[0]
            adults = [i for i, m in enumerate(household.members) if m.age >= 18]
            member = adults[rng.randrange(len(adults))]
            if kind == PROPERTY_ELSEWHERE:
                category = "owns_property_over_threshold"
            else:
                category = rng.choice(["holds_subsidised_housing", "receives_housing_subsidy"])
            household.matches.append((city, category, member))
        elif kind in (SUBLET, LEND, VACANT) and rng.random() < 0.5:
            household.residence_city = rng.choice([*cities, "CN-ZJ", "CN-MM"])


def _triggers(rng: random.Random, population: Population) -> None:
    households = population.households
    total = share_of(len(households), P.EXIT_TRIGGER_SHARE)
    forced = [h for h in households if h.kind == CONCEALED_INCOME]
    for household in forced:
        household.triggers.append(INCOME)
    candidates = [
        h for h in households if h.kind not in (CONCEALED_INCOME, PROPERTY_ELSEWHERE, HOUSED_ELSEWHERE)
    ]
    rules_ = [r for r, _ in P.TRIGGER_WEIGHTS]
    weights = [w for _, w in P.TRIGGER_WEIGHTS]
    for household in rng.sample(candidates, max(0, total - len(forced))):
        household.triggers.append(rng.choices(rules_, weights)[0])
    for household in households:
        if household.triggers and rng.random() < float(P.SECOND_TRIGGER_SHARE):
            second = rng.choice([r for r in rules_ if r not in household.triggers])
            household.triggers.append(second)
            household.triggers.sort(key=rules_.index)


def _issues(rng: random.Random, population: Population) -> None:
    households = population.households
    clean = [h for h in households if not h.triggers and not h.matches]
    counts = [
        (MISSING_ASSETS, share_of(len(households), P.MISSING_ASSETS_SHARE)),
        (STALE_INCOME, share_of(len(households), P.STALE_INCOME_SHARE)),
        (CONFLICTING_INCOME, share_of(len(households), P.CONFLICTING_INCOME_SHARE)),
        (AT_THRESHOLD, share_of(len(households), P.AT_THRESHOLD_SHARE)),
    ]
    chosen = rng.sample(clean, min(len(clean), sum(n for _, n in counts)))
    position = 0
    for issue, n in counts:
        for household in chosen[position : position + n]:
            household.issue = issue
        position += n


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    if parts == 1:
        return [total]
    cuts = sorted(rng.randrange(total + 1) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def _finances(rng: random.Random, population: Population) -> None:
    t = population.thresholds
    fresh = population.as_of.replace(day=1)
    for household in population.households:
        size = len(household.members)
        adults = [m for m in household.members if m.age >= 18]
        edge = rng.choice([INCOME, HOUSING, ASSETS]) if household.issue == AT_THRESHOLD else None
        # Per-capita monthly income.
        if INCOME in household.triggers:
            near = rng.random() < 0.4
            household.income = t.income + 1 + rng.randrange(t.income // 9 if near else t.income)
        elif edge == INCOME:
            household.income = t.income
        else:
            household.income = int(rng.triangular(60_000, t.income - 1, 240_000))
        household.income_described = fresh
        if household.issue == STALE_INCOME:
            household.income_described = fresh - timedelta(days=190 + rng.randrange(200))
        if household.issue == CONFLICTING_INCOME:
            household.second_income = min(household.income + 10_000 + rng.randrange(50_000), t.income - 1)
            if household.second_income == household.income:
                household.second_income -= 1
        # Financial assets, reported per adult.
        if household.issue != MISSING_ASSETS:
            if ASSETS in household.triggers:
                total = t.assets + 1 + rng.randrange(3 * t.assets)
            elif edge == ASSETS:
                total = t.assets
            else:
                low = min(6_000_000, t.assets // 2)
                if rng.random() < 0.7:
                    total = int(rng.triangular(0, low, low // 6))
                else:
                    total = low + rng.randrange(t.assets - low)
            household.assets = _split(rng, total, len(adults))
        # Housing owned in Foshan.
        area = 0
        if HOUSING in household.triggers:
            area = t.area + 1 + rng.randrange(9_000)
        elif edge == HOUSING:
            area = t.area
        elif rng.random() < 0.08:
            area = t.area // 5 + rng.randrange(t.area * 7 // 10)
        if area:
            if area > 4_000 and rng.random() < 0.3:
                first = 2_000 + rng.randrange(area - 4_000 + 1)
                pieces = [first, area - first]
            else:
                pieces = [area]
            for piece in pieces:
                registered = population.as_of - timedelta(days=30 + rng.randrange(3_000))
                ref = f"FS-RE-{registered.year}-{rng.randrange(10**8):08d}"
                household.properties.append((ref, piece, registered))
        # Wages: 90 % of the household's income from the jobs of working-age adults.
        workers = [m for m in adults if m.age <= 60 and rng.random() < float(P.EMPLOYED_SHARE)]
        if workers:
            wages = _split(rng, household.income * size * 9 // 10, len(workers))
            for worker, wage in zip(workers, wages, strict=True):
                worker.wage = max(wage, 100_000)


def _occupancy(rng: random.Random, population: Population) -> None:
    for household in population.housed:
        if household.kind in (SUBLET, LEND, VACANT):
            household.occupancy = household.kind
    quiet = [h for h in population.housed if h.kind == NONE]
    n_long = share_of(len(population.housed), P.LONG_ABSENCE_SHARE)
    n_partial = share_of(len(population.housed), P.PARTIAL_ABSENCE_SHARE)
    chosen = rng.sample(quiet, min(len(quiet), n_long + n_partial))
    for i, household in enumerate(chosen):
        household.occupancy = LONG_ABSENCE if i < n_long else PARTIAL_ABSENCE
