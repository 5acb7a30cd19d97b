"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES).

Only events the catalogue gathers are listed: `contracts.monitoring.EVENTS` is declared, and its
samples join SAMPLES the moment `contracts.catalogue` includes it (the suite checks both sets match).
"""

from __future__ import annotations

from typing import Any

from contracts.catalogue import EVENTS

DECLARED: dict[str, dict[str, Any]] = {
    "housing.monitoring.warning-withdrawn": {
        "household_id": "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60",
        "warning_id": "0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3",
        "withdrawn_on": "2027-05-31",
        "reason": "household_exited",
        "previous_status": "assigned",
    },
}
"""Every monitoring event of `contracts.monitoring.EVENTS`, catalogued or not (tests/monitoring uses it)."""

SAMPLES: dict[str, dict[str, Any]] = {
    kind: sample for kind, sample in DECLARED.items() if kind in {spec.type for spec in EVENTS}
}
