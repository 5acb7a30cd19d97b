# mypy: disable-error-code="no-untyped-call"
"""RFC 9421 signatures of federation requests and answers, on top of http-message-signatures.

The library builds and checks signature bases, Content-Digest (RFC 9530) and created/expires; what it
leaves to us, and this module adds, is the protocol's policy (PROTOCOL.md):

- exactly one signature, Ed25519, `keyid` = a city code, covering at least the components we require
  (`@method @authority @path content-digest`, or `@method @target-uri content-digest`);
- `expires` and a `nonce` are mandatory and `expires - created` is at most 300 s (replay of a nonce
  is checked against the event store by the application, so it survives restarts);
- keys are chosen by validity at `created`, so during a rotation overlap both keys of a city verify;
- an answer carries `Federation-Request-Signature: sha-256=:<hash of the request's signature>:` and
  signs it, binding the answer to the one request it answers (the library cannot do `;req`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

REQUEST_COMPONENTS = ("@method", "@authority", "@path", "content-digest")
TARGET_URI_COMPONENTS = ("@method", "@target-uri", "content-digest")
"""A request covers REQUEST_COMPONENTS (what we send) or, equally accepted, TARGET_URI_COMPONENTS."""
RESPONSE_COMPONENTS = ("@status", "content-digest", "federation-request-signature")
BINDING_HEADER = "Federation-Request-Signature"
LABEL = "fed"
MAX_LIFETIME_S = 300
NONCE_MIN, NONCE_MAX = 16, 128


class SignatureRejected(Exception):
    """A signature that must not be trusted; `status` is 401, or 403 for a city we do not know."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class Headers:
    """Ordered header field lines with case-insensitive access: the message interface the library needs."""

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self.fields: list[tuple[str, str]] = list(fields)

    def items(self) -> list[tuple[str, str]]:
        return list(self.fields)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self.fields))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.fields)

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self.fields.append((name, value))

    def __delitem__(self, name: str) -> None:
        self.fields = [(n, v) for n, v in self.fields if n.lower() != name.lower()]

    def get(self, name: str) -> str | None:
        values = [v for n, v in self.fields if n.lower() == name.lower()]
        return ", ".join(values) if values else None

    def as_dict(self) -> dict[str, str]:
        return {name: self.get(name) or "" for name in self}


@dataclass
class RequestView:
    method: str
    url: str
    headers: Headers


@dataclass
class ResponseView:
    status_code: int
    headers: Headers
    request: RequestView | None = None


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, public: Ed25519PublicKey | None = None, private: Ed25519PrivateKey | None = None):
        self.public, self.private = public, private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.public

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        assert self.private is not None
        return self.private


