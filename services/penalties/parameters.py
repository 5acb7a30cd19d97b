"""Dated, regional policy parameters (one YAML file per parameter under `parameters/`).

A decision uses the values in force in the household's region on the decision's date: a transition
decided in March keeps March's rules even if the city changes them in April, and a notice can say which
value it applied and why. No I/O but reading the files at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

PARAMETER_DIR = Path(__file__).with_name("parameters")

NAMES = (
    "transition_months",
    "transition_monthly_rise",
    "transition_rule",
    "surcharge_rate",
    "subsidy_amount",
    "appeal_window_days",
    "repossession_notice_days",
    "exit_notice_days",
    "credit_list_days",
    "late_recording_days",
)


class ParameterError(ValueError):
    """A parameter file that is malformed, or a region and date with no value in force."""


@dataclass(frozen=True)
class DatedValue:
    parameter: str
    region: str
    effective_from: date
    value: str
    legal_reference: str


@dataclass(frozen=True)
class Policy:
    """The values in force in one region on one date: what one decision applies."""

    region: str
    on: date
    transition_months: int
    transition_monthly_rise: Decimal
    transition_rule: Literal["simple", "compound"]
    surcharge_rate: Decimal
    subsidy_amount: Decimal
    appeal_window_days: int
    repossession_notice_days: int
    exit_notice_days: int
    credit_list_days: int
    late_recording_days: int
    references: Mapping[str, str]


class ParameterTable:
    def __init__(self, values: list[DatedValue]) -> None:
        self.values = sorted(values, key=lambda v: (v.parameter, v.region, v.effective_from))

    def value_at(self, parameter: str, region: str, on: date) -> DatedValue:
        current = None
        for value in self.values:
            if value.parameter == parameter and value.region == region and value.effective_from <= on:
                current = value
        if current is None:
            raise ParameterError(f"no value of {parameter} in force in {region} on {on}")
        return current

    def policy(self, region: str, on: date) -> Policy:
        found = {name: self.value_at(name, region, on) for name in NAMES}
        rule = found["transition_rule"].value
        if rule not in ("simple", "compound"):
            raise ParameterError(f"transition_rule must be simple or compound, not {rule!r}")
        return Policy(
            region=region,
            on=on,
            transition_months=int(found["transition_months"].value),
            transition_monthly_rise=Decimal(found["transition_monthly_rise"].value),
            transition_rule=rule,  # type: ignore[arg-type]
            surcharge_rate=Decimal(found["surcharge_rate"].value),
            subsidy_amount=Decimal(found["subsidy_amount"].value).quantize(Decimal("0.01")),
            appeal_window_days=int(found["appeal_window_days"].value),
            repossession_notice_days=int(found["repossession_notice_days"].value),
            exit_notice_days=int(found["exit_notice_days"].value),
            credit_list_days=int(found["credit_list_days"].value),
            late_recording_days=int(found["late_recording_days"].value),
            references={name: v.legal_reference for name, v in found.items()},
        )

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {
                "parameter": v.parameter,
                "region": v.region,
                "effective_from": v.effective_from.isoformat(),
                "value": v.value,
                "legal_reference": v.legal_reference,
            }
            for v in self.values
        ]


def load(directory: Path = PARAMETER_DIR) -> ParameterTable:
    values: list[DatedValue] = []
    for name in NAMES:
        path = directory / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("parameter") != name:
            raise ParameterError(f"{path} does not describe parameter {name}")
        for region, entries in (data.get("values") or {}).items():
            for entry in entries:
                raw = str(entry["value"])
                if data.get("kind") in ("rate", "money"):
                    Decimal(raw)  # refuse a value that is not a decimal at start-up
                elif data.get("kind") == "integer":
                    int(raw)
                values.append(
                    DatedValue(
                        name,
                        str(region),
                        date.fromisoformat(str(entry["effective_from"])),
                        raw,
                        str(entry.get("legal_reference", "")),
                    )
                )
    return ParameterTable(values)
