"""Eligibility's own settings, beside the ones every service shares."""

from __future__ import annotations

from pathlib import Path

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
    linkage_keys_file: Path | None = Field(
        default=None,
        description=(
            "Our peer directory (the one federation reads, FEDERATION_PEERS_FILE), whose entries' "
            "`linkage_keys` are the keys members are hashed with for each peer city "
            "(services/kit/linkage.py). Unset: no keys, every peer answers `unverified`."
        ),
    )
    cross_region_purpose: str = Field(
        default="exit-review", description="Purpose declared by the check a review case opens."
    )
    cross_region_legal_basis: str = "Guangdong cross-region housing security cooperation agreement"
    cross_region_sweep: bool = Field(
        default=True, description="Run the periodic cross-region sweep (under the lease `eligibility.sweep`)."
    )
    cross_region_sweep_purpose: str = Field(
        default="eligibility-review", description="Purpose declared by the sweep's checks (no case open)."
    )
    cross_region_sweep_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two looks for households due (an in-memory scan: cheap).",
    )
    cross_region_sweep_batch: int = Field(
        default=100,
        ge=1,
        le=1_000,
        description=(
            "Checks requested per batch. Federation coalesces the sweep's checks into signed batches "
            "of up to 100 subjects per peer (federation/README.md, outbound batches), so 100 "
            "households of ~3 members are ~3 requests per peer: batch / pause stays well under the "
            "directory's `rate_limit` (the demo directories: 200 requests per second, burst 400)."
        ),
    )
    cross_region_sweep_pause_s: float = Field(
        default=0.5, ge=0, description="Seconds between two batches of one sweep (the pace, see the batch)."
    )
    cross_region_sweep_max_in_flight: int = Field(
        default=400,
        ge=1,
        description=(
            "Checks the sweep lets wait for answers at once: the next batch waits until fewer are open, "
            "so the sweep goes no faster than the peers answer. Batched, 400 checks of 4 cities are "
            "~50 requests in flight, within federation's pool of 100 connections."
        ),
    )
    cross_region_recheck_days: int = Field(
        default=365,
        ge=1,
        description=(
            "Age of a check after which it is asked again, for a region without a dated value of the "
            "parameter `cross_region_recheck_days` (parameters/)."
        ),
    )
    cross_region_first_check_after_s: float = Field(
        default=600.0,
        ge=0,
        description=(
            "A household never checked is due at its first decision, or this long after its "
            "registration if no department fact has decided it yet (its first facts usually follow "
            "the registration: asked at its first decision, the answers meet them)."
        ),
    )
    cross_region_retry_s: float = Field(
        default=3_600.0,
        gt=0,
        description=(
            "A check with an `unverified` city, or still without every answer after this long, is "
            "asked again after this many seconds (never left as it is for a year)."
        ),
    )
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