@dataclass(frozen=True)
class Verified:
    """What a verified signature establishes: who signed (city and which key), when, with which nonce."""

    city: str
    key_id: str
    nonce: str
    created: int
    expires: int
    signature: bytes = field(repr=False)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def binding_value(request_signature: bytes) -> str:
    """`sha-256=:<base64 SHA-256 of the request's signature bytes>:` (a structured dictionary)."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(request_signature).digest()).decode()}:"


def _times(now: datetime | None, lifetime_s: int) -> tuple[datetime, datetime]:
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    return created, created + timedelta(seconds=lifetime_s)


def sign_request(
    key: Ed25519PrivateKey,
    city: str,
    method: str,
    url: str,
    body: bytes,
    *,
    now: datetime | None = None,
    nonce: str | None = None,
    lifetime_s: int = MAX_LIFETIME_S,
) -> Headers:
    """The headers of a signed request (Content-Type, Content-Digest, Signature-Input, Signature)."""
    created, expires = _times(now, lifetime_s)
    view = RequestView(method, url, Headers([("Content-Type", "application/json")]))
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(private=key)).sign(
        view,
        key_id=city,
        created=created,
        expires=expires,
        nonce=nonce or new_nonce(),
        label=LABEL,
        covered_component_ids=REQUEST_COMPONENTS,
        body=body,
    )
    return view.headers


def sign_response(
    key: Ed25519PrivateKey,
    city: str,
    status: int,
    body: bytes,
    request_signature: bytes,
    *,
    now: datetime | None = None,
) -> Headers:
    created, expires = _times(now, MAX_LIFETIME_S)
    view = ResponseView(
        status,
        Headers(
            [
                ("Content-Type", "application/json"),
                (BINDING_HEADER, binding_value(request_signature)),
            ]
        ),
    )
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(private=key)).sign(
        view,
        key_id=city,
        created=created,
        expires=expires,
        nonce=new_nonce(),
        label=LABEL,
        covered_component_ids=RESPONSE_COMPONENTS,
        body=body,
    )
    return view.headers


@dataclass(frozen=True)
class _Parsed:
    label: str
    city: str
    created: int
    expires: int
    nonce: str
    signature: bytes
    covered: tuple[str, ...] = ()


def _parse(headers: Headers) -> _Parsed:
    """Read the signature's parameters before any key is chosen; enforce the protocol's policy."""
    raw_input, raw_signature = headers.get("Signature-Input"), headers.get("Signature")
    if not raw_input or not raw_signature:
        raise SignatureRejected(401, "missing Signature-Input or Signature")
    try:
        inputs = cast(dict[str, Any], http_sf.parse(raw_input.encode(), tltype="dictionary"))
        signatures = cast(dict[str, Any], http_sf.parse(raw_signature.encode(), tltype="dictionary"))
    except Exception:
        raise SignatureRejected(401, "malformed Signature-Input or Signature") from None
    if len(inputs) != 1 or set(inputs) != set(signatures):
        raise SignatureRejected(401, "exactly one signature is expected")
    (label,) = inputs
    members, params = inputs[label]
    covered = tuple(str(m[0]) for m in members) if isinstance(members, list) else ()
    signature = signatures[label][0]
    city, created, expires, nonce = (params.get(k) for k in ("keyid", "created", "expires", "nonce"))
    if not isinstance(signature, bytes):
        raise SignatureRejected(401, "the signature is not a byte sequence")
    if params.get("alg", "ed25519") != "ed25519":
        raise SignatureRejected(401, "alg must be ed25519")
    if not isinstance(city, str):
        raise SignatureRejected(401, "keyid is missing")
    if type(created) is not int or type(expires) is not int:
        raise SignatureRejected(401, "created and expires are required integers")
    if not created < expires <= created + MAX_LIFETIME_S:
        raise SignatureRejected(401, f"expires must be after created and at most {MAX_LIFETIME_S} s later")
    if not isinstance(nonce, str) or not NONCE_MIN <= len(nonce) <= NONCE_MAX:
        raise SignatureRejected(401, f"nonce is required ({NONCE_MIN} to {NONCE_MAX} characters)")
    return _Parsed(label, city, created, expires, nonce, signature, covered)


def _verify(
    message: RequestView | ResponseView,
    parsed: _Parsed,
    keys: Iterable[tuple[str, Ed25519PublicKey]],
    required: tuple[str, ...],
    body: bytes,
    max_age_s: int,
    skew_s: int,
) -> Verified:
    reason = "no key of this city is valid at the signature's creation time"
    for key_id, public in keys:
        verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(public))
        verifier.max_clock_skew = timedelta(seconds=skew_s)
        try:
            verifier.verify(
                message, max_age=timedelta(seconds=max_age_s), require_components=required, body=body
            )
        except InvalidSignature as exc:
            reason = str(exc) or "invalid signature"
            continue
        return Verified(parsed.city, key_id, parsed.nonce, parsed.created, parsed.expires, parsed.signature)
    raise SignatureRejected(401, reason)


KeyLookup = Callable[[str, datetime], list[tuple[str, Ed25519PublicKey]] | None]
"""city, created → the (key id, key) pairs valid then; None when the city is unknown."""


def verify_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    keys_of: KeyLookup,
    *,
    max_age_s: int = MAX_LIFETIME_S,
    skew_s: int = 5,
) -> Verified:
    parsed = _parse(headers)
    keys = keys_of(parsed.city, datetime.fromtimestamp(parsed.created, UTC))
    if keys is None:
        raise SignatureRejected(403, f"unknown city {parsed.city!r}")
    required = TARGET_URI_COMPONENTS if "@target-uri" in parsed.covered else REQUEST_COMPONENTS
    return _verify(RequestView(method, url, headers), parsed, keys, required, body, max_age_s, skew_s)


def verify_response(
    status: int,
    headers: Headers,
    body: bytes,
    expected_city: str,
    keys_of: KeyLookup,
    request_signature: bytes,
    *,
    skew_s: int = 5,
) -> Verified:
    """Verify an answer and that it answers *our* request (the binding header is signed)."""
    parsed = _parse(headers)
    if parsed.city != expected_city:
        raise SignatureRejected(401, f"answer signed by {parsed.city!r}, not {expected_city!r}")
    if headers.get(BINDING_HEADER) != binding_value(request_signature):
        raise SignatureRejected(401, "the answer is not bound to our request's signature")
    keys = keys_of(parsed.city, datetime.fromtimestamp(parsed.created, UTC)) or []
    view = ResponseView(status, headers)
    return _verify(view, parsed, keys, RESPONSE_COMPONENTS, body, MAX_LIFETIME_S, skew_s)


def signature_of(headers: Headers) -> bytes:
    """The raw bytes of the (single) signature on a message we signed ourselves."""
    return _parse(headers).signature
