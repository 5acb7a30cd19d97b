"""The kit's service identity (services.kit.identity): assertions minted and verified by an injected
clock, every refusal with the reason an operator or SRE needs, key rotation, the key files, and
`create_app` putting the check on every route of a service but the operations endpoints, the OpenAPI
pages and the routers it is told are open."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter

from services.kit.clock import ManualClock, epoch_seconds
from services.kit.identity import (
    GATEWAY_ISSUER,
    UNAUTHENTICATED,
    Caller,
    Minter,
    Refused,
    ServiceAuth,
    Verifier,
    ensure_key_pair,
    main,
    mint,
    public_path_of,
)
from services.kit.keys import key_id, load_private_key, public_pem, write_file
from services.kit.problems import Problem
from services.kit.settings import ServiceSettings
from tests.kit.sample import Feed
from tests.support.identity import KEY, OTHER_KEY, PUBLIC_KEY_FILE, TRUST

START = datetime(2027, 2, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def verifier(clock: ManualClock, audience: str = "eligibility") -> Verifier:
    return Verifier(audience, TRUST, clock)


def token(
    clock: ManualClock,
    audience: str = "eligibility",
    *,
    subject: str = "reviewer.li",
    role: str = "reviewer",
    estates: list[str] | None = None,
    department: str | None = None,
) -> str:
    return mint(KEY, audience, subject, role, estates, department, clock)


def hs256_with_the_public_key() -> str:
    """The algorithm-confusion forgery: HS256 "signed" with the public key's PEM as the secret."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header, claims = part({"alg": "HS256", "typ": "JWT"}), part({"iss": GATEWAY_ISSUER, "aud": "eligibility"})
    signing_input = f"{header}.{claims}"
    mac = hmac.new(PUBLIC_KEY_FILE.read_bytes(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def refusal(check: Verifier, assertion: str) -> Refused:
    with pytest.raises(Refused) as refused:
        check.verify(assertion)
    return refused.value


# -- minting and verifying -----------------------------------------------------------------------------


def test_an_assertion_names_the_operator_for_one_service_for_a_minute(clock: ManualClock) -> None:
    assertion = token(clock, estates=["Nanhai Homes", "Chancheng Garden"], department=None)
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert jwt.get_unverified_header(assertion) == {
        "alg": "EdDSA",
        "kid": key_id(KEY.public_key()),
        "typ": "JWT",
    }
    now = int(epoch_seconds(clock))
    assert claims == {
        "iss": GATEWAY_ISSUER,
        "aud": "eligibility",
        "sub": "reviewer.li",
        "role": "reviewer",
        "estates": ["Chancheng Garden", "Nanhai Homes"],
        "department": None,
        "iat": now,
        "exp": now + 60,
        "jti": claims["jti"],
    }
    caller = verifier(clock).verify(assertion)
    assert caller == Caller(
        subject="reviewer.li",
        role="reviewer",
        estates=frozenset({"Chancheng Garden", "Nanhai Homes"}),
        issuer=GATEWAY_ISSUER,
        assertion_id=claims["jti"],
    )
    assert caller.sees_estate("Nanhai Homes") and not caller.sees_estate("Shunde Garden")
    assert not caller.sees_estate(None), "an object without an estate is for city-wide callers only"


def test_every_refusal_says_why(clock: ManualClock) -> None:
    check = verifier(clock)
    cases = {
        "malformed": "not-a-jwt",
        "audience": token(clock, "penalties"),
        "signature": mint(OTHER_KEY, "eligibility", "reviewer.li", "reviewer", None, None, clock),
        "unknown-issuer": mint(KEY, "eligibility", "a", "reviewer", None, None, clock, issuer="mallory"),
        "algorithm": hs256_with_the_public_key(),
        "claims": token(clock, subject="not an account id!"),
    }
    details = {reason: refusal(check, assertion) for reason, assertion in cases.items()}
    assert {reason: r.reason for reason, r in details.items()} == {reason: reason for reason in cases}
    assert details["audience"].detail == "the assertion is for 'penalties', this service is 'eligibility'"
    assert "HS256" in details["algorithm"].detail and "EdDSA only" in details["algorithm"].detail
    assert "mallory" in details["unknown-issuer"].detail
    unsigned = jwt.encode({"iss": GATEWAY_ISSUER}, None, algorithm="none")  # type: ignore[arg-type]
    assert refusal(check, unsigned).reason == "algorithm"
    for reason, refused in details.items():
        assert cases[reason] not in refused.detail or reason == "malformed", (
            "a refusal never echoes the token"
        )


def test_expiry_and_issue_time_follow_the_services_clock_not_the_wall(clock: ManualClock) -> None:
    check = verifier(clock)
    assertion = token(clock)
    clock.advance(seconds=60 + 4)  # within the 5 s leeway
    assert check.verify(assertion).subject == "reviewer.li"
    clock.advance(seconds=2)
    expired = refusal(check, assertion)
    assert (expired.reason, expired.detail) == (
        "expired",
        "the assertion expired 6 s ago by this service's clock",
    )
    later = ManualClock(START.replace(minute=5))
    early = refusal(verifier(clock), token(later))
    assert early.reason == "future" and "clocks in step" in early.detail
    long_lived = mint(KEY, "eligibility", "reviewer.li", "reviewer", None, None, clock, ttl_s=3600)
    assert refusal(check, long_lived).reason == "lifetime"


def test_missing_or_malformed_claims_are_refused(clock: ManualClock) -> None:
    check = verifier(clock)
    now = int(epoch_seconds(clock))
    base = {"iss": GATEWAY_ISSUER, "aud": "eligibility", "sub": "a.b", "role": "reviewer", "iat": now}
    without_jti = jwt.encode({**base, "exp": now + 60}, KEY, algorithm="EdDSA")
    assert refusal(check, without_jti).detail == "the assertion lacks the claim 'jti'"
    bad_estates = jwt.encode(
        {**base, "exp": now + 60, "jti": "x", "estates": "Nanhai"}, KEY, algorithm="EdDSA"
    )
    assert "estates" in refusal(check, bad_estates).detail
    text_times = jwt.encode({**base, "iat": "now", "exp": "later", "jti": "x"}, KEY, algorithm="EdDSA")
    assert refusal(check, text_times).reason in ("claims", "invalid")


def test_authenticate_answers_401_with_a_bearer_challenge_and_counts(clock: ManualClock) -> None:
    check = verifier(clock)
    before = UNAUTHENTICATED.labels("eligibility", "missing")._value.get()
    for header, challenge in (
        (None, 'Bearer realm="eligibility"'),
        ("Basic cmV2aWV3ZXI6cHc=", 'Bearer realm="eligibility", error="invalid_token"'),
        (f"Bearer {token(clock, 'training')}", 'Bearer realm="eligibility", error="invalid_token"'),
    ):
        with pytest.raises(Problem) as problem:
            check.authenticate(header)
        assert (problem.value.status, problem.value.title) == (401, "Caller not authenticated")
        assert problem.value.headers == {"WWW-Authenticate": challenge}
    assert UNAUTHENTICATED.labels("eligibility", "missing")._value.get() == before + 1
    assert check.authenticate(f"bearer {token(clock)}").role == "reviewer"


# -- keys ---------------------------------------------------------------------------------------------------


def test_two_keys_of_one_issuer_during_a_rotation_then_the_old_one_revoked(
    clock: ManualClock, tmp_path: Path
) -> None:
    new = Ed25519PrivateKey.generate()
    new_public = tmp_path / "next.pub.pem"
    write_file(new_public, public_pem(new.public_key()))
    both = Verifier("eligibility", {GATEWAY_ISSUER: [PUBLIC_KEY_FILE, new_public]}, clock)
    by_old, by_new = token(clock), mint(new, "eligibility", "reviewer.li", "reviewer", None, None, clock)
    assert both.verify(by_old).subject == both.verify(by_new).subject == "reviewer.li"
    only_new = Verifier("eligibility", {GATEWAY_ISSUER: [new_public]}, clock)  # the next start
    assert only_new.verify(by_new).subject == "reviewer.li"
    assert refusal(only_new, by_old).reason == "signature"


def test_a_key_file_written_after_the_start_is_read_when_needed(clock: ManualClock, tmp_path: Path) -> None:
    later = tmp_path / "gateway" / "assertion-key.pub.pem"
    check = Verifier("eligibility", {GATEWAY_ISSUER: [later]}, clock)
    assert refusal(check, token(clock)).reason == "no-key"
    write_file(later, public_pem(KEY.public_key()))
    assert check.verify(token(clock)).subject == "reviewer.li"


def test_the_key_pair_is_made_once_private_0600_public_beside_it(tmp_path: Path) -> None:
    private = tmp_path / "gateway" / "assertion-key.pem"
    key, created = ensure_key_pair(private)
    public = public_path_of(private)
    assert created and public == tmp_path / "gateway" / "assertion-key.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_bytes() == public_pem(key.public_key())
    public.unlink()
    again, created_again = ensure_key_pair(private)
    assert not created_again and key_id(again.public_key()) == key_id(key.public_key())
    assert public.read_bytes() == public_pem(key.public_key()), "the public half is derived again"


def test_the_command_line_makes_the_pair_and_mints_for_an_sre(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = tmp_path / "keys" / "a.pem", tmp_path / "trust" / "a.pub.pem"
    assert main(["keygen", "--private", str(private), "--public", str(public)]) == 0
    assert capsys.readouterr().out.startswith(f"created {private}")
    assert (
        main(
            [
                "mint",
                "--key",
                str(private),
                "--audience",
                "training",
                "--subject",
                "sre.li",
                "--role",
                "auditor",
            ]
        )
        == 0
    )
    header = capsys.readouterr().out.strip()
    check = Verifier("training", {GATEWAY_ISSUER: [public]})
    assert check.authenticate(header).subject == "sre.li"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert main(["keygen", "--private", str(private), "--public", str(public)]) == 0
    kept = capsys.readouterr().out
    assert kept.startswith(f"kept {private}") and key_id(load_private_key(private).public_key()) in kept


def test_settings_trust_the_local_stacks_gateway_key_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVICE_TRUST_KEYS")
    default = ServiceSettings(var_dir=tmp_path).trusted_key_files()
    assert default == {GATEWAY_ISSUER: [tmp_path / "gateway" / "assertion-key.pub.pem"]}
    pinned = {GATEWAY_ISSUER: ["/keys/a.pub.pem", "/keys/b.pub.pem"]}
    monkeypatch.setenv("SERVICE_TRUST_KEYS", json.dumps(pinned))
    assert ServiceSettings().trusted_key_files() == {
        GATEWAY_ISSUER: [Path("/keys/a.pub.pem"), Path("/keys/b.pub.pem")]
    }


# -- a tool's client -------------------------------------------------------------------------------------


async def test_a_tools_client_mints_for_the_service_each_url_belongs_to(clock: ManualClock) -> None:
    seen: dict[str, str | None] = {}

    def record(request: httpx.Request) -> httpx.Response:
        seen[str(request.url)] = request.headers.get("authorization")
        return httpx.Response(200, json={})

    services = {"eligibility": "http://127.0.0.1:8001", "penalties": "http://127.0.0.1:8002/"}
    auth = ServiceAuth(Minter(KEY, clock=clock), services, "clerk-intake-01", "admin")
    async with httpx.AsyncClient(transport=httpx.MockTransport(record), auth=auth) as client:
        await client.get("http://127.0.0.1:8001/households?limit=1")
        await client.get("http://127.0.0.1:8002/sanctions")
        await client.get("http://127.0.0.1:8000/api/status")  # the gateway: not a service of the map
        mine = auth.headers("penalties", "supervisor-wang", "supervisor")
        await client.post("http://127.0.0.1:8002/appeals/x/resolve", headers=mine)
    eligibility = verifier(clock, "eligibility").authenticate(
        seen["http://127.0.0.1:8001/households?limit=1"]
    )
    penalties = verifier(clock, "penalties").authenticate(seen["http://127.0.0.1:8002/sanctions"])
    assert (eligibility.subject, penalties.role) == ("clerk-intake-01", "admin")
    assert seen["http://127.0.0.1:8000/api/status"] is None
    decider = verifier(clock, "penalties").authenticate(seen["http://127.0.0.1:8002/appeals/x/resolve"])
    assert decider.subject == "supervisor-wang"


# -- create_app ------------------------------------------------------------------------------------------


async def test_create_app_guards_every_route_but_operations_docs_and_open_routers(
    tmp_path: Path, clock: ManualClock
) -> None:
    from services.kit.http import create_app
    from services.kit.runtime import Runtime
    from tests.kit.sample import feed_api

    settings = ServiceSettings(service_name="feed", var_dir=tmp_path, nats_url="nats://127.0.0.1:1")
    feed = Feed(
        settings, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "f.db")}
    )
    public = APIRouter()

    @public.get("/public/keys")
    def keys() -> dict[str, str]:
        return {"signed": "by peers"}

    api = create_app(Runtime(feed), [feed_api(feed)], open_routers=[public], title="feed")
    api.state.identity = Verifier("feed", TRUST, clock)

    @api.get("/added-later")
    def added_later() -> dict[str, str]:
        return {"forgot": "nothing"}

    body = {
        "reference": "r",
        "household_id": "7d8f1b0e-5c1a-4a8e-9a57-3a0f1b2c3d4e",
        "monthly_income": "1.00",
    }
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://feed") as client:
        for path in ("/healthz", "/metrics", "/openapi.json", "/docs", "/redoc", "/public/keys"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/readyz")).status_code == 503  # not started: not ready, but answered
        refused = await client.post("/facts", json=body)
        made_up = await client.post(
            "/facts", json=body, headers={"X-Operator-Id": "a", "X-Operator-Role": "admin"}
        )
        minted = Minter(KEY, clock=clock).headers("feed", "clerk.intake", "admin")
        accepted = await client.post("/facts", json=body, headers=minted)
        # before routing and body parsing: a route added later, a path nobody routes, a broken body
        behind = [
            await client.get("/added-later"),
            await client.get("/no/such/route"),
            await client.post("/facts", content=b"{broken", headers={"content-type": "application/json"}),
        ]
        later = await client.get("/added-later", headers=minted)
    assert [r.status_code for r in behind] == [401, 401, 401]
    assert later.status_code == 200
    assert refused.status_code == made_up.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == 'Bearer realm="feed"'
    assert "X-Operator-* headers are not read" in refused.json()["detail"]
    assert accepted.status_code == 201, accepted.text
    document = api.openapi()
    assert document["paths"]["/facts"]["post"]["security"] == [{"ServiceAssertion": []}]
    assert "security" not in document["paths"]["/public/keys"]["get"]
    assert "security" not in document["paths"]["/healthz"]["get"]
    feed.close()
