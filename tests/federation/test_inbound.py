"""Answering peers: a signed query gets a signed, bound answer; every way a request can be wrong is
refused with the documented status and problem type, and recorded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from contracts.federation import BatchAnswer, StatusAnswer
from federation.service import Node, build
from federation.signing import Headers, signature_of, verify_response
from services.kit.clock import ManualClock
from tests.federation.conftest import BATCH, Demo, query, signed

PROBLEM = "urn:housing:federation:problem:"


def post(
    client: TestClient, raw: bytes, headers: Headers, path: str = "/federation/v1/household-status"
) -> Response:
    response = client.post(path, content=raw, headers=headers.items())
    assert isinstance(response, Response)
    return response


def assert_problem(response: Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM + slug and body["status"] == status
    return body


def metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def verify_answer(demo: Demo, response: Response, request_headers: Headers) -> None:
    def keys(city: str, _: datetime) -> list[tuple[str, Any]]:
        return [("k", demo.key(city).public_key())]

    verify_response(
        response.status_code,
        Headers(response.headers.multi_items()),
        response.content,
        "CN-FS",
        keys,
        signature_of(request_headers),
    )


def test_a_signed_query_gets_a_signed_answer_bound_to_it(client: TestClient, demo: Demo) -> None:
    body = query(demo, id_number="DEMO-4406-0001")
    raw, headers = signed(demo, body)
    response = post(client, raw, headers)
    assert response.status_code == 200, response.text
    answer = StatusAnswer.model_validate_json(response.content)
    assert str(answer.query_id) == body["query_id"] and answer.responding_city == "CN-FS"
    assert answer.holds_subsidised_housing is True and answer.receives_housing_subsidy is False
    assert set(response.json()) == {
        "query_id",
        "responding_city",
        "as_of",
        "holds_subsidised_housing",
        "receives_housing_subsidy",
        "owns_property_over_threshold",
        "contact_reference",
    }
    verify_answer(demo, response, headers)


def test_an_unknown_subject_is_answered_with_no_category(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo, id_number="DEMO-NOBODY"))
    answer = StatusAnswer.model_validate_json(post(client, raw, headers).content)
    assert (answer.holds_subsidised_housing, answer.receives_housing_subsidy) == (False, False)


def test_an_answer_is_not_accepted_for_another_request(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo))
    response = post(client, raw, headers)
    _, other = signed(demo, query(demo))
    try:
        verify_answer(demo, response, other)
    except Exception as exc:
        assert "not bound" in str(exc)
    else:
        raise AssertionError("an answer verified against another request's signature")


def test_batch_answers_every_subject(client: TestClient, demo: Demo) -> None:
    single = [query(demo, id_number=n) for n in ("DEMO-4406-0001", "DEMO-4406-0002", "DEMO-NOBODY")]
    body = {k: v for k, v in single[0].items() if k not in ("query_id", "id_hash")}
    body["batch_id"] = single[0]["query_id"]
    body["subjects"] = [{"query_id": q["query_id"], "id_hash": q["id_hash"]} for q in single]
    raw, headers = signed(demo, body, path=BATCH)
    response = post(client, raw, headers, BATCH)
    assert response.status_code == 200, response.text
    answers = BatchAnswer.model_validate_json(response.content).answers
    assert [a.holds_subsidised_housing for a in answers] == [True, True, False]
    assert answers[1].receives_housing_subsidy is True
    verify_answer(demo, response, headers)


def test_batch_over_the_maximum_is_413(client: TestClient, demo: Demo) -> None:
    q = query(demo)
    body = {k: v for k, v in q.items() if k not in ("query_id", "id_hash")}
    body["batch_id"] = q["query_id"]
    body["subjects"] = [{"query_id": q["query_id"], "id_hash": q["id_hash"]}] * 101
    raw, headers = signed(demo, body, path=BATCH)
    assert_problem(post(client, raw, headers, BATCH), 413, "too-many-subjects")


def test_tampered_body_is_401(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo))
    tampered = raw.replace(b"exit-review", b"exit-reviex")
    assert_problem(post(client, tampered, headers), 401, "invalid-signature")


def test_tampered_digest_header_is_401(client: TestClient, demo: Demo) -> None:
    """Body and Content-Digest both swapped: the digest matches, the signature over it does not."""
    _, headers = signed(demo, query(demo))
    other_raw, other_headers = signed(demo, query(demo, id_number="DEMO-4406-0002"))
    headers["Content-Digest"] = other_headers.get("Content-Digest") or ""
    assert_problem(post(client, other_raw, headers), 401, "invalid-signature")


def test_tampered_signature_parameters_are_401(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo))
    value = headers.get("Signature-Input") or ""
    headers["Signature-Input"] = value.replace('nonce="', 'nonce="x')
    assert_problem(post(client, raw, headers), 401, "invalid-signature")


def test_a_request_signed_for_another_path_is_401(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo), path="/federation/v1/other")
    assert_problem(post(client, raw, headers), 401, "invalid-signature")


def test_wrong_key_is_401(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo), key=demo.key("CN-DG"))
    assert_problem(post(client, raw, headers), 401, "invalid-signature")


def test_unknown_key_id_is_403(client: TestClient, demo: Demo) -> None:
    stranger = Ed25519PrivateKey.generate()
    raw, headers = signed(demo, query(demo, asking="CN-GZ"), key=stranger)
    headers["Signature-Input"] = (headers.get("Signature-Input") or "").replace(
        'keyid="CN-GZ"', 'keyid="CN-XX"'
    )
    assert_problem(post(client, raw, headers), 403, "unknown-city")


def test_stale_created_is_401(demo: Demo, tmp_path: Path, clock: ManualClock) -> None:
    """Older than the server's maximum age although not yet expired."""
    api, node = build(
        demo.settings("CN-FS", tmp_path, federation_max_signature_age_s=60),
        demo.env("CN-FS", tmp_path),
        clock,
    )
    client = TestClient(api, base_url=demo.base_url("CN-FS"))
    raw, headers = signed(demo, query(demo), now=clock() - timedelta(seconds=120))
    body = assert_problem(post(client, raw, headers), 401, "invalid-signature")
    assert "age" in body["detail"]
    node.app.close()


