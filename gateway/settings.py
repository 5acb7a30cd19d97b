"""Gateway settings: where each service answers (the local stack's ports by default), who may log in,
how tokens are issued and checked, and the limits every public route enforces."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.kit.http import AdmissionSettings
from services.kit.identity import GATEWAY_ISSUER
from services.kit.settings import REPO_ROOT, ServiceSettings

LOCAL_SERVICES = {
    "eligibility": "http://127.0.0.1:8001",
    "penalties": "http://127.0.0.1:8002",
    "resettlement": "http://127.0.0.1:8003",
    "training": "http://127.0.0.1:8004",
    "monitoring": "http://127.0.0.1:8005",
    "federation": "http://127.0.0.1:8006",
}

DEMO_USERS_FILE = REPO_ROOT / "infra" / "gateway" / "users.yaml"


class GatewaySettings(ServiceSettings, AdmissionSettings):
    """`HTTP_MAX_IN_FLIGHT`, `HTTP_MAX_BODY_BYTES_IN_FLIGHT` and `HTTP_RETRY_AFTER_S` come from the
    kit's admission settings; the body limits are the gateway's own, per route (`MAX_BODY_BYTES`,
    `FACTS_MAX_BODY_BYTES`), and `HTTP_MAX_BODY_BYTES` does not apply here."""

    service_name: str = "gateway"
    http_port: int = 8000
    services: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_SERVICES),
        description="Service name → base URL; JSON in the SERVICES environment variable.",
    )
    upstream_timeout_s: float = Field(default=5.0, gt=0)

    # -- the built-in token issuer --------------------------------------------------------------
    users_file: Path = Field(
        default=DEMO_USERS_FILE,
        description="Operators and department clients with scrypt password hashes (USERS_FILE).",
    )
    allow_demo_users: bool = Field(
        default=True,
        description="Accept accounts marked `demo: true` (their passwords are derivable): local stack only.",
    )
    token_issuer: str = Field(default="urn:housing-exit:gateway", description="`iss` of our own tokens.")
    token_audience: str = Field(default="housing-exit", description="`aud` every accepted token must name.")
    token_ttl_s: int = Field(default=3600, ge=60, le=86_400)
    signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) of the issuer; default `<VAR_DIR>/gateway/token-key.pem`, "
        "generated at first start when absent.",
    )

    # -- the gateway's identity towards the services ---------------------------------------------
    assertion_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM, 0600) the gateway signs each call to a service with "
        "(services.kit.identity); default `<VAR_DIR>/gateway/assertion-key.pem`. The services pin its "
        "public half (`assertion-key.pub.pem` beside it) at their start, so it must exist before they "
        "do: `make run` and compose's keys job make the pair first; created here if still absent.",
    )
    assertion_issuer: str = Field(default=GATEWAY_ISSUER, description="`iss` of those assertions.")
    assertion_ttl_s: int = Field(
        default=60, ge=5, le=300, description="Lifetime of one assertion (one call), in seconds."
    )

    # -- an external OpenID Connect issuer (optional) -------------------------------------------
    oidc_issuer: str | None = Field(default=None, description="`iss` of the external issuer's tokens.")
    oidc_jwks_url: str | None = Field(default=None, description="Its JWKS URL (keys fetched and cached).")
    oidc_audience: str | None = Field(default=None, description="`aud` expected; default TOKEN_AUDIENCE.")
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256"], description="Pinned algorithms.")
    oidc_role_claim: str = Field(default="role", description="Claim holding the platform role.")
    oidc_estates_claim: str = Field(default="estates", description="Claim holding the estates, if scoped.")

    # -- the console ----------------------------------------------------------------------------
    cookie_secure: bool = Field(default=False, description="Mark cookies Secure (behind HTTPS).")
    tracing_ui_url: str | None = Field(
        default=None,
        description="Where the console links a trace id (TRACING_UI_URL): a template with `{trace_id}` "
        "(Jaeger: `http://127.0.0.1:16686/trace/{trace_id}`, what compose sets) or a base the id is "
        "appended to (`https://tracing.bureau.example/trace/`). Unset (the `make run` stack, which "
        "exports no traces): trace ids are shown without a link, for `grep` in the logs.",
    )

    def trace_link(self, trace_id: str) -> str | None:
        """The tracing UI's page of one trace, or None when no tracing UI is configured."""
        base = (self.tracing_ui_url or "").strip()
        if not base:
            return None
        if "{trace_id}" in base:
            return base.replace("{trace_id}", trace_id)
        return base + trace_id if base.endswith(("/", "=")) else f"{base}/{trace_id}"

    # -- limits ---------------------------------------------------------------------------------
    rate_limit_per_s: float = Field(default=20.0, gt=0, description="Sustained requests per client.")
    rate_limit_burst: int = Field(default=100, ge=1, description="Requests a client may send at once.")
    login_rate_per_min: float = Field(default=10.0, gt=0, description="Token requests per client per minute.")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body.")
    facts_max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest batch body (`/api/facts`, `/api/registrations`, `/api/credentials`).",
    )
    line_rate_per_s: float = Field(
        default=5_000.0,
        gt=0,
        description="Lines per second a bulk or department client may send (facts, registrations).",
    )
    line_rate_burst: int = Field(
        default=20_000, ge=1, description="Lines a bulk client may send at once before its rate applies."
    )
    line_rates: dict[str, float] = Field(
        default_factory=dict,
        description="A client's own lines per second, by account id; JSON in LINE_RATES.",
    )
    bulk_timeout_s: float = Field(
        default=120.0, gt=0, description="Deadline of a forwarded batch (thousands of lines take seconds)."
    )
    idempotency_ttl_s: int = Field(
        default=86_400, ge=60, description="How long an `Idempotency-Key`'s answer is kept for a retry."
    )
    idempotency_file: Path | None = Field(
        default=None,
        description="Where those answers are kept; default `<VAR_DIR>/gateway/idempotency.sqlite3`.",
    )
    facts_max_in_flight: int = Field(
        default=4,
        ge=1,
        description="Department batches handled at once (each is parsed in the event loop, which "
        "answers /healthz meanwhile); more are answered 503 with Retry-After.",
    )

    @property
    def key_file(self) -> Path:
        return self.signing_key_file or self.var_dir / "gateway" / "token-key.pem"

    @property
    def idempotency_path(self) -> Path:
        return self.idempotency_file or self.var_dir / "gateway" / "idempotency.sqlite3"

    @property
    def assertion_key(self) -> Path:
        return self.assertion_key_file or self.var_dir / "gateway" / "assertion-key.pem"
