"""The detectors: pure functions from a unit's occupancy state to an explained assessment.

Each detector has its parameters (`DetectorParams`, from settings, never constants in the logic) and
returns an `Assessment` whether or not it triggers, so the same explanation serves the warning, the
risk score and an operator asking "why not?".

- Vacancy: no registered member of the household opened the door for `vacancy_days` days, counting
  neither days on which *every* member's absence is excused (a single tenant's hospital stay) nor days
  before monitoring (or the tenancy, or the last closed warning) began; and the utilities do not show
  the flat in use. A member's excuse does not cover the others: a household of two where one is in
  hospital and the other moved out is still a vacant flat.
- Sublet or lend: over the last `window_days`, at least `min_accesses` openings of which a share of at
  least `unregistered_share` were by credentials not enrolled to this household; or the household's
  own members were seen mostly (`elsewhere_share`) at other units.
- Residence elsewhere (evidence, not a detector of its own): the latest registration record public
  security reported for the household (`housing.department.fact-reported`, kind `registration`) says the
  members actually live in another city than the flat's, and it describes a day at most
  `registration_max_age_days` before the assessment. Then the sublet-or-lend score becomes
  `1 - (1 - score) * (1 - registration_weight)`: a lead makes the flat rank higher among the inspectors'
  warnings, but the door data must still show the pattern for a warning to be raised.
Hours play no part: a night-shift worker who comes home at 07:30 and leaves at 21:00 is as present as
anyone; local days (UTC+8) keep their accesses on the right dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.monitoring.domain import (
    ELSEWHERE,
    MEMBER,
    OTHER,
    HouseholdView,
    RegistrationRecord,
    UnitOccupancy,
    months_between,
)


@dataclass(frozen=True)
class DetectorParams:
    vacancy_days: int = 30
    near_zero_water_m3: Decimal = Decimal("1.0")
    near_zero_electricity_kwh: Decimal = Decimal("10.0")
    window_days: int = 30
    min_accesses: int = 20
    unregistered_share: float = 0.6
    elsewhere_share: float = 0.7
    registration_weight: float = 0.3
    registration_max_age_days: int = 365


@dataclass(frozen=True)
class Assessment:
    condition: str
    triggered: bool
    score: float  # 0..1
    explanation: str
    evidence: tuple[tuple[str, str], ...]


def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def assess_vacancy(
    occupancy: UnitOccupancy | None,
    household: HouseholdView,
    as_of: int,
    monitored_from: int,
    since: int | None,
    params: DetectorParams,
) -> Assessment:
    """`as_of`, `monitored_from`, `since` are local-day ordinals; `since` = last warning closed."""
    last_member = occupancy.last_member_day if occupancy else None
    reference = max(
        x
        for x in (
            last_member,
            household.tenancy_start.toordinal() - 1,
            monitored_from - 1,
            since,
        )
        if x is not None
    )
    span = max(as_of - reference, 0)
    if household.excuses and span:
        absent = sum(1 for day in range(reference + 1, as_of + 1) if not household.all_excused(day))
    else:
        absent = span
    excused = span - absent
    water_used = power_used = False
    read_months: list[str] = []
    if occupancy and span:
        for month in months_between(reference + 1, as_of):
            reading = occupancy.utilities.get(month)
            if reading is None:
                continue
            read_months.append(f"{month}: water {reading[0]} m3, electricity {reading[1]} kWh")
            water_used |= reading[0] is not None and reading[0] > params.near_zero_water_m3
            power_used |= reading[1] is not None and reading[1] > params.near_zero_electricity_kwh
    in_use = water_used or power_used
    triggered = absent >= params.vacancy_days and not in_use
    score = min(absent / params.vacancy_days, 1.0) * (0.4 if in_use else 1.0)
    last = "never" if last_member is None else _day(last_member)
    explanation = (
        f"No registered member opened the door for {absent} day(s) up to {_day(as_of)} "
        f"(threshold {params.vacancy_days}; last member access {last}"
        + (f"; {excused} day(s) excused" if excused else "")
        + "). "
        + (
            "Utilities show the flat in use, so no warning."
            if in_use
            else (
                f"Utilities near zero (at most {params.near_zero_water_m3} m3 water and "
                f"{params.near_zero_electricity_kwh} kWh a month)."
                if read_months
                else "No utility readings for the period."
            )
        )
    )
    evidence = (
        ("days_without_member_access", str(absent)),
        ("last_member_access", last),
        ("excused_days", str(excused)),
        ("threshold_days", str(params.vacancy_days)),
        *(("utility_reading", text) for text in read_months),
    )
    return Assessment("vacancy", triggered, score, explanation, evidence)


@dataclass(frozen=True)
class RegistrationLead:
    """A department record saying where the members actually live, weighed by `assess_sublet`."""

    record: RegistrationRecord
    flat_city: str
    elsewhere: bool

    def describe(self) -> str:
        return (
            f"{self.record.department} record {self.record.reference} of {self.record.described_on}: "
            f"actual residence {self.record.actual_residence_city}, household registration "
            f"{self.record.hukou_city}, flat in {self.flat_city or 'an unrecorded city'}"
        )


def registration_lead(
    household: HouseholdView, as_of: int, params: DetectorParams
) -> RegistrationLead | None:
    """The latest registration record with values, if recent enough; `elsewhere` when its actual
    residence is not the flat's city (or, for a household registered before the city was kept, not
    the city of its household registration)."""
    records = [
        r
        for r in household.facts.values()
        if r.kind == "registration"
        and r.actual_residence_city is not None
        and as_of - r.described_on.toordinal() <= params.registration_max_age_days
    ]
    if not records:
        return None
    latest = max(records, key=lambda r: (r.described_on, r.reference))
    flat_city = household.region or (latest.hukou_city or "")
    return RegistrationLead(latest, household.region, latest.actual_residence_city != flat_city)


def _mask(key: str) -> str:
    """A credential as evidence shows it: its kind and the end of its keyed digest (never the token)."""
    kind, _, digest = key.partition(":")
    return f"{kind}:…{digest[-6:]}"


def assess_sublet(
    occupancy: UnitOccupancy | None,
    as_of: int,
    since: int | None,
    params: DetectorParams,
    *,
    tenancy_start: int | None = None,
    lead: RegistrationLead | None = None,
) -> Assessment:
    """`since`: last sublet warning closed; `tenancy_start`: the household's first day (a flat let
    again is judged on its new household's days only)."""
    first = as_of - params.window_days + 1
    if since is not None:
        first = max(first, since + 1)
    if tenancy_start is not None:
        first = max(first, tenancy_start)
    sums = occupancy.sums(first, as_of) if occupancy else [0, 0, 0]
    member, other, elsewhere = sums[MEMBER], sums[OTHER], sums[ELSEWHERE]
    total = member + other
    home = member + elsewhere
    other_share = other / total if total else 0.0
    away_share = elsewhere / home if home else 0.0
    strangers = total >= params.min_accesses and other_share >= params.unregistered_share
    away = home >= params.min_accesses and away_share >= params.elsewhere_share
    score = max(
        other_share * min(total / params.min_accesses, 1.0), away_share * min(home / params.min_accesses, 1.0)
    )
    weighed = lead is not None and lead.elsewhere and params.registration_weight > 0
    if weighed:
        score = 1.0 - (1.0 - score) * (1.0 - params.registration_weight)
    top = (
        sorted(
            ((k, v) for k, v in occupancy.others.items() if v[1] >= first),
            key=lambda kv: -kv[1][0],
        )[:5]
        if occupancy
        else []
    )
    parts = [
        f"{other} of {total} door openings at this unit from {_day(first)} to {_day(as_of)} were by "
        f"credentials not enrolled to the household ({other_share:.0%}; threshold "
        f"{params.unregistered_share:.0%} of at least {params.min_accesses})",
        f"the household's members opened other units' doors {elsewhere} time(s) against {member} at home "
        f"({away_share:.0%}; threshold {params.elsewhere_share:.0%})",
    ]
    if strangers or away:
        reasons = []
        if strangers:
            reasons.append(f"Most openings are by other people: {parts[0]}.")
        if away:
            reasons.append(f"Members are seen mostly elsewhere: {parts[1]}.")
        explanation = " ".join(reasons)
    else:
        explanation = f"No sign of subletting or lending: {'; '.join(parts)}."
    if lead is not None:
        explanation += f" Registration: {lead.describe()}" + (
            f", so the members live elsewhere (score weighted by {params.registration_weight:.0%})."
            if weighed
            else "."
        )
    evidence = (
        ("window", f"{_day(first)}..{_day(as_of)}"),
        ("openings_by_members", str(member)),
        ("openings_by_others", str(other)),
        ("member_openings_elsewhere", str(elsewhere)),
        *(("other_credential", f"{_mask(k)} seen {v[0]} time(s), last {_day(v[1])}") for k, v in top),
        *(
            (("registration_lead", f"weighted {params.registration_weight:.0%}: {lead.describe()}"),)
            if weighed and lead is not None
            else ()
        ),
    )
    return Assessment("sublet_or_lend", strangers or away, score, explanation, evidence)


def risk_score(assessments: list[Assessment]) -> int:
    """0..100: the chance-like union of the detectors' scores (one strong signal is enough)."""
    remaining = 1.0
    for assessment in assessments:
        remaining *= 1.0 - max(0.0, min(assessment.score, 1.0))
    return round(100 * (1.0 - remaining))
