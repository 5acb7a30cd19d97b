"""Tokens: the built-in issuer's grants, tampering, expiry, wrong audience or issuer, algorithm
confusion, an external OpenID Connect issuer through its JWKS, and the demo accounts' hashes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

from gateway.settings import DEMO_USERS_FILE, GatewaySettings
from gateway.tokens import InvalidToken, Tokens
from gateway.users import Directory, demo_credentials, verify_password
from services.kit.clock import ManualClock, epoch_seconds
from tests.gateway.conftest import ACCOUNTS, PASSWORD, GatewayFactory


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(settings: GatewaySettings, **extra: Any) -> dict[str, Any]:
    now = int(epoch_seconds())
    return {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "supervisor.chen",
        "iat": now,
        "exp": now + 600,
        "role": "supervisor",
        **extra,
    }


async def status_of(client: Any, token: str) -> tuple[int, dict[str, Any], str]:
    response = await client.get("/api/me", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.json(), response.headers.get("www-authenticate", "")


async def test_password_and_client_credentials_grants(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        operator = await client.post(
            "/auth/token", data={"grant_type": "password", "username": "reviewer.li", "password": PASSWORD}
        )
        wrong = await client.post(
            "/auth/token", data={"grant_type": "password", "username": "reviewer.li", "password": "nope"}
        )
        unknown = await client.post(
            "/auth/token", data={"grant_type": "password", "username": "nobody", "password": PASSWORD}
        )
        department_by_password = await client.post(
            "/auth/token",
            data={"grant_type": "password", "username": "dept.civil-affairs", "password": PASSWORD},
        )
        basic = base64.b64encode(f"dept.civil-affairs:{PASSWORD}".encode()).decode()
        department = await client.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"authorization": f"Basic {basic}"},
        )
        implicit = await client.post("/auth/token", data={"grant_type": "implicit"})
        me = await client.get(
            "/api/me", headers={"authorization": f"Bearer {operator.json()['access_token']}"}
        )
        dept_me = await client.get(
            "/api/me", headers={"authorization": f"Bearer {department.json()['access_token']}"}
        )
        jwks = (await client.get("/.well-known/jwks.json")).json()
    assert operator.status_code == 200 and operator.json()["token_type"] == "Bearer"
    assert operator.headers["cache-control"] == "no-store"
    assert me.json()["subject"] == "reviewer.li" and me.json()["estates"] == ["Chancheng Garden"]
    assert "personal:read" in me.json()["scopes"] and "cases:approve" not in me.json()["scopes"]
    for failed in (wrong, unknown, department_by_password):
        assert failed.status_code == 401 and failed.headers["content-type"] == "application/problem+json"
        assert failed.json()["error"] == "invalid_grant"
    # no hint whether the account exists (each answer names its own trace when a tracer is installed,
    # which depends on what ran before in this process)
    assert {**wrong.json(), "trace_id": None} == {**unknown.json(), "trace_id": None}
    assert dept_me.json()["role"] == "department" and dept_me.json()["department"] == "civil_affairs"
    assert implicit.status_code == 400 and implicit.json()["error"] == "unsupported_grant_type"
    assert jwks["keys"][0]["alg"] == "EdDSA" and "d" not in jwks["keys"][0]
    header = jwt.get_unverified_header(operator.json()["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"] == jwks["keys"][0]["kid"]


async def test_tampered_expired_and_foreign_tokens_are_refused(
    gateway: GatewayFactory, tokens: Tokens, settings: GatewaySettings
) -> None:
    good = tokens.issue(ACCOUNTS["reviewer_scoped"])["access_token"]
    head, payload, signature = good.split(".")
    widened = json.loads(base64.urlsafe_b64decode(payload + "=="))
    widened.pop("estates")
    widened["role"] = "supervisor"
    tampered_payload = f"{head}.{b64(json.dumps(widened).encode())}.{signature}"
    # a character in the middle (the last one carries padding bits a decoder may ignore)
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    tampered_signature = f"{head}.{payload}.{flipped}"
    expired = tokens.issue(ACCOUNTS["reviewer"], now=epoch_seconds() - 7200, ttl_s=600)["access_token"]
    other_key = Ed25519PrivateKey.generate()
    forged = jwt.encode(claims(settings), other_key, algorithm="EdDSA")
    wrong_audience = jwt.encode(claims(settings, aud="another-app"), tokens.key, algorithm="EdDSA")
    unknown_issuer = jwt.encode(claims(settings, iss="https://evil.example"), tokens.key, algorithm="EdDSA")
    no_exp = jwt.encode(
        {k: v for k, v in claims(settings).items() if k != "exp"}, tokens.key, algorithm="EdDSA"
    )
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{none_header}.{b64(json.dumps(claims(settings)).encode())}."
    # HS256 keyed with the public key (algorithm confusion)
    public = base64.urlsafe_b64decode(tokens.jwk["x"] + "==")
    confused = jwt.encode(claims(settings), public, algorithm="HS256")
    no_role = jwt.encode(claims(settings, role="superuser"), tokens.key, algorithm="EdDSA")

    async with gateway() as client:
        assert (await status_of(client, good))[0] == 200
        expectations = {
            "tampered payload": (tampered_payload, "invalid token"),
            "tampered signature": (tampered_signature, "invalid token"),
            "expired": (expired, "token expired"),
            "forged with another key": (forged, "invalid token"),
            "wrong audience": (wrong_audience, "another audience"),
            "unknown issuer": (unknown_issuer, "unknown issuer"),
            "no exp": (no_exp, "invalid token"),
            "alg none": (unsigned, "invalid token"),
            "HS256 with the public key": (confused, "invalid token"),
            "unknown role": (no_role, "no platform role"),
            "garbage": ("not.a.token", "malformed"),
        }
        for name, (token, why) in expectations.items():
            status, body, challenge = await status_of(client, token)
            assert status == 401, name
            assert why in body["detail"], (name, body)
            assert challenge.startswith('Bearer realm="housing-exit", error="invalid_token"'), name
        missing = await client.get("/api/me")
    assert missing.status_code == 401 and 'error="invalid_request"' in missing.headers["www-authenticate"]
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.fixture
def rsa_key() -> RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(rsa_key: RSAPrivateKey) -> Iterator[str]:
    """A real HTTP server publishing an identity provider's JWKS."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    finally:
        server.shutdown()