def test_future_created_is_401(client: TestClient, demo: Demo, clock: ManualClock) -> None:
    raw, headers = signed(demo, query(demo), now=clock() + timedelta(seconds=60))
    assert "future" in assert_problem(post(client, raw, headers), 401, "invalid-signature")["detail"]


def test_expired_is_401(client: TestClient, demo: Demo, clock: ManualClock) -> None:
    raw, headers = signed(demo, query(demo), now=clock() - timedelta(seconds=100), lifetime_s=50)
    assert "expires" in assert_problem(post(client, raw, headers), 401, "invalid-signature")["detail"]


def test_lifetime_over_300_seconds_is_401(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo), lifetime_s=301)
    assert_problem(post(client, raw, headers), 401, "invalid-signature")


def test_missing_signature_is_401(client: TestClient, demo: Demo) -> None:
    raw = json.dumps(query(demo)).encode()
    response = client.post("/federation/v1/household-status", content=raw)
    assert_problem(response, 401, "invalid-signature")


def test_replayed_nonce_is_401(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo))
    assert post(client, raw, headers).status_code == 200
    assert_problem(post(client, raw, headers), 401, "replayed-nonce")


def test_replayed_nonce_is_401_after_a_restart(
    demo: Demo, tmp_path: Path, persistence: dict[str, str]
) -> None:
    raw, headers = signed(demo, query(demo))
    settings = demo.settings("CN-FS", tmp_path)
    api, node = build(settings, persistence)
    assert (
        TestClient(api, base_url=demo.base_url("CN-FS"))
        .post("/federation/v1/household-status", content=raw, headers=headers.items())
        .status_code
        == 200
    )
    node.app.close()
    api, node = build(settings, persistence)
    response = TestClient(api, base_url=demo.base_url("CN-FS")).post(
        "/federation/v1/household-status", content=raw, headers=headers.items()
    )
    assert_problem(response, 401, "replayed-nonce")
    node.app.close()


