"""Months and money: the rounding rule, month arithmetic, a transition plan's schedule, what one
ledger adjustment adds to the rent in a month, and the day a step happened and was recorded. No I/O.

Money is `Decimal` yuan; every amount a tenant sees is rounded once, half up to the fen (0.01), from
the exact value: a transition month is `base x factor` rounded, never the previous month's rounded rent
times 1.1 again, so rounding errors do not accumulate.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

CENT = Decimal("0.01")


def stamp(on: date, recorded_on: date | None, late_reason: str = "") -> dict[str, Any]:
    """The day a step happened and the day it was recorded (the same unless recorded late); events
    stored before the recording day was kept have none, and read as recorded on their own day."""
    return {"on": on, "recorded_on": recorded_on or on, "late_reason": late_reason}


# -- months and money ------------------------------------------------------------------------------


def money(value: Decimal) -> Decimal:
    """Round half up to the fen: the one rounding rule of every amount a household is told."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def month_of(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, month: date) -> int:
    return (month.year - first.year) * 12 + month.month - first.month


def last_day(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


def label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def parse_month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def transition_factor(step: int, rise: Decimal, rule: str) -> Decimal:
    """Rent of plan month `step` as a multiple of the base rent (exact, unrounded)."""
    if rule == "compound":
        return (Decimal(1) + rise) ** step
    return Decimal(1) + rise * step


def transition_rent(base: Decimal, step: int, rise: Decimal, rule: str) -> Decimal:
    return money(base * transition_factor(step, rise, rule))


def transition_schedule(
    base: Decimal, first_month: date, months: int, rise: Decimal, rule: str
) -> list[tuple[date, Decimal]]:
    """(month, rent) for each month of a plan."""
    return [
        (add_months(first_month, k - 1), transition_rent(base, k, rise, rule)) for k in range(1, months + 1)
    ]


def line_amount(line: dict[str, Any], base: Decimal, month: date) -> Decimal | None:
    """What an adjustment adds to the base rent in `month`, or None when it does not apply."""
    if line["cancelled"] or month < line["first_month"]:
        return None
    if line["last_month"] is not None and month > line["last_month"]:
        return None
    if line["kind"] == "transition":
        step = min(months_between(line["first_month"], month) + 1, line["months"])
        return transition_rent(base, step, line["rate"], line["rule"]) - base
    return money(base * line["rate"])


def held_since(holds: dict[str, dict[str, Any]], adjustment_id: UUID) -> date | None:
    """Start of the open hold (of a tenancy's `holds`) on an adjustment, if any."""
    starts = [
        h["since"]
        for h in holds.values()
        if h["released_on"] is None and str(adjustment_id) in h["adjustments"]
    ]
    return min(starts) if starts else None


def statement(
    base_rent: Decimal,
    adjustments: dict[str, dict[str, Any]],
    holds: dict[str, dict[str, Any]],
    first: date,
    last: date,
) -> list[dict[str, Any]]:
    """A tenancy's rent due month by month, each line with its cause and explanation; a line under an
    open hold is shown from the hold's month on as suspended, not charged."""
    months: list[dict[str, Any]] = []
    month = month_of(first)
    while month <= month_of(last):
        lines: list[dict[str, Any]] = []
        due = base_rent
        for line in adjustments.values():
            amount = line_amount(line, base_rent, month)
            if amount is None:
                continue
            since = held_since(holds, line["adjustment_id"])
            suspended = since is not None and month >= month_of(since)
            if not suspended:
                due += amount
            lines.append(
                {
                    "adjustment_id": str(line["adjustment_id"]),
                    "kind": line["kind"],
                    "cause_id": str(line["cause_id"]),
                    "amount": f"{amount:.2f}",
                    "status": "suspended" if suspended else "charged",
                    "explanation": line["explanation"],
                }
            )
        months.append(
            {
                "month": label(month),
                "base_rent": f"{base_rent:.2f}",
                "adjustments": lines,
                "total_due": f"{money(due):.2f}",
            }
        )
        month = add_months(month, 1)
    return months
