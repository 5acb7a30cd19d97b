"""Occupancy signals of the housed households: door credentials, door openings, monthly utility readings,
and what monitoring's detectors (default parameters) are expected to say about each unit.

Door openings are written day by day, each day's openings in time order, as an estate's readers would
send them. Who opens the door depends on the unit's occupancy: the household's members (normal), nobody
(vacant, long absence), people with credentials not enrolled to the household (sublet, lend) with the
household's own members coming by now and then.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TextIO

from infra.population import params as P
from infra.population.model import LEND, LONG_ABSENCE, NORMAL, PARTIAL_ABSENCE, SUBLET, VACANT, Household
from services.monitoring.detectors import DetectorParams

OFFSET = "+08:00"
"""Estates' local time (Foshan, UTC+8), as the platform's `CITY_TIME_ZONE` default (Asia/Shanghai)."""

_OPENINGS = (0, 1, 2, 2, 2, 3, 3, 4)
"""Door openings a normal household makes in a day, drawn uniformly."""


@dataclass(slots=True)
class UnitPlan:
    household: Household
    prefix: str
    """The signal's JSON up to the credential kind (estate, building, unit)."""
    members: list[tuple[str, str, int]]
    """(kind, credential id, member index) of each credential enrolled to the household."""
    strangers: list[str] = field(default_factory=list)
    """Card ids not enrolled to the household (sub-tenants, borrowers, the odd visitor)."""
    away: range = range(0)
    """Day indices the household is away (partial absence)."""
    last_member_day: int | None = None
    window_member: int = 0
    window_other: int = 0
    readings: list[tuple[str, str, str]] = field(default_factory=list)
    """(month, water m³, electricity kWh)."""


