"""Gateway settings: where each service answers (the local stack's ports by default)."""

from __future__ import annotations

from pydantic import Field

from services.kit.settings import ServiceSettings

LOCAL_SERVICES = {
    "eligibility": "http://127.0.0.1:8001",
    "penalties": "http://127.0.0.1:8002",
    "resettlement": "http://127.0.0.1:8003",
    "training": "http://127.0.0.1:8004",
    "monitoring": "http://127.0.0.1:8005",
    "federation": "http://127.0.0.1:8006",
}


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    services: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_SERVICES),
        description="Service name → base URL; JSON in the SERVICES environment variable.",
    )
    upstream_timeout_s: float = Field(default=5.0, gt=0)
