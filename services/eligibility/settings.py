"""Eligibility's own settings, beside the ones every service shares."""

from __future__ import annotations

from pydantic import Field

from services.kit.settings import ServiceSettings

DEV_PERSON_HASH_KEY = "dev-only-person-hash-key-not-for-production"
"""Local-stack default of `PERSON_HASH_KEY`. Any real deployment sets its own key (shared with the
departments), otherwise hashes could be recomputed by anyone who reads this file."""


class EligibilitySettings(ServiceSettings):
    service_name: str = "eligibility"
    http_port: int = 8001

    person_hash_key: str = Field(
        default=DEV_PERSON_HASH_KEY,
        min_length=16,
        description="HMAC key of person hashes (shared with departments); the default is for dev only.",
    )
    home_region: str = Field(default="CN-FS", pattern=r"^CN-[A-Z]{2}$")
    appeal_window_days: int = Field(default=30, ge=1, description="Days after a final decision to appeal.")
    cross_region_cities: list[str] = Field(
        default_factory=lambda: ["CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ"],
        description="Peer cities asked when a review case opens.",
    )
    cross_region_purpose: str = "exit-review"
    cross_region_legal_basis: str = "Guangdong cross-region housing security cooperation agreement"
    inbox_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description=(
            "Facts fetched and handled per inbox batch (each household decided once per batch); fewer, "
            "larger commits. Measured on SQLite and PostgreSQL up to 2,000 facts in one commit."
        ),
    )
    inbox_max_events_per_commit: int = Field(
        default=2_000,
        ge=1,
        description="Commit early when a batch holds this many events (~3 per fact: a batch of 500 is one).",
    )
    intake_max_lines: int = Field(default=20_000, ge=1, description="Facts accepted in one HTTP batch.")
