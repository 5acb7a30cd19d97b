"""Training's own settings, beside the ones every service shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from services.kit.settings import REPO_ROOT, ServiceSettings
from services.training.rules import PARAMETER_DIR


class TrainingSettings(ServiceSettings):
    service_name: str = "training"
    http_port: int = 8004

    training_courses_file: Path | None = Field(
        default=REPO_ROOT / "infra" / "training" / "courses.yaml",
        description="Seed catalogue, scheduled at start-up when the service has no course (empty: none).",
    )
    training_parameters_dir: Path = Field(
        default=PARAMETER_DIR, description="Dated policy values (working age, stable work, completion)."
    )
    command_attempts: int = Field(
        default=50,
        ge=1,
        description="Attempts of a command that lost a concurrent write (version conflict) before a 409.",
    )

    @field_validator("training_courses_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value
