"""Settings read from the environment, one class per service.

Every process of the platform is configured the same way (twelve-factor): the bus address from
`NATS_URL`, the HTTP port from `HTTP_PORT`, storage from the eventsourcing library's own variables
(`PERSISTENCE_MODULE`, `SQLITE_DBNAME`, `POSTGRES_*`, `CIPHER_KEY`, `COMPRESSOR_TOPIC`), which the kit
passes through untouched so that switching SQLite for PostgreSQL is a deployment decision, not a code change.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
_LOOP_NAME = re.compile(r"[a-z][a-z0-9-]*(\.[A-Za-z0-9_-]+)?")


class BusSettings(BaseSettings):
    """Where the bus is and which credential a process shows it (services.kit.busauth)."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="")

    nats_url: str = "nats://127.0.0.1:14222"
    nats_credentials: Path | None = Field(
        default=None,
        description="Directory of the bus credentials (`<identity>.nk` nkey seeds, services.kit.busauth); "
        "`make run` makes them under var/nats/credentials. Unset: connect without one (a server that "
        "requires none).",
    )
    nats_identity: str | None = Field(
        default=None,
        description="Whose seed to use from NATS_CREDENTIALS; default the process's SERVICE_NAME.",
    )


class ServiceSettings(BusSettings):
    """The settings every service shares; a service subclasses it to add its own and its name."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="")

    service_name: str = Field(default="service", description="Name in logs, traces, Nats-Msg-Id, schema.")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    var_dir: Path = REPO_ROOT / "var"
    log_level: str = "INFO"
    simulated_clock_file: Path | None = Field(
        default=None,
        description="Simulations only (`make demo`): a file holding seconds the process's clock runs "
        "ahead of the machine's, so the simulation moves every process's time together.",
    )
    city_time_zone: str = Field(
        default="Asia/Shanghai",
        description="The city's time zone (IANA name; Foshan: Asia/Shanghai). Every calendar date the "
        "platform gives (a decision, a deadline, a notice, a ledger month, a step's day) is the city's "
        "date in it: from 00:00 to 08:00 in Foshan the UTC date is still yesterday's.",
    )
    otel_exporter_otlp_endpoint: str | None = None
    health_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the health listener (`services.kit.health`): `/healthz`, `/readyz`, "
        "`/metrics` answered by a thread of their own; unset: HTTP_PORT + 1000; 0: off.",
    )
    health_stall_s: float = Field(
        default=5.0,
        gt=0,
        description="The health port's /healthz is 503 once the event loop has shown no heartbeat "
        "for this long, and its /readyz once the readiness snapshot is this old.",
    )
    service_trust_keys: dict[str, list[Path]] | None = Field(
        default=None,
        description="Whom this service believes about who calls it (services.kit.identity): issuer "
        "(`iss`) -> Ed25519 public keys (PEM files) its assertions must be signed with, JSON, e.g. "
        '`{"housing-gateway": ["/keys/assertion-key.pub.pem"]}`. Two keys for one issuer while its key '
        "is rotated; a key removed here is revoked at the next start. Unset: the gateway's public key "
        "in `<VAR_DIR>/gateway/assertion-key.pub.pem` (what `make run` makes before any process starts).",
    )

    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_publish_timeout_s: float = Field(default=5.0, gt=0)
    relay_idle_poll_s: float = Field(default=0.2, gt=0)
    relay_position_interval_s: float = Field(
        default=0.1, ge=0, description="Record position at most this often."
    )
    relay_linger_s: float = Field(
        default=0.0, ge=0, description="Wait after a wake-up to batch more (measured: no gain at 2 cores)."
    )
    relay_atomic_batches: bool = Field(
        default=True,
        description="Publish each batch as JetStream atomic batches (nats-server 2.12+): one sync per "
        "batch instead of one per message. Off, or on a server without them, a message at a time.",
    )

    inbox_batch_size: int = Field(default=256, ge=1, le=10_000)
    inbox_batch_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="About this many bytes of messages in a batch: a batch of departments' exports "
        "(~0.25 MB each) takes fewer messages than one of single facts.",
    )
    inbox_max_deliver: int = Field(default=5, ge=1, description="Attempts before a message is dead-lettered.")
    inbox_ack_wait_s: float = Field(default=30.0, gt=0)
    inbox_max_events_per_commit: int = Field(
        default=500, ge=1, description="Commit early when a batch's unit of work holds this many events."
    )
    inbox_retry_backoff_s: float = Field(default=0.2, gt=0, description="First retry delay; doubles.")
    inbox_retry_backoff_max_s: float = Field(default=5.0, gt=0)

    stream_replicas: int = Field(default=1, ge=1, le=5)

    lease_ttl_s: float = Field(
        default=6.0, gt=0, description="A dead replica's loops move to another after this long."
    )
    instance_id: str | None = Field(
        default=None, description="This replica's identity for leases; default host:HTTP port."
    )

    service_loops: str = Field(
        default="http,relay,inbox",
        description=(
            "What this process runs, comma-separated: `http` (the API), `relay` (the outbox), `inbox` "
            "(every stream's) or `inbox.<STREAM>` (one). Processes of one service on one store may "
            "split them, e.g. `http,inbox` in one and `relay` in another; each still bids for the "
            "leases of what it runs. A relay without the service's writers in its process learns of "
            "new events by polling (`RELAY_IDLE_POLL_S`). Loops a service adds itself (a sweep, notice "
            "delivery) follow this only where its runtime asks `runs(<name>)`."
        ),
    )

    @field_validator("service_loops")
    @classmethod
    def _known_shape(cls, value: str) -> str:
        names = [part.strip() for part in value.split(",") if part.strip()]
        if not names:
            raise ValueError("name at least one of http, relay, inbox, inbox.<STREAM>")
        bad = [name for name in names if not _LOOP_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"not loop names: {', '.join(bad)}")
        return ",".join(names)

    @property
    def bus_identity(self) -> str:
        return self.nats_identity or self.service_name

    def trusted_key_files(self) -> dict[str, list[Path]]:
        """`SERVICE_TRUST_KEYS`, or the local stack's gateway public key when it is unset."""
        if self.service_trust_keys is not None:
            return self.service_trust_keys
        return {"housing-gateway": [self.var_dir / "gateway" / "assertion-key.pub.pem"]}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.city_time_zone)

    def local_date(self, instant: datetime) -> date:
        """The city's date at `instant` (an aware datetime)."""
        return instant.astimezone(self.zone).date()

    def runs(self, loop: str) -> bool:
        """Whether this process runs `loop` (`http`, `relay`, `inbox.<STREAM>`, a service's own):
        named itself, or by the part before its dot (`inbox` names every `inbox.<STREAM>`)."""
        chosen = self.service_loops.split(",")
        return loop in chosen or loop.partition(".")[0] in chosen
