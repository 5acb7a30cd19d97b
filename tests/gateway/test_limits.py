"""Limits and plumbing on every public route: rate limit (429 + Retry-After), body limit (413),
security headers, services that are down or slow (502/504 problem+json), trace propagation, and the
timeline that names a service it could not ask."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.tokens import Tokens
from services.kit.tracing import setup_tracing
from tests.gateway.conftest import GatewayFactory, bearer
from tests.gateway.fakes import HOUSE_IN, TRACE, Fakes


async def test_rate_limit_answers_429_with_retry_after(gateway: GatewayFactory, tokens: Tokens) -> None:
    headers = bearer(tokens, "auditor")
    # a token back every 1000 s: the requests below take far less, however slow the machine
    async with gateway(rate_limit_per_s=0.001, rate_limit_burst=3) as client:
        statuses = [(await client.get("/api/me", headers=headers)).status_code for _ in range(4)]
        limited = await client.get("/api/me", headers=headers)
        other_client = await client.get("/api/me", headers=bearer(tokens, "admin"))
        health = await client.get("/healthz")
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429 and limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert other_client.status_code == 200  # a bucket per client
    assert health.status_code == 200


async def test_login_attempts_have_their_own_stricter_budget(gateway: GatewayFactory) -> None:
    form = {"grant_type": "password", "username": "reviewer.li", "password": "guess"}
    async with gateway(login_rate_per_min=2) as client:
        statuses = [(await client.post("/auth/token", data=form)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


async def test_bodies_over_the_limit_get_413(gateway: GatewayFactory, tokens: Tokens, fakes: Fakes) -> None:
    headers = bearer(tokens, "supervisor")
    big = b'{"reason": "' + b"x" * 70_000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 10_000

    async with gateway() as client:
        declared = await client.post(
            "/api/cases/33333333-3333-4333-8333-333333333333/approval",
            content=big,
            headers={**headers, "content-type": "application/json"},
        )
        streamed = await client.post(
            "/api/cases/33333333-3333-4333-8333-333333333333/approval",
            content=chunks(),
            headers={**headers, "content-type": "application/json"},
        )
        facts = await client.post(
            "/api/facts",
            content=b"[" + b" " * 100_000 + b"]",
            headers={**bearer(tokens, "department"), "content-type": "application/json"},
        )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
    assert facts.status_code != 413  # department batches have their own, larger limit
    assert not [c for c in fakes.writes() if "approval" in c.path]


async def test_security_headers_on_every_answer(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        for path in ("/login", "/api/me", "/healthz", "/"):
            response = await client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
            assert response.headers["referrer-policy"] == "no-referrer", path
        docs = await client.get("/docs")
    assert "content-security-policy" not in docs.headers  # Swagger UI; shows no data


@pytest.mark.parametrize(
    ("broken", "status", "title"), [("down", 502, "Service unavailable"), ("slow", 504, "Service timeout")]
)
async def test_a_service_down_or_slow_is_a_clear_problem(
    broken: str, status: int, title: str, gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    getattr(fakes, broken).add("eligibility")
    async with gateway(upstream_timeout_s=0.3) as client:
        response = await client.get(f"/api/households/{HOUSE_IN}", headers=bearer(tokens, "reviewer"))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == title and response.json()["service"] == "eligibility"


async def test_the_timeline_merges_every_service_and_names_the_silent_ones(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    fakes.down.add("training")
    fakes.slow.add("federation")
    # The deadline is what the answering services must meet (generous: they answer in milliseconds);
    # the slow one sleeps 5 s on the same event loop, so it always misses it.
    async with gateway(upstream_timeout_s=2.0) as client:
        response = await client.get(f"/api/households/{HOUSE_IN}/timeline", headers=bearer(tokens, "auditor"))
    body = response.json()
    assert response.status_code == 200
    assert [e["service"] for e in body["entries"]] == [
        "eligibility",
        "penalties",
        "resettlement",
        "monitoring",
    ]
    assert all(e["trace_id"] == TRACE and e["actor"] for e in body["entries"])
    assert body["sources"]["training"] == "unavailable" and body["sources"]["federation"] == "timeout"


async def test_the_trace_context_reaches_the_services(
    gateway: GatewayFactory, tokens: Tokens, fakes: Fakes
) -> None:
    setup_tracing("gateway-test", None)
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with gateway() as client:
        await client.get(
            f"/api/households/{HOUSE_IN}", headers={**bearer(tokens, "reviewer"), "traceparent": parent}
        )
    sent = [c.headers.get("traceparent", "") for c in fakes.calls]
    assert sent and all(t.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736" for t in sent), sent
