"""The fast verification path decides exactly as the http-message-signatures library does.

Hundreds of messages, well-formed (signed by the library with other labels, components, parameter
orders, tags, digests) and tampered (each character of the signature headers changed, spacing,
repeated field lines, other bodies, other URLs), are verified both ways: the same acceptance (and
signer) or the same status. The fast path must also really be taken for what conforming signers send.

Every message is signed at `NOW` and verified on a clock standing at `NOW`, years from the day the test
was written: both paths decide by the clock they are given, never by the machine's."""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

import federation.signing as signing
from federation.signing import (
    Headers,
    SignatureRejected,
    Verified,
    sign_request,
    sign_response,
    signature_of,
    verify_request,
    verify_response,
)

URL = "https://federation.foshan.example/federation/v1/household-status"
GZ = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
FS = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
OTHER = Ed25519PrivateKey.generate()
BODY = b'{"query_id":"3f1c2a9e-5b7d-4c1e-9a52-0d6f2b8e4c11","id_hash":"00"}'
NOW = datetime(2031, 3, 14, 9, 26, 53, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def keys(city: str, _: datetime) -> list[tuple[str, Any]] | None:
    table = {
        "CN-GZ": [("gz-old", OTHER.public_key()), ("gz", GZ.public_key())],
        "CN-FS": [("fs", FS.public_key())],
    }
    return table.get(city)


@dataclass
class Plain:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def library_signed(components: tuple[str, ...], label: str = "sig1", **options: Any) -> Headers:
    request = Plain("POST", URL, {"Content-Type": "application/json"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"CN-GZ": GZ}),
    )
    created = NOW
    signer.sign(
        request,
        key_id="CN-GZ",
        created=created,
        expires=created + timedelta(seconds=200),
        nonce=options.pop("nonce", "n" * 24),
        label=label,
        covered_component_ids=components,
        body=options.pop("body", BODY),
        **options,
    )
    return Headers(request.headers.items())


def outcome(fast: bool, headers: Headers, body: bytes, url: str = URL) -> tuple[str, Any]:
    try:
        verified = verify_request("POST", url, headers, body, keys, fast=fast, clock=clock)
    except SignatureRejected as exc:
        return "refused", exc.status
    return "accepted", (verified.city, verified.key_id, verified.nonce, verified.signature)


def assert_same(headers: Headers, body: bytes = BODY, url: str = URL) -> tuple[str, Any]:
    fast, library = outcome(True, headers, body, url), outcome(False, headers, body, url)
    assert fast == library, (headers.fields, body)
    return fast


def well_formed() -> list[Headers]:
    return [
        sign_request(GZ, "CN-GZ", "POST", URL, BODY, now=NOW),
        sign_request(GZ, "CN-GZ", "POST", URL, BODY, now=NOW - timedelta(seconds=30), lifetime_s=60),
        library_signed(("@method", "@authority", "@path", "content-digest")),
        library_signed(("@method", "@target-uri", "content-digest"), label="req"),
        library_signed(("content-digest", "@path", "@method", "@authority", "content-type"), label="a.b-c*"),
        library_signed(("@method", "@authority", "@path", "content-digest"), tag="federation"),
        library_signed(("@method", "@authority", "@path", "content-digest"), include_alg=False),
        library_signed(("@method", "@authority", "@path", "@scheme", "@request-target", "content-digest")),
    ]


def test_what_conforming_signers_send_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    slow: list[int] = []
    original = signing._verify_library

    def counting(*args: Any, **kwargs: Any) -> Verified:
        slow.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(signing, "_verify_library", counting)
    for headers in well_formed():
        assert outcome(True, headers, BODY)[0] == "accepted"
    assert slow == [], "a canonical signature went through the library"
    assert outcome(False, well_formed()[0], BODY)[0] == "accepted" and slow == [1]


@pytest.mark.parametrize("index", range(8))
def test_every_single_character_change_is_decided_alike(index: int) -> None:
    headers = well_formed()[index]
    rng = random.Random(index)
    alphabet = ' "();=:,-*.@abcdefgnkyz019+/AZ\t'
    for name in ("Signature-Input", "Signature", "Content-Digest"):
        value = headers.get(name) or ""
        for position in range(len(value)):
            changed = value[:position] + rng.choice(alphabet) + value[position + 1 :]
            tampered = Headers(headers.fields)
            tampered[name] = changed
            assert_same(tampered)
            removed = Headers(headers.fields)
            removed[name] = value[:position] + value[position + 1 :]
            assert_same(removed)


