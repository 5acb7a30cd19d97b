"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

_HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"
_SANCTION = "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e"

SAMPLES: dict[str, dict[str, Any]] = {
    "housing.penalties.exit-completed": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "completed_on": "2027-05-31",
        "how": "keys_returned",
        "recorded_by": "officer-li",
    },
    "housing.penalties.transition-started": {
        "household_id": _HOUSEHOLD,
        "transition_id": "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
        "review_id": "2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6",
        "estate": "Chancheng Garden",
        "route": "transition",
        "base_rent": "1000.00",
        "first_month": "2027-02",
        "months": 2,
        "monthly_rise": "0.10",
        "rule": "simple",
        "schedule": [{"month": "2027-02", "rent": "1100.00"}, {"month": "2027-03", "rent": "1200.00"}],
        "exit_due_on": "2027-03-31",
    },
    "housing.penalties.transition-closed": {
        "household_id": _HOUSEHOLD,
        "transition_id": "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
        "how": "overdue",
        "closed_on": "2027-04-01",
    },
    "housing.penalties.rent-adjusted": {
        "household_id": _HOUSEHOLD,
        "adjustment_id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
        "action": "started",
        "kind": "surcharge",
        "cause_id": _SANCTION,
        "effective_month": "2027-04",
        "base_rent": "1000.00",
        "explanation": "Rent surcharge of 50 % of the base rent (500.00 yuan a month) for subletting.",
    },
    "housing.penalties.voluntary-exit-applied": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "applied_on": "2027-01-15",
        "low_income": True,
        "wants_to_buy": False,
    },
    "housing.penalties.subsidy-awarded": {
        "household_id": _HOUSEHOLD,
        "subsidy_id": "4f5a6b7c-8d9e-5fa0-b1c2-d3e4f5a6b7c8",
        "estate": "Chancheng Garden",
        "amount": "5000.00",
        "awarded_on": "2027-01-15",
    },
    "housing.penalties.purchase-help-flagged": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "flagged_on": "2027-01-15",
        "source": "exit_decision",
    },
    "housing.penalties.sanction-imposed": {
        "household_id": _HOUSEHOLD,
        "sanction_id": _SANCTION,
        "kind": "rent_surcharge",
        "violation": "sublet",
        "basis_kind": "warning",
        "basis_id": "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
        "estate": "Chancheng Garden",
        "imposed_on": "2027-03-10",
        "effective_from": "2027-04-01",
        "ends_on": None,
        "surcharge_rate": "0.50",
        "appeal_until": "2027-04-09",
        "imposed_by": None,
    },
    "housing.penalties.sanction-changed": {
        "household_id": _HOUSEHOLD,
        "sanction_id": _SANCTION,
        "kind": "repossession",
        "state": "notice_served",
        "on": "2027-03-12",
        "deadline": "2027-04-11",
        "reason": "Repossession notice served at the flat.",
        "by": "officer-li",
    },
    "housing.penalties.notice-issued": {
        "household_id": _HOUSEHOLD,
        "notice_id": "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e",
        "estate": "Chancheng Garden",
        "kind": "sanction_imposed",
        "issued_on": "2027-03-10",
        "deadline": None,
        "appeal_until": "2027-04-09",
    },
    "housing.penalties.notice-delivered": {
        "household_id": _HOUSEHOLD,
        "notice_id": "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e",
        "channel": "file",
        "delivered_on": "2027-03-10",
    },
    "housing.penalties.appeal-lodged": {
        "household_id": _HOUSEHOLD,
        "appeal_id": "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
        "sanction_id": _SANCTION,
        "lodged_on": "2027-03-20",
    },
    "housing.penalties.appeal-resolved": {
        "household_id": _HOUSEHOLD,
        "appeal_id": "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
        "sanction_id": _SANCTION,
        "outcome": "dismissed",
        "resolved_on": "2027-04-02",
        "resolved_by": "supervisor-chen",
    },
}
