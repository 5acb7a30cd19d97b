"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "housing.penalties.exit-completed": {
        "household_id": "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60",
        "estate": "Chancheng Garden",
        "building": "3",
        "unit": "1204",
        "completed_on": "2027-05-31",
        "how": "keys_returned",
        "recorded_by": "officer-li",
    },
}
