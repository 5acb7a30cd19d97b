"""How the household page reads each service's part (ledger, sanctions, placement, training).

The parts are the services' own answers, shown through `readable.Reader` like every value; what this
module adds is per part: the fields said first, those left out (what the page's header already says,
ids only a machine reads), and for the rent ledger one change of shape, the month-by-month lines
without the explanation each adjustment already carries in the adjustments' table (it would repeat
once a month for years).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PART_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ledger": (
        ("base_rent", "transition", "adjustments", "months", "exited", "rounding"),
        ("household_id", "estate", "building", "unit", "cause_id", "transition_id", "review_id"),
    ),
    "sanctions": (
        (
            "kind",
            "violation",
            "state",
            "reason",
            "imposed_on",
            "imposed_by",
            "effective_from",
            "surcharge_rate",
            "appeal_until",
            "in_force",
        ),
        ("household_id", "estate", "sanction_id", "basis_id", "basis_kind", "appeals", "suspended_by_appeal"),
    ),
    "placement": (
        (
            "placement_class",
            "pool",
            "state",
            "unit",
            "respond_by",
            "route",
            "decided_on",
            "reasons",
            "guidance",
            "priority",
            "position",
            "offers_lost",
            "loan_discount_pp",
        ),
        ("household_id", "estate", "case_id", "unit_id"),
    ),
    "training": (("referrals", "employment_evidence"), ("household_id", "estate", "member_id", "course_id")),
}


def _ledger(data: Any) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get("months"), list):
        return data
    months = [
        {
            **month,
            "adjustments": [
                {k: v for k, v in line.items() if k != "explanation"}
                for line in month.get("adjustments") or []
                if isinstance(line, dict)
            ],
        }
        if isinstance(month, dict)
        else month
        for month in data["months"]
    ]
    return {**data, "months": months}


SHAPES: dict[str, Callable[[Any], Any]] = {"ledger": _ledger}


def part(heading: str, data: Any, error: str | None) -> dict[str, Any]:
    """One part of the household page, ready for the template."""
    prefer, hide = PART_FIELDS.get(heading, ((), ()))
    shaped = SHAPES.get(heading, lambda d: d)(data)
    return {"heading": heading, "data": shaped, "error": error, "prefer": prefer, "hide": hide}
