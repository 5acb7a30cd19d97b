"""Partner cities implement the protocol from PROTOCOL.md with their own tools. Two such clients:
one that calls the http-message-signatures library directly (not `federation.signing`), and one that
builds the RFC 9421 signature base by hand with nothing but `cryptography` and `hashlib`."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from contracts.federation import StatusAnswer
from services.kit import clock
from tests.federation.conftest import SINGLE, Demo, query


@dataclass
class PlainRequest:
    """The message interface the library documents: method, url and a headers mapping."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@pytest.mark.parametrize(
    "components",
    [("@method", "@authority", "@path", "content-digest"), ("@method", "@target-uri", "content-digest")],
    ids=["authority-and-path", "target-uri"],
)
def test_a_request_signed_with_the_library_api_directly_is_accepted(
    client: TestClient, demo: Demo, components: tuple[str, ...]
) -> None:
    raw = json.dumps(query(demo)).encode()
    request = PlainRequest("POST", demo.base_url("CN-FS") + SINGLE, {"Content-Type": "application/json"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"CN-GZ": demo.key("CN-GZ")}),
    )
    created = clock.now()  # Foshan's clock (the `client` fixture's)
    signer.sign(
        request,
        key_id="CN-GZ",
        created=created,
        expires=created + timedelta(seconds=120),
        nonce=secrets.token_urlsafe(24),
        label="sig1",
        covered_component_ids=components,
        body=raw,
    )
    response = client.post(SINGLE, content=raw, headers=request.headers)
    assert response.status_code == 200, response.text
    assert StatusAnswer.model_validate_json(response.content).holds_subsidised_housing is True


def test_a_request_covering_neither_authority_nor_target_uri_is_401(client: TestClient, demo: Demo) -> None:
    raw = json.dumps(query(demo)).encode()
    request = PlainRequest("POST", demo.base_url("CN-FS") + SINGLE, {"Content-Type": "application/json"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"CN-GZ": demo.key("CN-GZ")}),
    )
    created = clock.now()  # Foshan's clock (the `client` fixture's)
    signer.sign(
        request,
        key_id="CN-GZ",
        created=created,
        expires=created + timedelta(seconds=120),
        nonce=secrets.token_urlsafe(24),
        covered_component_ids=("@method", "@path", "content-digest"),
        body=raw,
    )
    response = client.post(SINGLE, content=raw, headers=request.headers)
    assert response.status_code == 401 and "@authority" in response.json()["detail"]


def test_a_request_signed_by_hand_from_the_protocol_document_is_accepted(
    client: TestClient, demo: Demo
) -> None:
    """The signature base exactly as PROTOCOL.md spells it out."""
    raw = json.dumps(query(demo, id_number="DEMO-4406-0002")).encode()
    digest = "sha-512=:" + base64.b64encode(hashlib.sha512(raw).digest()).decode() + ":"
    created = int(clock.epoch_seconds())
    params = (
        '("@method" "@authority" "@path" "content-digest")'
        f";created={created};expires={created + 300}"
        f';nonce="{secrets.token_hex(16)}";keyid="CN-GZ";alg="ed25519"'
    )
    base = (
        '"@method": POST\n'
        f'"@authority": 127.0.0.1:{demo.ports["CN-FS"]}\n'
        f'"@path": {SINGLE}\n'
        f'"content-digest": {digest}\n'
        f'"@signature-params": {params}'
    )
    signature = base64.b64encode(demo.key("CN-GZ").sign(base.encode())).decode()
    headers = {
        "Content-Type": "application/json",
        "Content-Digest": digest,
        "Signature-Input": f"req={params}",
        "Signature": f"req=:{signature}:",
    }
    response = client.post(SINGLE, content=raw, headers=headers)
    assert response.status_code == 200, response.text
    answer = StatusAnswer.model_validate_json(response.content)
    assert (answer.holds_subsidised_housing, answer.receives_housing_subsidy) == (True, True)
