"""Who is calling a service over HTTP, proven on every call: short signed assertions (zero trust inside).

A service believes no header about who acts (`X-Operator-*` are not read). Every call but the
operations endpoints carries `Authorization: Bearer <assertion>`: a JWT signed with Ed25519 (`EdDSA`,
the only algorithm accepted) by an issuer the service pins (`SERVICE_TRUST_KEYS`: issuer -> public key
files, the gateway's by default), for this service alone (`aud` = its `SERVICE_NAME`), valid for about
a minute by the service's own clock (`services.kit.clock`), naming the operator the issuer
authenticated: `sub`, `role`, `estates` (null = every estate), `department` (a department system's),
plus `iat`, `exp`, `jti`. The gateway mints one per call (`Minter`, gateway/upstream.py) from the
operator's token; a tool that calls a service directly mints its own with a key the service trusts.

Why an assertion per call and per audience rather than the operator's own token: the operator's token
is for the gateway (an hour, every scope); what reaches a service says only what that service needs,
cannot be replayed against another service, and is worthless a minute later.

`create_app` installs the check in every service (`Guard`, before routing and body parsing), so no
service can forget it, not even for a route added later; only `/healthz`, `/readyz`, `/metrics`, the
OpenAPI document and its pages, and federation's peer-facing routes (which carry HTTP message
signatures of their own, federation/PROTOCOL.md) are open. The routes get the caller through a FastAPI
dependency (`Authenticated`), which also declares the scheme in the OpenAPI document.

A refusal is 401 problem+json with `WWW-Authenticate: Bearer` and a `detail` that tells an operator or
SRE why (missing, malformed, algorithm, unknown issuer, bad signature, wrong audience, expired, issued
in the future) and never echoes the assertion; it is logged and counted
(`housing_http_unauthenticated_total{service,reason}`). Keys, rotation: docs/security.md.

The verified `Caller` is what routes use: who is recorded as acting, and the object-level rules again
at the service (`Caller.check_estate`, `Caller.visible`), so that a caller past the gateway meets them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.types import Options
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.identifiers import OperatorId
from services.kit.clock import Clock, epoch_seconds, now
from services.kit.keys import (
    key_id,
    load_private_key,
    load_public_key,
    private_pem,
    public_pem,
    write_file,
)
from services.kit.problems import Problem, problem_response

log = logging.getLogger(__name__)

GATEWAY_ISSUER = "housing-gateway"
"""`iss` of the gateway's assertions (and of the tools that hold the stack's assertion key)."""
ALGORITHMS = ["EdDSA"]
TTL_S = 60
MAX_LIFETIME_S = 300
"""Longest `exp - iat` accepted: a leaked assertion is worth minutes at most, whoever minted it."""
LEEWAY_S = 5
REQUIRED_CLAIMS = ["iss", "aud", "sub", "role", "iat", "exp", "jti"]
# PyJWT reads the wall clock for exp/iat: it checks their presence, `_check_times` checks them by our clock.
DECODE_OPTIONS: Options = {
    "require": REQUIRED_CLAIMS,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
}
_SUBJECT: TypeAdapter[str] = TypeAdapter(OperatorId)
_NAME_MAX = 128

UNAUTHENTICATED = Counter(
    "housing_http_unauthenticated_total",
    "Calls refused because the caller's assertion is missing or not acceptable",
    ["service", "reason"],
)


# -- who is calling -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The operator (or tool) a verified assertion names."""

    subject: str
    role: str
    estates: frozenset[str] | None = None
    """None: every estate."""
    department: str | None = None
    issuer: str = ""
    assertion_id: str = ""

    def sees_estate(self, estate: object) -> bool:
        """Whether this caller may see an object of `estate`; an object without one (a household on a
        rent subsidy) is for city-wide callers only (fail closed)."""
        return self.estates is None or (isinstance(estate, str) and estate in self.estates)

    def check_estate(self, estate: object) -> None:
        """403 unless the object's estate is one of the caller's (the gateway's rule, again here)."""
        if not self.sees_estate(estate):
            raise Problem(403, "Forbidden", "outside the estates you are assigned")

    def visible(self, items: Iterable[Mapping[str, Any]], key: str = "estate") -> list[Any]:
        """The list items (dicts carrying `key`) in the caller's estates."""
        return [item for item in items if self.sees_estate(item.get(key))]

    def city_wide(self, what: str) -> None:
        """403 for an estate-scoped caller: `what` spans every estate (a sweep, the federation log)."""
        if self.estates is not None:
            raise Problem(403, "Forbidden", f"{what} spans every estate; an estate-scoped caller cannot")


