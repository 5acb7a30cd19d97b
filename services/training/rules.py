"""Training's policy as pure functions over dated parameters (no I/O but reading the YAML files).

Each rule is a YAML file under `parameters/` (or `TRAINING_PARAMETERS_DIR`) with dated values; the value
in force on a date is the one with the latest `effective_from` on or before it, so a change of policy
applies from its date and an older decision can still be explained by the values of its day.
- `working_age`: members referred automatically on an exit decision are those aged `min_years` to
  `max_years` (whole years, inclusive) on the decision's date;
- `stable_work`: a trainee is in stable work once evidence dated at least `months` whole months after the
  job's start shows them still with the employer (a later human-resources or social-insurance record
  naming the same employer, or an operator's check);
- `completion`: a course counts as completed (the person is "trained") when they attended at least
  `min_attendance_share` of the course's scheduled sessions (every session is required; the share
  says how many of them must be attended: `required_sessions`), never of only those held so far;
- `late_recording`: a step recorded after the day it happened may be dated back at most
  `late_recording_days` days (with a reason; `services.kit.dating`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import yaml

PARAMETER_DIR = Path(__file__).with_name("parameters")


class ParameterError(LookupError):
    """No value of a rule is in force on the date asked."""


@dataclass(frozen=True)
class DatedValue:
    effective_from: date
    values: dict[str, Any]
    legal_reference: str


@dataclass(frozen=True)
class Parameters:
    """Every rule's dated values, oldest first."""

    rules: dict[str, tuple[DatedValue, ...]]

    def at(self, rule: str, on: date) -> DatedValue:
        in_force = [value for value in self.rules.get(rule, ()) if value.effective_from <= on]
        if not in_force:
            raise ParameterError(f"no value of {rule!r} is in force on {on.isoformat()}")
        return in_force[-1]

    def working_age(self, on: date) -> tuple[int, int]:
        value = self.at("working_age", on).values
        return int(value["min_years"]), int(value["max_years"])

    def stable_months(self, on: date) -> int:
        return int(self.at("stable_work", on).values["months"])

    def min_attendance_share(self, on: date) -> Decimal:
        return Decimal(str(self.at("completion", on).values["min_attendance_share"]))

    def late_recording_days(self, on: date) -> int:
        return int(self.at("late_recording", on).values["late_recording_days"])

    def in_force(self, on: date) -> dict[str, Any]:
        """Every rule's value on a date, for the API."""
        out: dict[str, Any] = {}
        for rule in sorted(self.rules):
            try:
                value = self.at(rule, on)
            except ParameterError:
                continue
            out[rule] = {
                **{k: str(v) if isinstance(v, Decimal) else v for k, v in value.values.items()},
                "effective_from": value.effective_from.isoformat(),
                "legal_reference": value.legal_reference,
            }
        return out


def load(directory: Path = PARAMETER_DIR) -> Parameters:
    """Read every `*.yaml` rule file in `directory`."""
    rules: dict[str, tuple[DatedValue, ...]] = {}
    for path in sorted(directory.glob("*.yaml")):
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        values = []
        for item in raw["values"]:
            item = dict(item)
            effective = item.pop("effective_from")
            reference = str(item.pop("legal_reference", ""))
            effective = effective if isinstance(effective, date) else date.fromisoformat(str(effective))
            values.append(DatedValue(effective, item, reference))
        rules[str(raw["rule"])] = tuple(sorted(values, key=lambda v: v.effective_from))
    return Parameters(rules)


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years on a date (a birthday on 29 February counts from 1 March in other years)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def of_working_age(birth_date: date, on: date, bounds: tuple[int, int]) -> bool:
    low, high = bounds
    return low <= age_on(birth_date, on) <= high


def whole_months(start: date, on: date) -> int:
    """Whole calendar months from `start` to `on` (0 when `on` is before `start`)."""
    months = (on.year - start.year) * 12 + (on.month - start.month)
    if on.day < start.day:
        months -= 1
    return max(months, 0)


def required_sessions(scheduled: int, min_share: Decimal) -> int:
    """Sessions a trainee must attend of a course of `scheduled` sessions (at least one)."""
    needed = (min_share * scheduled).to_integral_value(rounding=ROUND_CEILING)
    return max(1, min(scheduled, int(needed)))


def stable_from(start: date, months: int) -> date:
    """The first day on which a job started on `start` has lasted `months` whole months (the first
    day `d` with `whole_months(start, d) >= months`): the same day of the month, or the 1st of the
    month after when that month is shorter."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    try:
        return start.replace(year=year, month=month)
    except ValueError:  # no such day in that month (the 31st, 29 February)
        year, month = divmod(index + 1, 12)
        return date(year, month + 1, 1)


def completed(attended: int, scheduled: int, min_share: Decimal) -> bool:
    """Whether attendance meets the completion rule: `attended` of the course's `scheduled` sessions
    (not of those held so far: one session attended of four is not a course completed)."""
    return scheduled > 0 and attended >= required_sessions(scheduled, min_share)


def still_reachable(attended: int, held: int, scheduled: int, min_share: Decimal) -> bool:
    """Whether a trainee short of the requirement could still meet it in the sessions not yet held."""
    return attended + (scheduled - held) >= required_sessions(scheduled, min_share)