def test_purpose_not_allowed_is_403(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo, purpose="marketing"))
    assert_problem(post(client, raw, headers), 403, "purpose-not-allowed")


def test_requesting_city_must_be_the_signer(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo, requesting_city="CN-DG"))
    assert_problem(post(client, raw, headers), 403, "city-mismatch")


def test_malformed_body_is_400(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo, id_hash="440600199001011234"))
    body = assert_problem(post(client, raw, headers), 400, "malformed")
    assert "id_hash" in body["detail"]
    raw, headers = signed(demo, b"not json")
    assert_problem(post(client, raw, headers), 400, "malformed")


def test_oversized_body_is_413(client: TestClient, demo: Demo) -> None:
    raw, headers = signed(demo, query(demo, legal_basis="x" * 70_000))
    assert_problem(post(client, raw, headers), 413, "too-large")


def test_over_the_rate_limit_is_429_with_retry_after(demo: Demo, tmp_path: Path) -> None:
    peers = demo.root / "CN-FS" / "peers.yaml"
    # a token back every 1000 s: the four queries below take far less, however slow the machine
    peers.write_text(
        peers.read_text().replace("per_second: 200.0", "per_second: 0.001").replace("burst: 400", "burst: 3")
    )
    api, node = build(demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path))
    client = TestClient(api, base_url=demo.base_url("CN-FS"))
    statuses = []
    for _ in range(4):
        raw, headers = signed(demo, query(demo))
        statuses.append(post(client, raw, headers))
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert_problem(statuses[-1], 429, "rate-limited")
    assert int(statuses[-1].headers["retry-after"]) >= 1
    node.app.close()


def test_key_rotation_overlap_accepts_both_keys(demo: Demo, tmp_path: Path, clock: ManualClock) -> None:
    """Guangzhou's old key ends in an hour, its new one began an hour ago: both verify now; a key
    outside its window does not."""
    from federation.keys import public_x

    new, expired = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    now = clock()
    peers = demo.root / "CN-FS" / "peers.yaml"
    import yaml

    document = yaml.safe_load(peers.read_text())
    gz = document["cities"]["CN-GZ"]
    gz["keys"][0]["not_after"] = (now + timedelta(hours=1)).isoformat()
    gz["keys"].append(
        {
            "key_id": "CN-GZ-2",
            "x": public_x(new.public_key()),
            "not_before": (now - timedelta(hours=1)).isoformat(),
            "not_after": (now + timedelta(days=365)).isoformat(),
        }
    )
    gz["keys"].append(
        {
            "key_id": "CN-GZ-0",
            "x": public_x(expired.public_key()),
            "not_before": (now - timedelta(days=365)).isoformat(),
            "not_after": (now - timedelta(hours=1)).isoformat(),
        }
    )
    peers.write_text(yaml.safe_dump(document))
    api, node = build(demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path), clock)
    client = TestClient(api, base_url=demo.base_url("CN-FS"))
    for key in (demo.key("CN-GZ"), new):
        raw, headers = signed(demo, query(demo), key=key)
        assert post(client, raw, headers).status_code == 200
    raw, headers = signed(demo, query(demo), key=expired)
    assert_problem(post(client, raw, headers), 401, "invalid-signature")
    node.app.close()