def test_spacing_repetition_bodies_and_urls_are_decided_alike() -> None:
    for headers in well_formed():
        signature_input = headers.get("Signature-Input") or ""
        variants = [
            [(n, f"  {v}\t") for n, v in headers.fields],
            [*headers.fields, ("Signature-Input", signature_input)],
            [*headers.fields, ("Content-Digest", "sha-512=:" + "A" * 86 + "==:")],
            [(n, v.replace(";", " ;", 1) if n == "Signature-Input" else v) for n, v in headers.fields],
            [(n, v.replace('"', "'") if n == "Signature-Input" else v) for n, v in headers.fields],
            [(n, v.upper() if n == "Content-Digest" else v) for n, v in headers.fields],
            [(n, v) for n, v in headers.fields if n != "Content-Digest"],
            [(n.upper(), v) for n, v in headers.fields],
        ]
        for fields in variants:
            assert_same(Headers(fields))
        assert assert_same(headers, BODY + b" ")[0] == "refused"
        assert assert_same(headers, b"")[0] == "refused"
        assert assert_same(headers, url=URL.replace("foshan", "fushan"))[0] == "refused"
        assert assert_same(headers, url=URL + ":batch")[0] == "refused"


def test_a_sha512_digest_and_a_two_member_digest_are_decided_alike() -> None:
    sha512 = "sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":"
    sha256 = "sha-256=:" + base64.b64encode(hashlib.sha256(BODY).digest()).decode() + ":"
    for digest in (sha512, f"{sha256}, {sha512}", f"{sha256},{sha512}"):
        request = Plain("POST", URL, {"Content-Type": "application/json", "Content-Digest": digest})
        HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={"CN-GZ": GZ}),
        ).sign(
            request,
            key_id="CN-GZ",
            created=NOW,
            expires=NOW + timedelta(seconds=60),
            nonce="m" * 20,
            covered_component_ids=("@method", "@authority", "@path", "content-digest"),
            body=BODY,
            use_existing_digest=True,
        )
        assert assert_same(Headers(request.headers.items()))[0] == "accepted"


def test_stale_future_and_expired_signatures_are_refused_alike() -> None:
    now = NOW
    for moment, lifetime in ((now - timedelta(seconds=400), 300), (now + timedelta(seconds=60), 300)):
        headers = sign_request(GZ, "CN-GZ", "POST", URL, BODY, now=moment, lifetime_s=lifetime)
        assert assert_same(headers)[0] == "refused"
    expired = sign_request(GZ, "CN-GZ", "POST", URL, BODY, now=now - timedelta(seconds=100), lifetime_s=50)
    assert assert_same(expired)[0] == "refused"


def test_answers_composed_directly_equal_the_librarys_and_verify_both_ways() -> None:
    request = sign_request(GZ, "CN-GZ", "POST", URL, BODY, now=NOW)
    request_signature = signature_of(request)
    answer = sign_response(FS, "CN-FS", 200, BODY, request_signature, now=NOW)
    library = signing.ResponseView(
        200,
        Headers(
            [
                ("Content-Type", "application/json"),
                ("Federation-Request-Signature", answer.get("Federation-Request-Signature") or ""),
            ]
        ),
    )
    parsed = signing._parse(answer)
    HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"CN-FS": FS}),
    ).sign(
        library,
        key_id="CN-FS",
        created=datetime.fromtimestamp(parsed.created, UTC),
        expires=datetime.fromtimestamp(parsed.expires, UTC),
        nonce=parsed.nonce,
        label="fed",
        covered_component_ids=signing.RESPONSE_COMPONENTS,
        body=BODY,
    )
    assert library.headers.items() == answer.items()
    for fast in (True, False):
        verified = verify_response(
            200, answer, BODY, "CN-FS", keys, request_signature, fast=fast, clock=clock
        )
        assert verified.key_id == "fs"
        with pytest.raises(SignatureRejected):
            verify_response(201, answer, BODY, "CN-FS", keys, request_signature, fast=fast, clock=clock)
        with pytest.raises(SignatureRejected):
            verify_response(
                200, answer, BODY + b"x", "CN-FS", keys, request_signature, fast=fast, clock=clock
            )
