"""The asking side against misbehaving peers: only a verified answer bound to our request counts;
everything else, and silence, is `unverified`. (The peers here are httpx mock transports; the real
processes are in test_processes.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx

from federation.outbound import Case, PeerClient
from federation.peers import load_directory
from federation.signing import Headers, sign_response, signature_of
from services.kit import clock
from tests.federation.conftest import Demo

CASE = Case("exit-review", "Foshan public rental housing measures, art. 27", "FS-2026-0042", "officer.wang")
Answer = Callable[[httpx.Request], httpx.Response]


def answer(
    demo: Demo, *, bind_to: bytes | None = None, query_id: str | None = None, holds: bool = True
) -> Answer:
    """Guangzhou answering properly, unless told to bind to another signature or another query."""

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        document = {
            "query_id": query_id or body["query_id"],
            "responding_city": "CN-GZ",
            "as_of": clock.now().isoformat(),
            "holds_subsidised_housing": holds,
            "receives_housing_subsidy": False,
            "owns_property_over_threshold": False,
            "contact_reference": "CN-GZ/desk/1",
        }
        raw = json.dumps(document).encode()
        signature = bind_to or signature_of(Headers(request.headers.multi_items()))
        headers = sign_response(demo.key("CN-GZ"), "CN-GZ", 200, raw, signature)
        return httpx.Response(200, content=raw, headers=headers.items())

    return respond


def ask(
    demo: Demo, tmp_path: Path, handler: Answer, times: int = 1, **settings: object
) -> list[tuple[str, str | None]]:
    config = demo.settings("CN-FS", tmp_path, federation_retry_base_s=0.01, **settings)
    directory = load_directory(config.federation_peers_file, "CN-FS")
    subject = demo.hash_for("CN-FS", "CN-GZ", "DEMO-4406-0003")

    async def run() -> list[tuple[str, str | None]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = PeerClient(config, directory, demo.key("CN-FS"), http)
            outcomes = [await client.ask("CN-GZ", CASE, [subject]) for _ in range(times)]
        return [(o.result, o.reason) for o in outcomes]

    return asyncio.run(run())


def test_a_proper_answer_is_a_match(demo: Demo, tmp_path: Path) -> None:
    assert ask(demo, tmp_path, answer(demo)) == [("match", None)]
    assert ask(demo, tmp_path, answer(demo, holds=False)) == [("no_match", None)]


def test_an_answer_bound_to_another_request_is_unverified(demo: Demo, tmp_path: Path) -> None:
    [(result, reason)] = ask(demo, tmp_path, answer(demo, bind_to=b"\0" * 64))
    assert result == "unverified" and "not bound" in (reason or "")


def test_an_answer_about_another_query_is_unverified(demo: Demo, tmp_path: Path) -> None:
    [(result, reason)] = ask(demo, tmp_path, answer(demo, query_id="00000000-0000-4000-8000-000000000000"))
    assert result == "unverified" and "other queries" in (reason or "")


def test_an_answer_signed_by_another_city_is_unverified(demo: Demo, tmp_path: Path) -> None:
    def forged(request: httpx.Request) -> httpx.Response:
        good = answer(demo)(request)
        raw = good.content
        headers = sign_response(
            demo.key("CN-DG"), "CN-GZ", 200, raw, signature_of(Headers(request.headers.multi_items()))
        )
        return httpx.Response(200, content=raw, headers=headers.items())

    [(result, reason)] = ask(demo, tmp_path, forged)
    assert result == "unverified" and "answer rejected" in (reason or "")


def test_a_refusal_is_unverified_with_its_status(demo: Demo, tmp_path: Path) -> None:
    def refuse(_: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"type": "urn:housing:federation:problem:purpose-not-allowed"})

    [(result, reason)] = ask(demo, tmp_path, refuse)
    assert result == "unverified" and "403" in (reason or "")


def test_transient_failures_are_retried_with_fresh_signatures(demo: Demo, tmp_path: Path) -> None:
    nonces: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        nonces.append(request.headers["signature-input"].split('nonce="')[1].split('"')[0])
        if len(nonces) < 3:
            return httpx.Response(503)
        return answer(demo)(request)

    assert ask(demo, tmp_path, flaky) == [("match", None)]
    assert len(set(nonces)) == 3


def test_a_peer_that_keeps_failing_opens_the_circuit(demo: Demo, tmp_path: Path) -> None:
    calls = 0

    def down(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused")

    outcomes = ask(demo, tmp_path, down, times=3, federation_breaker_failures=3, federation_peer_attempts=2)
    assert all(result == "unverified" for result, _ in outcomes)
    assert "unreachable" in (outcomes[0][1] or "") and "circuit open" in (outcomes[2][1] or "")
    assert calls == 3, "no call while the circuit is open"
