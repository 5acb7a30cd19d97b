"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "housing.eligibility.rent-subsidy-registered": {
        "household_id": "5f0c6a52-8f4b-4c8e-9d1a-2b3c4d5e6f70",
        "region": "CN-FS",
        "district": "Nanhai",
        "monthly_subsidy": "650.00",
        "subsidy_start": "2021-03-01",
        "members": [
            {
                "member_id": "0d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4",
                "birth_date": "1979-04-12",
                "disabled": False,
            },
            {
                "member_id": "1e3c8d2f-4a5b-4c6d-9e7f-8091a2b3c4d5",
                "birth_date": "2012-09-30",
                "disabled": True,
            },
        ],
    },
}