def test_a_key_verifies_only_inside_its_window_as_the_clock_moves(
    demo: Demo, tmp_path: Path, clock: ManualClock
) -> None:
    """Guangzhou's only key is listed from tomorrow to the day after: refused today, accepted once
    Foshan's clock is inside the window, refused again after it (the key is chosen at `created`, which
    is checked against the same clock)."""
    import yaml

    from federation.keys import public_x

    start, later = clock(), Ed25519PrivateKey.generate()
    peers = demo.root / "CN-FS" / "peers.yaml"
    document = yaml.safe_load(peers.read_text())
    document["cities"]["CN-GZ"]["keys"] = [
        {
            "key_id": "CN-GZ-next",
            "x": public_x(later.public_key()),
            "not_before": (start + timedelta(days=1)).isoformat(),
            "not_after": (start + timedelta(days=2)).isoformat(),
        }
    ]
    peers.write_text(yaml.safe_dump(document))
    api, node = build(demo.settings("CN-FS", tmp_path), demo.env("CN-FS", tmp_path), clock)
    client = TestClient(api, base_url=demo.base_url("CN-FS"))

    def ask() -> Response:
        raw, headers = signed(demo, query(demo), key=later)  # dated by the process's clock: `clock`
        return post(client, raw, headers)

    assert "valid" in assert_problem(ask(), 401, "invalid-signature")["detail"]
    clock.advance(days=1, seconds=1)
    assert ask().status_code == 200
    clock.advance(days=1)
    assert "valid" in assert_problem(ask(), 401, "invalid-signature")["detail"]
    node.app.close()


def test_the_signature_window_moves_with_the_clock_and_a_refusal_spends_no_nonce(
    client: TestClient, demo: Demo, clock: ManualClock
) -> None:
    """`created` a minute ahead of Foshan's clock is refused; once the clock gets there the very same
    request (same nonce) is answered, since refusing it stored nothing, and then only as a replay.
    A signature is accepted up to its 300 s lifetime plus the 5 s skew, and refused after."""
    raw, headers = signed(demo, query(demo), now=clock() + timedelta(seconds=60))
    assert "future" in assert_problem(post(client, raw, headers), 401, "invalid-signature")["detail"]
    clock.advance(seconds=60)
    assert post(client, raw, headers).status_code == 200
    assert_problem(post(client, raw, headers), 401, "replayed-nonce")

    early, late = signed(demo, query(demo)), signed(demo, query(demo))
    clock.advance(seconds=304)
    assert post(client, *early).status_code == 200
    clock.advance(seconds=2)
    assert "expires" in assert_problem(post(client, *late), 401, "invalid-signature")["detail"]


def test_refusals_are_counted_and_logged_but_never_stored(
    client: TestClient, foshan: tuple[FastAPI, Node], demo: Demo
) -> None:
    """A flood of bad requests must not grow the event store: refusals are metrics, a capped rotating
    log and a short in-memory list; only accepted exchanges are events."""
    app = foshan[1].app
    before = app.process_recorder.max_notification_id() or 0
    purpose = 'federation_refusals_total{peer="CN-GZ",problem="purpose-not-allowed"}'
    unsigned_metric = 'federation_refusals_total{peer="unknown",problem="invalid-signature"}'
    counted = {name: metric(client, name) for name in (purpose, unsigned_metric)}
    raw, headers = signed(demo, query(demo, purpose="marketing"))
    post(client, raw, headers)
    unsigned = json.dumps(query(demo, id_number="44060419850715123X")).encode()
    for _ in range(20):
        client.post("/federation/v1/household-status", content=unsigned)
    assert (app.process_recorder.max_notification_id() or 0) == before, "a refusal reached the store"
    assert 'federation_rejections_total{peer="CN-GZ",status="403"}' in client.get("/metrics").text
    assert metric(client, purpose) == counted[purpose] + 1
    assert metric(client, unsigned_metric) == counted[unsigned_metric] + 20
    recent = client.get("/federation/v1/refusals?limit=100").json()
    assert len(recent) == 21 and recent[-1]["problem"] == "purpose-not-allowed"
    assert recent[-1]["peer"] == "CN-GZ" and recent[0]["peer"] is None
    log = foshan[1].responder.settings.refusals_path().read_text()
    assert len(log.splitlines()) == 21 and "44060419850715123X" not in log, "a body reached the log"
    raw, headers = signed(demo, query(demo))
    assert post(client, raw, headers).status_code == 200
    assert (app.process_recorder.max_notification_id() or 0) == before + 1


