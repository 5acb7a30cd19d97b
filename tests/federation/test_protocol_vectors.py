"""PROTOCOL.md's test vectors, recomputed: partners implement from that document, so it must be true.

The vectors are parsed out of the document itself (its fenced blocks), so editing the document
without the code, or the code without the document, fails here."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import federation.signing as signing
from federation.keys import public_x
from federation.signing import (
    Headers,
    sign_request,
    sign_response,
    signature_of,
    verify_request,
)
from services.kit.linkage import id_hash

DOCUMENT = (Path(__file__).resolve().parents[2] / "federation" / "PROTOCOL.md").read_text()
SECTION = DOCUMENT.split("## 9. Test vectors", 1)[1].split("## 10.", 1)[0]
BLOCKS = re.findall(r"```\n(.*?)\n```", SECTION, flags=re.DOTALL)
REQUEST_BODY, REQUEST_BASE, REQUEST_HEADERS, ANSWER_BODY, ANSWER_BASE, ANSWER_HEADERS = BLOCKS
GZ = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
FS = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
URL = "https://federation.foshan.example/federation/v1/household-status"


def headers_of(block: str) -> Headers:
    return Headers(tuple(line.split(": ", 1)) for line in block.splitlines())  # type: ignore[misc]


def test_public_keys_and_id_hash() -> None:
    assert public_x(GZ.public_key()) in SECTION and public_x(FS.public_key()) in SECTION
    assert id_hash(bytes(range(32)), "44060419850715123x") in REQUEST_BODY


def test_request_signature_is_reproduced_and_verifies() -> None:
    created = datetime.fromtimestamp(1795737600, UTC)
    produced = sign_request(
        GZ, "CN-GZ", "POST", URL, REQUEST_BODY.encode(), now=created, nonce="8Jq3n1VvQe2XcY0tLk7aWg"
    )
    assert produced.items() == headers_of(REQUEST_HEADERS).items()
    signature = base64.b64decode((produced.get("Signature") or "").split(":")[1])
    GZ.public_key().verify(signature, REQUEST_BASE.encode())
    assert produced.get("Content-Digest") in REQUEST_BASE
    # and it verifies on a clock at its `created` (the document's date, whatever today's is)
    verified = verify_request(
        "POST",
        URL,
        produced,
        REQUEST_BODY.encode(),
        lambda city, _: [("CN-GZ-2026a", GZ.public_key())] if city == "CN-GZ" else None,
        clock=lambda: created,
    )
    assert (verified.city, verified.nonce) == ("CN-GZ", "8Jq3n1VvQe2XcY0tLk7aWg")


def test_answer_signature_binding_and_base(monkeypatch: pytest.MonkeyPatch) -> None:
    request_signature = signature_of(headers_of(REQUEST_HEADERS))
    monkeypatch.setattr(signing, "new_nonce", lambda: "Zp0cF4m2RkS8uH6yTq1bNw")
    produced = sign_response(
        FS, "CN-FS", 200, ANSWER_BODY.encode(), request_signature, now=datetime.fromtimestamp(1795737601, UTC)
    )
    assert produced.items() == headers_of(ANSWER_HEADERS).items()
    binding = base64.b64encode(hashlib.sha256(request_signature).digest()).decode()
    assert f"sha-256=:{binding}:" in ANSWER_BASE
    FS.public_key().verify(
        base64.b64decode((produced.get("Signature") or "").split(":")[1]), ANSWER_BASE.encode()
    )
