"""Bearer tokens: the built-in issuer (Ed25519, `EdDSA` only) and, when configured, an external
OpenID Connect issuer (its JWKS, its pinned algorithms). Every token must carry `exp`, `iat`, `sub`,
our audience and a known issuer; the algorithm list is chosen by the issuer, never by the token.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.types import Options

from gateway.roles import ROLES, Principal, Role, scopes_for
from gateway.settings import GatewaySettings
from gateway.users import CLERK_SCOPES, Account
from services.kit.clock import Clock, epoch_seconds, now
from services.kit.keys import key_id, public_x

BUILTIN_ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
LEEWAY_S = 5
# PyJWT reads the wall clock for exp/nbf/iat: it checks presence, `_check_times` checks them by our clock.
DECODE_OPTIONS: Options = {
    "require": REQUIRED_CLAIMS,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
}


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (safe to show)."""


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The issuer's private key, generated (mode 0600) at first start when the file is absent."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The JWK of the issuer's key, named by its RFC 7638 thumbprint."""
    return {
        "crv": "Ed25519",
        "kty": "OKP",
        "x": public_x(key),
        "kid": key_id(key),
        "use": "sig",
        "alg": "EdDSA",
    }


class Tokens:
    """Issues our tokens and verifies ours and the external issuer's."""

    def __init__(
        self, settings: GatewaySettings, key: Ed25519PrivateKey | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or now
        self.key = key or load_or_create_key(settings.key_file)
        self.jwk = public_jwk(self.key.public_key())
        # Token ids logged out before they expire (this process's memory: a restart or another replica
        # forgets them, and the token then lives until its `exp`, at most TOKEN_TTL_S).
        self.revoked: dict[str, float] = {}
        self._oidc: jwt.PyJWKClient | None = None
        if settings.oidc_issuer and settings.oidc_jwks_url:
            self._oidc = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def issue(
        self, account: Account, *, now: float | None = None, ttl_s: int | None = None
    ) -> dict[str, Any]:
        """An OAuth2 token response for an authenticated account."""
        issued = int(now if now is not None else epoch_seconds(self.clock))
        ttl = ttl_s or self.settings.token_ttl_s
        scopes = sorted(scopes_for(account.role, CLERK_SCOPES if account.clerk else None))
        claims: dict[str, Any] = {
            "iss": self.settings.token_issuer,
            "aud": self.settings.token_audience,
            "sub": account.id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": uuid.uuid4().hex,
            "role": account.role,
            "scope": " ".join(scopes),
        }
        if account.estates is not None:
            claims["estates"] = sorted(account.estates)
        if account.department is not None:
            claims["department"] = account.department
        token = jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.jwk["kid"]})
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(scopes)}

    def verify(self, token: str) -> Principal:
        """The principal of a valid token, else InvalidToken."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        issuer = unverified.get("iss")
        try:
            if issuer == self.settings.token_issuer:
                claims = jwt.decode(
                    token,
                    self.key.public_key(),
                    algorithms=BUILTIN_ALGORITHMS,
                    audience=self.settings.token_audience,
                    issuer=self.settings.token_issuer,
                    options=DECODE_OPTIONS,
                )
                self._check_times(claims)
                return self._principal(claims, role_claim="role", estates_claim="estates")
            if self._oidc is not None and issuer == self.settings.oidc_issuer:
                signing_key = self._oidc.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token,
                    signing_key.key,
                    algorithms=self.settings.oidc_algorithms,
                    audience=self.settings.oidc_audience or self.settings.token_audience,
                    issuer=self.settings.oidc_issuer,
                    options=DECODE_OPTIONS,
                )
                self._check_times(claims)
                return self._principal(
                    claims,
                    role_claim=self.settings.oidc_role_claim,
                    estates_claim=self.settings.oidc_estates_claim,
                )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token is for another audience") from None
        except jwt.PyJWKClientError:
            raise InvalidToken("signing key of the token not found") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {type(exc).__name__}") from None
        raise InvalidToken("unknown issuer")

    def _check_times(self, claims: dict[str, Any]) -> None:
        """`exp`, `nbf` and `iat` against our clock, with the leeway the library would allow
        (PyJWT reads the wall clock itself, so its own checks are turned off)."""
        at = epoch_seconds(self.clock)
        try:
            expires, not_before = float(claims["exp"]), float(claims.get("nbf", claims["iat"]))
            issued = float(claims["iat"])
        except (TypeError, ValueError):
            raise InvalidToken("invalid token: times are not numbers") from None
        if expires <= at - LEEWAY_S:
            raise InvalidToken("token expired")
        if not_before > at + LEEWAY_S or issued > at + LEEWAY_S:
            raise InvalidToken("invalid token: ImmatureSignatureError")

    def revoke(self, principal: Principal) -> None:
        now = epoch_seconds(self.clock)
        self.revoked = {jti: exp for jti, exp in self.revoked.items() if exp > now}
        if principal.token_id:
            self.revoked[principal.token_id] = principal.expires_at

    def _principal(self, claims: dict[str, Any], *, role_claim: str, estates_claim: str) -> Principal:
        role = claims.get(role_claim)
        if isinstance(role, list):  # an IdP may send a list of roles: take the first platform role
            role = next((r for r in role if r in ROLES), None)
        if role not in ROLES:
            raise InvalidToken("token names no platform role")
        scope = claims.get("scope")
        granted = frozenset(scope.split()) if isinstance(scope, str) else None
        estates = claims.get(estates_claim)
        if estates is not None and not (
            isinstance(estates, list) and all(isinstance(e, str) for e in estates)
        ):
            raise InvalidToken("estates claim must be a list of names")
        department = claims.get("department")
        if role == "department" and not isinstance(department, str):
            raise InvalidToken("a department token must name its department")
        typed_role: Role = role
        token_id = str(claims.get("jti", ""))
        if token_id and token_id in self.revoked:
            raise InvalidToken("token was logged out")
        return Principal(
            subject=str(claims["sub"]),
            role=typed_role,
            scopes=scopes_for(typed_role, granted),
            estates=None if estates is None else frozenset(estates),
            department=department if isinstance(department, str) else None,
            issuer=str(claims["iss"]),
            token_id=token_id,
            expires_at=float(claims["exp"]),
        )
