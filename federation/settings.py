"""Federation's settings: the kit's, plus who we are, our signing key and our peer directory.

Environment variables are the upper-case field names (`FEDERATION_CITY`, `FEDERATION_PEERS_FILE`, ...),
as for every other service, so a partner-city deployment is configured without code changes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from contracts.federation import BATCH_MAX
from services.kit.settings import REPO_ROOT, ServiceSettings

DEMO_DIR = REPO_ROOT / "var" / "federation"
"""The demo federation that `make run` generates (`federation.demo.ensure_demo`, windows from that day):
what the defaults below point at. A real deployment sets `FEDERATION_PRIVATE_KEY_FILE` and
`FEDERATION_PEERS_FILE` to its own key and directory, whose windows it configures itself."""


class FederationSettings(ServiceSettings):
    service_name: str = "federation"
    http_port: int = 8006

    federation_city: str = Field(default="CN-FS", pattern=r"^CN-[A-Z]{2}$", description="Our city code.")
    federation_private_key_file: Path = Field(
        default=DEMO_DIR / "CN-FS" / "signing-key.DEMO-ONLY.pem", description="Ed25519 private key, PEM."
    )
    federation_peers_file: Path = Field(default=DEMO_DIR / "CN-FS" / "peers.yaml")
    federation_data_file: Path | None = Field(
        default=None, description="Demo/test data set answered from (until our events carry linkage hashes)."
    )
    federation_audit_file: Path | None = Field(default=None, description="Default: var/<city>-audit.jsonl.")
    federation_consume_checks: bool = Field(
        default=True,
        description="Act on eligibility's check requests (demo peers share Foshan's NATS: false).",
    )
    federation_contact: str = Field(default="housing-federation-desk", max_length=64)

    federation_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    federation_batch_max: int = Field(default=100, ge=1, le=1000)
    federation_max_signature_age_s: int = Field(default=300, ge=1, le=300)
    federation_clock_skew_s: int = Field(default=5, ge=0, le=60)

    federation_rate_limit_share: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Answering processes the directory's rate limits are shared by (each enforces 1/n).",
    )
    federation_commit_batch_max: int = Field(
        default=256, ge=1, le=4096, description="Accepted exchanges stored per transaction, at most."
    )
    federation_commit_linger_s: float = Field(
        default=0.002,
        ge=0,
        le=0.05,
        description="Under load, wait this long for more exchanges before a transaction (0: never).",
    )
    federation_refusals_file: Path | None = Field(
        default=None, description="Rotating log of refused requests; default var/<city>-refusals-<port>."
    )
    federation_refusals_max_bytes: int = Field(default=10 * 1024 * 1024, ge=4096)
    federation_refusals_backups: int = Field(default=3, ge=1, le=100)

    federation_peer_timeout_s: float = Field(default=3.0, gt=0)
    federation_peer_attempts: int = Field(default=3, ge=1, le=10)
    federation_retry_base_s: float = Field(default=0.2, gt=0)
    federation_breaker_failures: int = Field(default=5, ge=1)
    federation_breaker_reset_s: float = Field(default=30.0, gt=0)
    federation_max_in_flight_queries: int = Field(
        default=64,
        ge=1,
        le=100,
        description=(
            "Peer queries the outbound worker has in flight at once (one per check and city, or per "
            "batch of sweep checks, retries included); the rest wait their turn. Kept below the "
            "outbound connection pool (httpx's 100 connections), so a burst of checks queues here "
            "instead of failing for want of a connection (a pool timeout counts against the peer's "
            "circuit breaker and concludes `unverified`)."
        ),
    )

    federation_batch_purposes: list[str] = Field(
        default=["eligibility-review"],
        description=(
            "Purposes whose checks the outbound worker coalesces into per-peer batches (the sweep's: no "
            "case open). A check of any other purpose (`exit-review`: an open review case) is asked "
            "alone, under its own case id. Environment: a JSON list; `[]` batches nothing."
        ),
    )
    federation_outbound_batch_max: int = Field(
        default=BATCH_MAX,
        ge=1,
        le=BATCH_MAX,
        description="Subjects per outbound batch at most (households are never split across batches).",
    )
    federation_batch_linger_s: float = Field(
        default=0.05,
        ge=0,
        le=5,
        description="A batch not yet full is sent this long after its first check joined it.",
    )

    def refusals_path(self) -> Path:
        if self.federation_refusals_file is not None:
            return self.federation_refusals_file
        return self.var_dir / f"federation-{self.federation_city}-refusals-{self.http_port}.jsonl"

    def audit_path(self) -> Path:
        if self.federation_audit_file is not None:
            return self.federation_audit_file
        return self.var_dir / f"federation-{self.federation_city}-audit.jsonl"
