"""Resettlement's own settings, beside the ones every service shares.

Placement *policy* (the elderly age, the loan-rate discount, the days to answer an offer, the offers a
case may decline) is dated and lives in `parameters/placement.yaml`; what is here is deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from services.kit.settings import REPO_ROOT, ServiceSettings
from services.resettlement.domain import PARAMETERS_FILE

FOSHAN_POOLS = REPO_ROOT / "infra" / "resettlement" / "foshan-pools.yaml"


class ResettlementSettings(ServiceSettings):
    service_name: str = "resettlement"
    http_port: int = 8003

    resettlement_pools_file: Path | None = Field(
        default=FOSHAN_POOLS,
        description=(
            "Units loaded at start-up when the service's pools are empty (CSV or YAML; see "
            "infra/resettlement/README.md). Empty to load nothing."
        ),
    )
    resettlement_parameters_file: Path = Field(
        default=PARAMETERS_FILE, description="Dated placement policy (elderly age, discount, offer days)."
    )
    expiry_sweep_s: float = Field(
        default=300.0,
        gt=0,
        description="Interval of the periodic sweep: expire overdue offers, fill free units.",
    )
    conflict_retries: int = Field(
        default=200,
        ge=1,
        description="Attempts of a command that lost an optimistic-concurrency race (fresh state each time).",
    )

    @field_validator("resettlement_pools_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """Empty: load nothing. A relative path not found from the working directory is read from the
        repository root (the compose file and the Procfile name `infra/resettlement/...`)."""
        if value is None or value == "":
            return None
        path = Path(value)
        if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
            return REPO_ROOT / path
        return path