# -- minting --------------------------------------------------------------------------------------------


def mint(
    private_key: Ed25519PrivateKey,
    audience: str,
    subject: str,
    role: str,
    estates: Iterable[str] | None,
    department: str | None,
    clock: Clock | None = None,
    ttl_s: int = TTL_S,
    *,
    issuer: str = GATEWAY_ISSUER,
    kid: str | None = None,
) -> str:
    """An assertion for one service (`audience`) that `subject` acts in `role`, valid `ttl_s` seconds
    from now by `clock` (the process's by default). `kid`: the key's id, when the caller has it."""
    issued = int(epoch_seconds(clock or now))
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "role": role,
        "estates": None if estates is None else sorted(estates),
        "department": department,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    kid = kid or key_id(private_key.public_key())
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid})


class Minter:
    """One issuer's key, minting an assertion per call (the gateway's upstream calls, operator tools)."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        *,
        issuer: str = GATEWAY_ISSUER,
        ttl_s: int = TTL_S,
        clock: Clock | None = None,
    ) -> None:
        self.key, self.issuer, self.ttl_s, self.clock = key, issuer, ttl_s, clock
        self.kid = key_id(key.public_key())  # once: the gateway mints one assertion per call

    def assertion(
        self,
        audience: str,
        subject: str,
        role: str,
        estates: Iterable[str] | None = None,
        department: str | None = None,
    ) -> str:
        clock = self.clock or now
        return mint(
            self.key,
            audience,
            subject,
            role,
            estates,
            department,
            clock,
            self.ttl_s,
            issuer=self.issuer,
            kid=self.kid,
        )

    def headers(
        self,
        audience: str,
        subject: str,
        role: str,
        estates: Iterable[str] | None = None,
        department: str | None = None,
    ) -> dict[str, str]:
        """`{"authorization": "Bearer <assertion>"}` for one call."""
        token = self.assertion(audience, subject, role, estates, department)
        return {"authorization": f"Bearer {token}"}

    @classmethod
    def from_file(cls, path: Path, **kw: Any) -> Minter:
        return cls(load_private_key(path), **kw)


class ServiceAuth(httpx.Auth):
    """An httpx client's credential for a process that calls the services directly (an operator tool,
    the demo loader, a benchmark): each request gets an assertion minted for the service its URL
    belongs to (`services`: name, i.e. audience, -> base URL), on behalf of `subject` in `role`, unless
    it carries an `Authorization` of its own (`headers(...)` for another operator's step). Requests to
    other URLs go as they are."""

    def __init__(
        self,
        minter: Minter,
        services: Mapping[str, str],
        subject: str,
        role: str,
        estates: Iterable[str] | None = None,
        department: str | None = None,
    ) -> None:
        self.minter, self.subject, self.role = minter, subject, role
        self.estates, self.department = estates, department
        self.bases = sorted(((url.rstrip("/"), name) for name, url in services.items()), reverse=True)

    def audience(self, url: str) -> str | None:
        """The service a URL belongs to (the longest base URL it starts with)."""
        for base, name in self.bases:
            if url == base or url.startswith(base + "/"):
                return name
        return None

    def headers(self, service: str, subject: str, role: str, department: str | None = None) -> dict[str, str]:
        """The headers of one call of `service` by another operator than the client's own."""
        return self.minter.headers(service, subject, role, None, department)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        audience = self.audience(str(request.url))
        if audience is not None and "authorization" not in request.headers:
            request.headers.update(
                self.minter.headers(audience, self.subject, self.role, self.estates, self.department)
            )
        yield request


# -- keys -------------------------------------------------------------------------------------------------


def public_path_of(private_path: Path) -> Path:
    """`assertion-key.pem` -> `assertion-key.pub.pem`: where the public half is written beside it."""
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def ensure_key_pair(private_path: Path, public_path: Path | None = None) -> tuple[Ed25519PrivateKey, bool]:
    """The issuer's key, generated (private 0600, public beside it) when absent; the public file is
    (re)written from the private one whenever it is missing or does not match. Returns the key and
    whether it was created now. Run by whoever starts first (the launcher, compose's keys job), before
    the services, which pin the public half at their start."""
    public_path = public_path or public_path_of(private_path)
    created = not private_path.exists()
    if created:
        write_file(private_path, private_pem(Ed25519PrivateKey.generate()), secret=True)
    key = load_private_key(private_path)  # what is on disk, also if another process wrote it meanwhile
    pem = public_pem(key.public_key())
    if not public_path.exists() or public_path.read_bytes() != pem:
        write_file(public_path, pem)
    return key, created


def load_trusted(files: Mapping[str, Sequence[Path]]) -> dict[str, list[Ed25519PublicKey]]:
    """Each issuer's public keys from their PEM files; a file that cannot be read is logged and left
    out (its issuer's assertions are refused until it can be: fail closed)."""
    trusted: dict[str, list[Ed25519PublicKey]] = {}
    for issuer, paths in files.items():
        keys = trusted.setdefault(issuer, [])
        for path in paths:
            try:
                keys.append(load_public_key(Path(path)))
            except (OSError, ValueError) as exc:
                log.error("trusted key of %s not loaded from %s: %s", issuer, path, type(exc).__name__)
    return trusted


# -- verification ----------------------------------------------------------------------------------------


class Refused(Exception):
    """An assertion this service does not accept: `reason` (a metric label) and `detail` (safe to show:
    names claims and services, never the assertion)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _shown(value: object) -> str:
    """A claim value quoted in a refusal: short, and never more than a name."""
    text = str(value)
    return repr(text if len(text) <= 64 else text[:64] + "...")


def _named(keys: Iterable[Ed25519PublicKey]) -> list[tuple[str, Ed25519PublicKey]]:
    """Each key with its id, computed once rather than at every call."""
    return [(key_id(key), key) for key in keys]


class Verifier:
    """This service's check of its callers' assertions: trusted issuers and their keys, its own name as
    the audience, its clock."""

    def __init__(
        self,
        audience: str,
        trusted_files: Mapping[str, Sequence[Path]],
        clock: Clock | None = None,
        *,
        trusted: Mapping[str, Sequence[Ed25519PublicKey]] | None = None,
    ) -> None:
        self.audience = audience
        self.files = {issuer: list(paths) for issuer, paths in trusted_files.items()}
        self.clock: Clock = clock or now
        self.trusted = {i: _named(k) for i, k in (trusted or load_trusted(self.files)).items()}
        for issuer in self.files:
            if not self.trusted.get(issuer):
                log.error(
                    "%s trusts no readable key of issuer %s yet: its calls are refused", audience, issuer
                )

    def keys_of(self, issuer: str) -> list[tuple[str, Ed25519PublicKey]]:
        """The issuer's keys with their ids; read again while none could be (a key file written after
        our start)."""
        keys = self.trusted.get(issuer, [])
        if not keys and issuer in self.files:
            keys = _named(load_trusted({issuer: self.files[issuer]}).get(issuer, []))
            self.trusted[issuer] = keys
        return keys

    def verify(self, token: str) -> Caller:
        """The caller a valid assertion names, else `Refused`."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused("malformed", "the assertion is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Refused("algorithm", f"algorithm {_shown(algorithm)} is not accepted (EdDSA only)")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise Refused("claims", "the assertion names no issuer (iss)")
        if issuer not in self.files and issuer not in self.trusted:
            raise Refused("unknown-issuer", f"issuer {_shown(issuer)} is not one this service trusts")
        keys = self.keys_of(issuer)
        if not keys:
            raise Refused(
                "no-key", f"no public key of issuer {_shown(issuer)} could be read (SERVICE_TRUST_KEYS)"
            )
        kid = header.get("kid")
        ordered = sorted(keys, key=lambda named: named[0] != kid)  # the named key first, then the others
        claims: dict[str, Any] | None = None
        for _, key in ordered:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=ALGORITHMS,
                    audience=self.audience,
                    issuer=issuer,
                    options=DECODE_OPTIONS,
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAudienceError:
                meant = _shown(unverified.get("aud"))
                raise Refused(
                    "audience", f"the assertion is for {meant}, this service is {self.audience!r}"
                ) from None
            except jwt.MissingRequiredClaimError as exc:
                raise Refused("claims", f"the assertion lacks the claim {exc.claim!r}") from None
            except jwt.PyJWTError as exc:
                raise Refused("invalid", f"invalid assertion ({type(exc).__name__})") from None
        if claims is None:
            raise Refused(
                "signature",
                f"bad signature: not signed by a key this service pins for {_shown(issuer)} "
                f"(the assertion names key {_shown(kid)})",
            )
        self._check_times(claims)
        return self._caller(claims, issuer)

    def _check_times(self, claims: dict[str, Any]) -> None:
        """`exp` and `iat` against our clock with `LEEWAY_S` (PyJWT would read the wall clock)."""
        at = epoch_seconds(self.clock)
        expires, issued = claims["exp"], claims["iat"]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (expires, issued)):
            raise Refused("claims", "exp and iat must be numbers")
        if expires <= at - LEEWAY_S:
            raise Refused(
                "expired", f"the assertion expired {int(at - expires)} s ago by this service's clock"
            )
        if issued > at + LEEWAY_S:
            raise Refused(
                "future",
                f"the assertion was issued {int(issued - at)} s in the future by this service's clock "
                "(are the clocks in step?)",
            )
        if expires - issued > MAX_LIFETIME_S:
            raise Refused("lifetime", f"the assertion's lifetime is longer than {MAX_LIFETIME_S} s")

    @staticmethod
    def _caller(claims: dict[str, Any], issuer: str) -> Caller:
        subject, role = claims["sub"], claims["role"]
        try:
            _SUBJECT.validate_python(subject)
        except ValidationError:
            raise Refused("claims", "the subject (sub) is not an operator account id") from None
        if not isinstance(role, str) or not role or len(role) > _NAME_MAX:
            raise Refused("claims", "the role claim must be a role name")
        estates = claims.get("estates")
        if estates is not None and not (
            isinstance(estates, list) and all(isinstance(e, str) and e for e in estates)
        ):
            raise Refused("claims", "the estates claim must be a list of estate names or null")
        department = claims.get("department")
        if department is not None and (not isinstance(department, str) or not department):
            raise Refused("claims", "the department claim must be a department name or null")
        return Caller(
            subject=subject,
            role=role,
            estates=None if estates is None else frozenset(estates),
            department=department,
            issuer=issuer,
            assertion_id=str(claims["jti"]),
        )

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller of a request's `Authorization` header, else a 401 problem (logged and counted)."""
        try:
            if not authorization:
                raise Refused(
                    "missing",
                    "no service assertion: every call needs `Authorization: Bearer <assertion>` from the "
                    "gateway or a trusted issuer (X-Operator-* headers are not read)",
                )
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Refused("malformed", "the Authorization header is not `Bearer <assertion>`")
            return self.verify(token.strip())
        except Refused as refused:
            UNAUTHENTICATED.labels(self.audience, refused.reason).inc()
            log.warning("call refused (%s): %s", refused.reason, refused.detail)
            challenge = f'Bearer realm="{self.audience}"'
            if refused.reason != "missing":
                challenge += ', error="invalid_token"'
            raise Problem(
                401, "Caller not authenticated", refused.detail, headers={"WWW-Authenticate": challenge}
            ) from None

    @classmethod
    def for_service(cls, settings: Any, clock: Clock | None = None) -> Verifier:
        """From a service's settings (`ServiceSettings`): its name as the audience, its trusted keys."""
        return cls(settings.service_name, settings.trusted_key_files(), clock)


