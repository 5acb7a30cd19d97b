"""Monitoring's own settings: detector parameters and the signal intake's pace, all from the environment.

The detector thresholds are the authority's policy (how long a flat may stand empty before someone
looks), so they are configuration with defaults, never constants in the logic.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from services.kit.settings import ServiceSettings
from services.monitoring.detectors import DetectorParams


class MonitoringSettings(ServiceSettings):
    service_name: str = "monitoring"
    http_port: int = 8005

    retention_days: int = Field(default=120, ge=7, description="Days of per-unit counters kept in memory.")

    vacancy_days: int = Field(default=30, ge=1, description="Days without member access before a warning.")
    near_zero_water_m3: Decimal = Field(default=Decimal("1.0"), ge=0)
    near_zero_electricity_kwh: Decimal = Field(default=Decimal("10.0"), ge=0)
    sublet_window_days: int = Field(default=30, ge=1)
    sublet_min_accesses: int = Field(default=20, ge=1)
    sublet_unregistered_share: float = Field(default=0.6, gt=0, le=1)
    sublet_elsewhere_share: float = Field(default=0.7, gt=0, le=1)
    registration_elsewhere_weight: float = Field(
        default=0.3,
        ge=0,
        lt=1,
        description="Weight a registration record placing the members in another city adds to the "
        "sublet-or-lend score: score' = 1 - (1 - score)(1 - weight).",
    )
    registration_fact_max_age_days: int = Field(
        default=365, ge=1, description="Older registration records are not weighed."
    )
    monitoring_credential_key: str | None = Field(
        default=None,
        min_length=16,
        description="HMAC-SHA256 key of door credentials at rest; else derived from CIPHER_KEY; else a "
        "demo key (logged loudly).",
    )

    signals_batch_size: int = Field(default=1000, ge=1, le=10_000, description="Messages per fetch.")
    signals_checkpoint_s: float = Field(default=5.0, gt=0, description="Occupancy checkpoint interval.")
    signals_checkpoint_messages: int = Field(
        default=50_000, ge=1, description="…or after this many messages."
    )
    signals_ack_wait_s: float = Field(default=120.0, gt=0)
    signals_max_clock_skew_s: float = Field(default=3600, ge=0, description="Later signals are refused.")
    detection_sweep_s: float = Field(default=60.0, gt=0, description="Interval of the all-units sweep.")
    http_signals_max: int = Field(default=100_000, ge=1, description="Signals accepted in one HTTP batch.")
    late_recording_days: int = Field(
        default=30,
        ge=0,
        description=(
            "Days back a warning's step (assign, confirm, dismiss, rectify) may be dated when recorded "
            "late, with a reason (services/kit/dating.py); never in the future, never before the "
            "warning was raised or its previous step."
        ),
    )

    def detector_params(self) -> DetectorParams:
        return DetectorParams(
            vacancy_days=self.vacancy_days,
            near_zero_water_m3=self.near_zero_water_m3,
            near_zero_electricity_kwh=self.near_zero_electricity_kwh,
            window_days=self.sublet_window_days,
            min_accesses=self.sublet_min_accesses,
            unregistered_share=self.sublet_unregistered_share,
            elsewhere_share=self.sublet_elsewhere_share,
            registration_weight=self.registration_elsewhere_weight,
            registration_max_age_days=self.registration_fact_max_age_days,
        )
