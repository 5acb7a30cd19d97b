"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

_HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"
_CASE = "2c9e7d41-5b3a-5f68-9d0e-3a4b5c6d7e8f"
_UNIT = "8d1e2f30-4a5b-5c6d-8e7f-901a2b3c4d5e"
_CASE_FIELDS = {"household_id": _HOUSEHOLD, "case_id": _CASE, "estate": "Chancheng Garden"}
_OFFER_FIELDS = {**_CASE_FIELDS, "pool": "transitional", "unit_id": _UNIT}

SAMPLES: dict[str, dict[str, Any]] = {
    "housing.resettlement.household-classified": {
        **_CASE_FIELDS,
        "placement_class": "special_hardship",
        "reasons": ["low income: yes", "member aged 60 or more: yes (1 of 2)", "member disabled: no"],
        "decided_on": "2026-11-20",
        "classified_on": "2026-11-20",
    },
    "housing.resettlement.guidance-given": {**_CASE_FIELDS, "kind": "purchase", "given_on": "2026-11-20"},
    "housing.resettlement.loan-discount-granted": {
        **_CASE_FIELDS,
        "percentage_points": "0.50",
        "granted_on": "2026-11-20",
    },
    "housing.resettlement.waitlisted": {
        **_CASE_FIELDS,
        "pool": "transitional",
        "waitlisted_on": "2026-11-20",
        "priority": "elderly or disabled member; decided 2026-11-20",
    },
    "housing.resettlement.unit-offered": {
        **_OFFER_FIELDS,
        "unit_estate": "Nanhai Transitional Court",
        "building": "2",
        "unit": "0305",
        "offered_on": "2026-11-20",
        "respond_by": "2026-12-04",
    },
    "housing.resettlement.offer-accepted": {
        **_OFFER_FIELDS,
        "accepted_on": "2026-11-22",
        "recorded_by": "officer-chen",
    },
    "housing.resettlement.offer-declined": {
        **_OFFER_FIELDS,
        "declined_on": "2026-11-22",
        "reason": "too far from the children's school",
        "recorded_by": "officer-chen",
    },
    "housing.resettlement.offer-expired": {**_OFFER_FIELDS, "expired_on": "2026-12-05"},
    "housing.resettlement.moved-in": {
        **_OFFER_FIELDS,
        "moved_in_on": "2026-12-01",
        "recorded_by": "officer-chen",
    },
    "housing.resettlement.case-closed": {**_CASE_FIELDS, "outcome": "placed", "closed_on": "2027-01-10"},
    "housing.resettlement.case-withdrawn": {
        **_CASE_FIELDS,
        "reason": "appeal overturned the exit decision",
        "withdrawn_on": "2026-12-01",
        "released_unit_id": _UNIT,
    },
}