# -- installed in every service: a guard before the routes, a dependency for who acts ---------------------

CALLER = "housing.caller"
"""Scope key of the verified caller, set by the guard for the routes' dependency."""

_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="ServiceAssertion",
    description="An assertion (EdDSA JWT, about a minute) that the gateway or another trusted issuer "
    "mints for this service: `aud` this service, `sub`, `role`, `estates`, `department`.",
)


def verifier_of(app: Any) -> Verifier:
    verifier = getattr(app.state, "identity", None)
    if not isinstance(verifier, Verifier):
        raise Problem(401, "Caller not authenticated", "this service has no assertion verifier installed")
    return verifier


class Guard:
    """ASGI middleware in front of a service's routes (inside its admission gate, behind tracing): a
    request to any path but the open ones is answered 401 before routing, body parsing or the route's
    own checks unless it carries a valid assertion, whose caller it leaves in the scope (`CALLER`). A
    route added to the app later, a path nobody routes, a malformed body: all behind it alike."""

    def __init__(self, app: ASGIApp, open_paths: frozenset[str], open_routes: Sequence[BaseRoute]) -> None:
        self.app, self.open_paths, self.open_routes = app, open_paths, list(open_routes)

    def is_open(self, scope: Scope) -> bool:
        return scope["path"] in self.open_paths or any(
            route.matches(scope)[0] is Match.FULL for route in self.open_routes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_open(scope):
            await self.app(scope, receive, send)
            return
        authorization = next(
            (
                value.decode("latin-1")
                for name, value in scope.get("headers") or ()
                if name == b"authorization"
            ),
            None,
        )
        try:
            scope[CALLER] = verifier_of(scope["app"]).authenticate(authorization)
        except Problem as refused:
            response = problem_response(
                refused.status, refused.title, refused.detail, headers=refused.headers
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_guard(api: FastAPI, open_paths: frozenset[str], open_routes: Sequence[BaseRoute] = ()) -> None:
    """Put `Guard` before the app's routes: open are `open_paths`, the app's OpenAPI document and
    pages, and `open_routes` (routes that authenticate their callers otherwise)."""
    documents = {api.openapi_url, api.docs_url, api.redoc_url, api.swagger_ui_oauth2_redirect_url}
    paths = frozenset(open_paths | {path for path in documents if path})
    api.add_middleware(Guard, open_paths=paths, open_routes=open_routes)


async def authenticated(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> Caller:
    """The verified caller of this request (401 otherwise): the guard's, or checked here where no guard
    ran (a route of an open router that asks who calls). `create_app` also puts it on every route of a
    service's routers, which documents the scheme in the OpenAPI document; a route that needs to know
    who acts asks for it (`Authenticated`), answered from the same request's cache."""
    caller = request.scope.get(CALLER)
    if isinstance(caller, Caller):
        return caller
    return verifier_of(request.app).authenticate(request.headers.get("authorization"))


Authenticated = Annotated[Caller, Depends(authenticated)]
"""A route's parameter: who acts, as the assertion names them."""


# -- command line: keys for a deployment, an assertion for an SRE ------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`keygen --private P [--public Q]`: the key pair, created when absent (compose's keys job);
    `mint --key P --audience S --subject U --role R [--estate E]... [--department D]`: print one
    `Authorization` header value, for an SRE's manual call of a service."""
    parser = argparse.ArgumentParser(prog="python -m services.kit.identity", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="create the assertion key pair if absent")
    keygen.add_argument("--private", type=Path, required=True)
    keygen.add_argument("--public", type=Path)
    minting = commands.add_parser("mint", help="print `Bearer <assertion>` for one call")
    minting.add_argument("--key", type=Path, required=True)
    minting.add_argument("--audience", required=True)
    minting.add_argument("--subject", required=True)
    minting.add_argument("--role", required=True)
    minting.add_argument("--estate", action="append", dest="estates")
    minting.add_argument("--department")
    minting.add_argument("--issuer", default=GATEWAY_ISSUER)
    minting.add_argument("--ttl", type=int, default=TTL_S)
    args = parser.parse_args(argv)
    if args.command == "keygen":
        key, created = ensure_key_pair(args.private, args.public)
        state = "created" if created else "kept"
        print(f"{state} {args.private} (kid {key_id(key.public_key())})")
        return 0
    token = mint(
        load_private_key(args.key),
        args.audience,
        args.subject,
        args.role,
        args.estates,
        args.department,
        ttl_s=args.ttl,
        issuer=args.issuer,
    )
    print(f"Bearer {token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
