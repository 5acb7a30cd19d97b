"""Penalties' own settings, beside the ones every service shares. Policy values (rates, amounts,
windows) are not settings: they are dated parameters under `parameters/`."""

from __future__ import annotations

from pydantic import Field

from services.kit.settings import ServiceSettings


class PenaltiesSettings(ServiceSettings):
    service_name: str = "penalties"
    http_port: int = 8002

    default_region: str = Field(
        default="CN-FS", pattern=r"^CN-[A-Z]{2}$", description="Region of parameters when none is known."
    )
    penalties_notice_webhook_url: str | None = Field(
        default=None, description="POST each notice as JSON here; unset: JSON lines in a file under var/."
    )
    notice_file_name: str = Field(default="penalties-notices.jsonl", description="File under VAR_DIR.")
    notice_retry_s: float = Field(default=5.0, gt=0, description="Pause before retrying a failed delivery.")
    overdue_check_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the process turns overdue plans into violations."
    )