async def test_an_external_oidc_issuer_through_its_jwks(
    gateway: GatewayFactory, settings: GatewaySettings, rsa_key: RSAPrivateKey, jwks_url: str, tmp_path: Any
) -> None:
    idp = "https://sso.bureau.example"
    oidc = {"oidc_issuer": idp, "oidc_jwks_url": jwks_url, "oidc_audience": "housing-console"}
    external = Tokens(settings.model_copy(update=oidc), Ed25519PrivateKey.generate())
    base = claims(settings, iss=idp, aud="housing-console", sub="u-8841", role=["staff", "inspector"])
    good = jwt.encode(base, rsa_key, algorithm="RS256", headers={"kid": "idp-1"})
    principal = external.verify(good)
    assert (principal.subject, principal.role, principal.issuer) == ("u-8841", "inspector", idp)
    assert "personal:read" not in principal.scopes

    from gateway.tokens import InvalidToken

    refused = {
        "our audience, not the configured one": jwt.encode(
            {**base, "aud": settings.token_audience}, rsa_key, algorithm="RS256", headers={"kid": "idp-1"}
        ),
        "unpinned algorithm": jwt.encode(base, rsa_key, algorithm="RS512", headers={"kid": "idp-1"}),
        "unknown key id": jwt.encode(base, rsa_key, algorithm="RS256", headers={"kid": "idp-2"}),
        "the IdP's key claiming our issuer": jwt.encode(
            {**base, "iss": settings.token_issuer, "aud": settings.token_audience},
            rsa_key,
            algorithm="RS256",
            headers={"kid": "idp-1"},
        ),
    }
    for name, token in refused.items():
        with pytest.raises(InvalidToken):
            external.verify(token)
            pytest.fail(name)


def test_demo_accounts_have_scrypt_hashes_of_their_published_passwords() -> None:
    credentials = demo_credentials()
    roles = {role.split(":")[0] for _, role, _ in credentials}
    assert roles == {
        "reviewer",
        "supervisor",
        "inspector",
        "auditor",
        "admin",
        "assessor",
        "department",
        "registry",
    }
    directory = Directory.load(DEMO_USERS_FILE, allow_demo=True)
    for account, _, password in credentials:
        stored = directory.accounts[account].secret_hash
        assert stored.startswith("scrypt$16384$8$1$") and password not in DEMO_USERS_FILE.read_text()
        assert verify_password(password, stored)
    scoped = [a for a in directory.accounts.values() if a.role == "reviewer" and a.estates is not None]
    assert scoped, "at least one reviewer is scoped to estates"
    locked = Directory.load(DEMO_USERS_FILE, allow_demo=False)
    account, _, password = credentials[0]
    assert directory.authenticate(account, password, client=False) is not None
    assert locked.authenticate(account, password, client=False) is None


async def test_the_issuer_key_is_created_once_and_kept(tmp_path: Any) -> None:
    settings = GatewaySettings(var_dir=tmp_path)
    first = Tokens(settings)
    assert settings.key_file.stat().st_mode & 0o777 == 0o600
    second = Tokens(settings)
    assert first.jwk == second.jwk
    token = first.issue(ACCOUNTS["auditor"])["access_token"]
    assert second.verify(token).subject == "auditor.sun"


def test_a_token_lives_by_the_gateway_clock_not_the_wall_clock(tmp_path: Any) -> None:
    """Issue and expiry read the injected clock: a token issued in 2031 is valid then, expires after
    its lifetime (with the 5 s leeway), and is not yet valid before it was issued."""
    clock = ManualClock(datetime(2031, 3, 1, 8, 0, tzinfo=UTC))
    tokens = Tokens(GatewaySettings(var_dir=tmp_path), Ed25519PrivateKey.generate(), clock=clock)
    token = tokens.issue(ACCOUNTS["auditor"], ttl_s=600)["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iat"] == int(clock.now.timestamp())
    assert tokens.verify(token).subject == "auditor.sun"
    clock.advance(seconds=604)
    assert tokens.verify(token).subject == "auditor.sun"
    clock.advance(seconds=2)
    with pytest.raises(InvalidToken, match="token expired"):
        tokens.verify(token)
    clock.now = datetime(2031, 3, 1, 7, 59, tzinfo=UTC)
    with pytest.raises(InvalidToken, match="ImmatureSignatureError"):
        tokens.verify(token)