def test_the_refusal_log_rotates_within_its_cap(demo: Demo, tmp_path: Path) -> None:
    settings = demo.settings(
        "CN-FS", tmp_path, federation_refusals_max_bytes=4096, federation_refusals_backups=2
    )
    api, node = build(settings, demo.env("CN-FS", tmp_path))
    client = TestClient(api, base_url=demo.base_url("CN-FS"))
    for _ in range(200):
        client.post("/federation/v1/household-status", content=b"{}", headers={"Signature-Input": "x" * 300})
    files = sorted(settings.refusals_path().parent.glob(settings.refusals_path().name + "*"))
    assert len(files) == 3, files  # the live file and two rotated ones
    assert all(f.stat().st_size <= 4096 + 2048 for f in files)
    node.app.close()


def test_keys_endpoint_publishes_our_keys_with_windows(client: TestClient, demo: Demo) -> None:
    from federation.keys import public_x

    keys = client.get("/federation/v1/keys").json()["keys"]
    assert keys[0]["x"] == public_x(demo.key("CN-FS").public_key())
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519" and keys[0]["nbf"] < keys[0]["exp"]


def test_peer_queries_are_answered_by_the_front_door(
    client: TestClient, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Peers' POSTs bypass the framework and tracing middleware (see `federation.api.FrontDoor`);
    other routes still go through the app."""
    from federation.api import FrontDoor

    answered: list[str] = []
    original = FrontDoor._answer

    async def spy(self: FrontDoor, scope: Any, receive: Any) -> Any:
        answered.append(scope["path"])
        return await original(self, scope, receive)

    monkeypatch.setattr(FrontDoor, "_answer", spy)
    raw, headers = signed(demo, query(demo))
    assert post(client, raw, headers).status_code == 200
    assert client.get("/federation/v1/keys").status_code == 200
    assert answered == ["/federation/v1/household-status"]
    big = client.post("/federation/v1/household-status:batch", content=b"x" * 70_000)
    assert_problem(big, 413, "too-large")


def test_concurrent_queries_share_a_transaction_and_a_replay_among_them_is_refused(
    foshan: tuple[FastAPI, Node], demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: the exchanges of queries answered meanwhile are stored in one transaction; when
    that transaction fails on a duplicate nonce it is retried per exchange, so only the replay fails."""
    import asyncio

    node = foshan[1]
    transactions: list[int] = []
    original = node.app._store

    def counting(events: Any) -> None:
        transactions.append(len(events))
        original(events)

    monkeypatch.setattr(node.app, "_store", counting)
    path = "/federation/v1/household-status"
    requests = [signed(demo, query(demo)) for _ in range(12)]

    async def answer(requests: list[tuple[bytes, Headers]]) -> list[int]:
        replies = await asyncio.gather(
            *(node.responder.handle_async(path, headers, raw, batch=False) for raw, headers in requests)
        )
        return [reply.status for reply in replies]

    assert asyncio.run(answer(requests[:6])) == [200] * 6
    assert transactions == [6], "six concurrent exchanges, one transaction"
    transactions.clear()
    statuses = asyncio.run(answer([*requests[6:], requests[6], requests[0]]))
    assert statuses == [200] * 6 + [401, 401]
    assert transactions[0] == 8 and len(transactions) == 1 + 8, "the failed batch, then one by one"
    stored = node.app.notification_log.select(start=1, limit=100)
    assert len([n for n in stored if n.topic.endswith("InboundExchange.Answered")]) == 12
