"""The HTTP surface every service shares: problem+json errors, health, readiness, metrics, settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.kit.settings import ServiceSettings
from tests.kit.sample import build
from tests.support.identity import OperatorAuth


def client_for(tmp_path: Path) -> httpx.AsyncClient:
    settings = ServiceSettings(service_name="feed", var_dir=tmp_path, nats_url="nats://127.0.0.1:1")
    api, _ = build(
        "feed",
        settings,
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "feed.sqlite")},
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api, raise_app_exceptions=False),
        base_url="http://feed",
        auth=OperatorAuth("clerk.intake", "admin", "feed"),
    )


async def test_invalid_input_gets_problem_json_naming_the_field(tmp_path: Path) -> None:
    async with client_for(tmp_path) as client:
        response = await client.post(
            "/facts", json={"reference": "x", "household_id": "not-a-uuid", "monthly_income": "4000.00"}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"] == "Invalid request"
    assert any(error["location"] == "body.household_id" for error in body["errors"])


async def test_unknown_route_is_problem_json(tmp_path: Path) -> None:
    async with client_for(tmp_path) as client:
        response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_health_metrics_and_readiness_without_a_bus(tmp_path: Path) -> None:
    async with client_for(tmp_path) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": "feed"}
        metrics = await client.get("/metrics")
        ready = await client.get("/readyz")
    assert metrics.status_code == 200 and "housing_relay_published_total" in metrics.text
    # The runtime was never started (no NATS): not ready, and it says why.
    assert ready.status_code == 503
    assert ready.json()["checks"]["nats"] is False
    assert ready.json()["checks"]["store"] is True


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://10.0.0.9:4333")
    monkeypatch.setenv("HTTP_PORT", "8123")
    monkeypatch.setenv("INBOX_MAX_DELIVER", "7")
    settings = ServiceSettings(service_name="x")
    assert settings.nats_url == "nats://10.0.0.9:4333"
    assert settings.http_port == 8123
    assert settings.inbox_max_deliver == 7
