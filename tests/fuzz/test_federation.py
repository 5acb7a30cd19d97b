"""Federation's HTTP API under schemathesis, and its signed wire endpoints under garbage.

The wire endpoints (`POST /federation/v1/household-status[:batch]`) read the raw body and need an
RFC 9421 signature from a peer city in the directory, so generated requests cannot pass them: they are
fuzzed separately below with unsigned, badly signed and garbage requests, every one of which must be
refused with a 4xx problem+json. Everything else (keys, refusals, exchanges, checks, operations) is
fuzzed from the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.signing import sign_request
from services.kit import clock
from tests.fuzz.conftest import FUZZ_EXAMPLES, call, federation, operator, served

WIRE = ("/federation/v1/household-status", "/federation/v1/household-status:batch")


@pytest.fixture
def federation_api(tmp_path: Path, bus: str) -> Iterator[schemathesis.BaseSchema]:
    with served(federation(tmp_path, bus)) as schema:
        yield schema


schema = schemathesis.pytest.from_fixture("federation_api").exclude(
    path=list(WIRE)  # signed: see test_wire_refuses_unsigned_and_garbage_requests
)


@schema.parametrize()
def test_federation_api(case: Any) -> None:
    call(case, acting=operator("federation"), every_case=True)


# -- the signed wire endpoints -----------------------------------------------------------------------

SIGNATURE_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(["application/json", "text/plain", "application/problem+json"]),
        "signature-input": st.one_of(
            st.text(max_size=200),
            st.just('sig1=("@method" "@target-uri" "content-digest");created=1;keyid="CN-GZ";alg="ed25519"'),
        ),
        "signature": st.one_of(st.text(max_size=200), st.just("sig1=:AAAA:"), st.just("sig1=:not base64:")),
        "content-digest": st.one_of(st.text(max_size=100), st.just("sha-256=:AAAA:")),
    },
).map(lambda headers: {k.encode(): v.encode() for k, v in headers.items()})  # raw bytes: non-ASCII as well

BODIES = st.one_of(
    st.binary(max_size=512),
    st.just(b""),
    st.just(b"{}"),
    st.just(b'{"query_id": "not-a-uuid", "requesting_city": "CN-GZ"}'),
    st.just(b"[" * 5000),
    st.just(b"x" * (70 * 1024)),  # above the body limit
)


def test_wire_refuses_unsigned_and_garbage_requests(tmp_path: Path, bus: str) -> None:
    """Whatever arrives without a valid peer signature is refused: 4xx, problem+json, never a 5xx."""
    api = federation(tmp_path, bus)
    transport = httpx.ASGITransport(app=api)  # no lifespan: the wire path needs no bus to refuse

    @settings(
        max_examples=FUZZ_EXAMPLES * 10,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(path=st.sampled_from(WIRE), headers=SIGNATURE_HEADERS, body=BODIES)
    def refused(path: str, headers: dict[bytes, bytes], body: bytes) -> None:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                return await client.post(path, content=body, headers=headers)

        response = asyncio.run(send())
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
        problem = response.json()
        assert problem["status"] == response.status_code and problem["title"], problem

    refused()


def test_wire_refuses_a_forged_signature(tmp_path: Path, bus: str) -> None:
    """A well-formed query, signed properly but with a key that is not Guangzhou's, naming Guangzhou."""
    api = federation(tmp_path, bus)
    query = {
        "query_id": "6f9619ff-8b86-4d11-b42d-00c04fc964ff",
        "requesting_city": "CN-GZ",
        "purpose": "exit-review",
        "legal_basis": "Guangdong public rental housing regulations, art. 30",
        "case_id": "GZ-2026-000123",
        "officer_id": "officer.li",
        "requested_at": clock.now().isoformat(),
        "id_hash": "ab" * 32,
    }
    body = json.dumps(query).encode()
    forged = sign_request(Ed25519PrivateKey.generate(), "CN-GZ", "POST", f"http://127.0.0.1{WIRE[0]}", body)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(WIRE[0], content=body, headers=forged.items())

    response = asyncio.run(send())
    assert 400 <= response.status_code < 500 and response.status_code not in (404, 405), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == response.status_code
