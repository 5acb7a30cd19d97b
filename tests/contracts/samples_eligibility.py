"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "housing.eligibility.cross-region-register-updated": {
        "household_id": "0f8c2a34-6d1e-4b7a-9c3e-2b1f4e5d6a7c",
        "subjects": [
            {
                "member_id": "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
                "city": "CN-GZ",
                "key_id": "FS-GZ-2026",
                "id_hash": "3f" * 32,
            }
        ],
        "holds_subsidised_housing": True,
        "receives_housing_subsidy": False,
        "owns_property_over_threshold": False,
        "as_of": "2026-11-05",
    },
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

VERSIONED: dict[str, dict[str, Any]] = {
    "housing.eligibility.cross-region-check-requested@v2": {
        "household_id": "0f8c2a34-6d1e-4b7a-9c3e-2b1f4e5d6a7c",
        "check_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
        "cities": ["CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ"],
        "purpose": "exit-review",
        "legal_basis": "Guangdong cross-region housing security cooperation agreement",
        "subjects": [
            {
                "member_id": "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
                "city": "CN-GZ",
                "key_id": "FS-GZ-2026",
                "id_hash": "3f" * 32,
            }
        ],
    },
}
"""Samples of a version other than 1, as `<type>@v<version>` (version 1 is under the type)."""