class Credentials:
    """Opaque card numbers and face-template ids, distinct within the run."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def new(self, kind: str) -> str:
        while True:
            token = f"{kind}-{self._rng.getrandbits(44):011x}"
            if token not in self._seen:
                self._seen.add(token)
                return token


def plan_units(rng: random.Random, households: list[Household], days: int) -> list[UnitPlan]:
    tokens = Credentials(rng)
    plans = []
    for household in households:
        unit = household.unit
        assert unit is not None
        prefix = (
            f'{{"estate":"{unit.estate}","building":"{unit.building}","unit":"{unit.unit}",'
            '"credential_kind":"'
        )
        members = []
        for index, person in enumerate(household.members):
            if person.age >= 6:
                members.append(("card", tokens.new("card"), index))
            if person.age >= 18 and rng.random() < float(P.FACE_SHARE):
                members.append(("face", tokens.new("face"), index))
        if not members:  # a household of infants only does not occur, but a reader needs someone
            members.append(("card", tokens.new("card"), 0))
        plan = UnitPlan(household, prefix, members)
        if household.occupancy in (SUBLET, LEND):
            plan.strangers = [tokens.new("card") for _ in range(1 + rng.randrange(3))]
        elif household.occupancy in (NORMAL, PARTIAL_ABSENCE):
            plan.strangers = [tokens.new("card")]
        if household.occupancy == PARTIAL_ABSENCE:
            length = min(days, 7 + rng.randrange(14))
            start = rng.randrange(max(1, days - length + 1))
            plan.away = range(start, start + length)
        plans.append(plan)
    return plans


def _openings(rng: random.Random, plan: UnitPlan, day: int) -> list[tuple[str, str, bool]]:
    """(kind, credential, by a member) of each opening of the day, in order."""
    occupancy = plan.household.occupancy
    if occupancy in (VACANT, LONG_ABSENCE) or day in plan.away:
        return []
    draw = rng.random
    members = plan.members
    if occupancy in (NORMAL, PARTIAL_ABSENCE):
        out = [
            (*members[int(draw() * len(members))][:2], True)
            for _ in range(_OPENINGS[int(draw() * len(_OPENINGS))])
        ]
        if draw() < 0.03:
            out.append(("card", plan.strangers[0], False))
        return out
    # Sublet or lent: the occupants open the door; a member comes by now and then.
    strangers = plan.strangers
    n = (2 + int(draw() * 3)) if occupancy == SUBLET else (1 + int(draw() * 3))
    out = [("card", strangers[int(draw() * len(strangers))], False) for _ in range(n)]
    if draw() < (0.1 if occupancy == SUBLET else 0.15):
        kind, token, _ = members[int(draw() * len(members))]
        at = int(draw() * (len(out) + 1))
        out[at:at] = [(kind, token, True), (kind, token, True)]
    return out


_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
"""Local time of day by second."""


def write_door_access(
    rng: random.Random, plans: list[UnitPlan], first: date, days: int, window: int, out: TextIO
) -> int:
    """Every opening of `days` days from `first`; counts what the detectors will look at."""
    lines = 0
    window_start = days - window
    draw = rng.random
    for day in range(days):
        stamp = (first + timedelta(days=day)).isoformat() + "T"
        events: list[tuple[int, int, str]] = []
        for position, plan in enumerate(plans):
            openings = _openings(rng, plan, day)
            if not openings:
                continue
            times = sorted(21_600 + int(draw() * 61_200) for _ in openings)
            for step, ((kind, token, member), seconds) in enumerate(zip(openings, times, strict=True)):
                direction = "out" if step % 2 == 0 else "in"
                text = (
                    f'{plan.prefix}{kind}","credential_id":"{token}","at":"{stamp}{_CLOCK[seconds]}{OFFSET}",'
                    f'"direction":"{direction}"}}\n'
                )
                events.append((seconds, position, text))
                if member:
                    plan.last_member_day = day
                if day >= window_start:
                    if member:
                        plan.window_member += 1
                    else:
                        plan.window_other += 1
        events.sort()
        out.writelines(text for _, _, text in events)
        lines += len(events)
    return lines


def months_of(first: date, as_of: date) -> list[str]:
    """Calendar months read by the utilities: from the first signal's month to the last month completed
    before `as_of` (at least that one)."""
    last_complete = as_of.replace(day=1) - timedelta(days=1)
    month = min(first, last_complete).replace(day=1)
    months = []
    while month <= last_complete:
        months.append(month.strftime("%Y-%m"))
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _measure(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}"


def write_utility(rng: random.Random, plans: list[UnitPlan], months: list[str], out: TextIO) -> int:
    lines = 0
    for month in months:
        for plan in plans:
            unit = plan.household.unit
            assert unit is not None
            occupancy = plan.household.occupancy
            if occupancy in (VACANT, LONG_ABSENCE):
                water, power = rng.randrange(9), rng.randrange(95)
            else:
                people = (
                    len(plan.strangers) + 1 if occupancy in (SUBLET, LEND) else len(plan.household.members)
                )
                water = sum(25 + rng.randrange(25) for _ in range(people))
                power = sum(700 + rng.randrange(900) for _ in range(people))
            plan.readings.append((month, _measure(water), _measure(power)))
            out.write(
                f'{{"estate":"{unit.estate}","building":"{unit.building}","unit":"{unit.unit}",'
                f'"month":"{month}","water_m3":"{_measure(water)}","electricity_kwh":"{_measure(power)}"}}\n'
            )
            lines += 1
    return lines


def credentials_lines(plans: list[UnitPlan]) -> Iterator[str]:
    for plan in plans:
        for kind, token, index in plan.members:
            person = plan.household.members[index]
            yield (
                f'{{"household_ref":"{plan.household.ref}","member_index":{index},'
                f'"person_hash":"{person.person_hash}","kind":"{kind}","credential_id":"{token}"}}\n'
            )


def expected_warnings(plan: UnitPlan, first: date, days: int, params: DetectorParams) -> list[str]:
    """What monitoring's detectors should raise for the unit on the last day of signals, with the default
    parameters and no excuse recorded (the same comparisons as services/monitoring/detectors.py)."""
    warnings = []
    as_of = days - 1
    start = (plan.household.start - first).days
    reference = max(x for x in (plan.last_member_day, start - 1, -1) if x is not None)
    absent = as_of - reference
    in_use = any(
        Decimal(water) > params.near_zero_water_m3 or Decimal(power) > params.near_zero_electricity_kwh
        for month, water, power in plan.readings
        if month >= (first + timedelta(days=reference + 1)).strftime("%Y-%m")
    )
    if absent >= params.vacancy_days and not in_use:
        warnings.append("vacancy")
    total = plan.window_member + plan.window_other
    if total >= params.min_accesses and plan.window_other / total >= params.unregistered_share:
        warnings.append("sublet_or_lend")
    return warnings
