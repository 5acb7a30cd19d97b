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
  `min_attendance_share` of the sessions held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
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


def completed(attended: int, held: int, min_share: Decimal) -> bool:
    """Whether attendance meets the completion rule; nobody completes a course with no session held."""
    return held > 0 and Decimal(attended) >= min_share * held
