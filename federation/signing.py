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
  signs it, binding the answer to the one request it answers (the library cannot do `;req`);
- "now" (the `created` of what we sign, the age, skew and expiry of what we verify, also on the
  library's path) is the caller's clock (`now=`, `clock=`; by default the process's,
  `services.kit.clock`), never the system's read here.

Fast path. Parsing and re-serialising the structured fields through the library cost about half of
answering a query, so the common case is done here directly: when `Signature-Input`, `Signature` and
`Content-Digest` are each one field line in the *canonical* serialisation of RFC 8941/9651 (what
every conforming signer emits: one member, components without parameters, integer `created`/`expires`,
plain-string `keyid`/`alg`/`nonce`/`tag`), the received text of the inner list *is* its serialisation,
so the signature base is built from it without a parse/serialise round trip, with the same component
values and checks as the library (derived components of our URL are computed once by the library's own
resolver and cached). Anything else (parameters on components, other parameters, escapes, several
field lines, unusual spacing) goes through the library unchanged, so the fast path only ever decides
the cases it recognises exactly. `tests/federation/test_signing_fast_path.py` checks both paths agree on
hundreds of tampered and well-formed messages; answers are signed by composing the same canonical
text (the PROTOCOL.md vectors check it byte for byte).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import http_sf
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureComponentResolver,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.digests import ContentDigest
from http_sf.compat import Item

from services.kit.clock import Clock
from services.kit.clock import now as process_now

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
    """Ordered header field lines with case-insensitive access: the message interface the library needs.

    Lookups go through an index by lower-cased name, built on first use after a change: a request's
    headers are looked up a dozen times while it is answered."""

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = list(fields)
        self._index: dict[str, list[str]] | None = None

    @property
    def fields(self) -> list[tuple[str, str]]:
        return self._fields

    @fields.setter
    def fields(self, value: list[tuple[str, str]]) -> None:
        self._fields, self._index = value, None

    def _lines(self) -> dict[str, list[str]]:
        if self._index is None:
            index: dict[str, list[str]] = {}
            for name, value in self._fields:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return self._index

    def lines(self, name: str) -> list[str]:
        """Every field line of `name`, in order (empty when absent)."""
        return self._lines().get(name.lower(), [])

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._fields))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lines()

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self._fields.append((name, value))
        self._index = None

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self.fields = [(n, v) for n, v in self._fields if n.lower() != lowered]

    def get(self, name: str) -> str | None:
        values = self._lines().get(name.lower())
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
    created = (now or process_now()).replace(microsecond=0)
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
    """The headers of a signed request (Content-Type, Content-Digest, Signature-Input, Signature);
    `created` is `now`, by default the process's clock (`services.kit.clock.now`)."""
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
    """The headers of a signed answer, composed directly in canonical form (no parse/serialise):
    the same bytes the library produces for these components and parameters (PROTOCOL.md §9)."""
    created, expires = _times(now, MAX_LIFETIME_S)
    nonce = new_nonce()
    if not _SAFE_STRING.fullmatch(city) or not _SAFE_STRING.fullmatch(nonce):
        raise ValueError("city and nonce must be plain structured-field strings")
    digest = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    binding = binding_value(request_signature)
    params = (
        f'("@status" "content-digest" "federation-request-signature");created={int(created.timestamp())}'
        f';keyid="{city}";alg="ed25519";expires={int(expires.timestamp())};nonce="{nonce}"'
    )
    base = (
        f'"@status": {status}\n"content-digest": {digest}\n'
        f'"federation-request-signature": {binding}\n"@signature-params": {params}'
    )
    signature = base64.b64encode(key.sign(base.encode())).decode()
    return Headers(
        [
            ("Content-Type", "application/json"),
            (BINDING_HEADER, binding),
            ("Content-Digest", digest),
            ("Signature-Input", f"{LABEL}={params}"),
            ("Signature", f"{LABEL}=:{signature}:"),
        ]
    )


# Canonical serialisations (RFC 9651 §4.1) of what conforming signers send; see the module docstring.
_SF_KEY = r"[a-z*][a-z0-9_\-.*]{0,63}"
_SF_INT = r"(?:0|[1-9][0-9]{0,14})"
_SF_STRING_BODY = r"[\x20\x21\x23-\x5b\x5d-\x7e]*"  # printable ASCII without '"' and '\' (no escapes)
_SAFE_STRING = re.compile(_SF_STRING_BODY)
_COMPONENT = r'"@?[a-z0-9][a-z0-9_\-.]*"'
_PARAM = re.compile(rf';(created|expires)=({_SF_INT})|;(keyid|alg|nonce|tag)="({_SF_STRING_BODY})"')
_SIGNATURE_INPUT = re.compile(
    rf"({_SF_KEY})=(\((?:{_COMPONENT}(?: {_COMPONENT})*)?\)"
    rf'(?:;(?:created|expires)={_SF_INT}|;(?:keyid|alg|nonce|tag)="{_SF_STRING_BODY}")*)'
)
_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_SIGNATURE = re.compile(rf"({_SF_KEY})=:({_B64}):")
_DIGEST = re.compile(rf"(sha-256|sha-512)=:({_B64}):")
_HASHERS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


@dataclass(frozen=True)
class _Parsed:
    label: str
    city: str
    created: int
    expires: int
    nonce: str
    signature: bytes
    covered: tuple[str, ...] = ()
    canonical: str | None = None
    """The inner list exactly as received, when it is in canonical form (the fast path's input)."""


def _one_line(headers: Headers, name: str) -> str | None:
    """The single field line `name`, trimmed as RFC 9421 §2.1 does; None when absent or repeated
    (or obs-folded): those go through the library."""
    lines = headers.lines(name)
    if len(lines) != 1 or "\r\n" in lines[0]:
        return None
    return lines[0].strip(" \t")


def _parse_fast(headers: Headers) -> _Parsed | None:
    raw_input, raw_signature = _one_line(headers, "Signature-Input"), _one_line(headers, "Signature")
    if raw_input is None or raw_signature is None:
        return None
    matched_input = _SIGNATURE_INPUT.fullmatch(raw_input)
    matched_signature = _SIGNATURE.fullmatch(raw_signature)
    if matched_input is None or matched_signature is None:
        return None
    label, inner = matched_input.groups()
    if matched_signature.group(1) != label:
        return None
    close = inner.index(")")
    params: dict[str, str | int] = {}
    for m in _PARAM.finditer(inner, close + 1):
        name = m.group(1) or m.group(3)
        if name in params:
            return None  # a repeated parameter: the library decides (last one wins when parsing)
        params[name] = int(m.group(2)) if m.group(1) else m.group(4)
    covered = tuple(c[1:-1] for c in inner[1:close].split(" ")) if close > 1 else ()
    try:
        signature = base64.b64decode(matched_signature.group(2), validate=True)
    except binascii.Error:  # pragma: no cover - the pattern admits only valid base64
        return None
    return _policy(label, covered, params, signature, inner)


def _parse_library(headers: Headers) -> _Parsed:
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
    return _policy(label, covered, params, signatures[label][0], None)


def _policy(
    label: str, covered: tuple[str, ...], params: dict[str, Any], signature: Any, canonical: str | None
) -> _Parsed:
    """The protocol's rules on the signature's parameters, before any key is chosen."""
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
    return _Parsed(label, city, created, expires, nonce, signature, covered, canonical)


def _parse(headers: Headers) -> _Parsed:
    """Read the signature's parameters before any key is chosen; enforce the protocol's policy."""
    return _parse_fast(headers) or _parse_library(headers)


class _Fallback(Exception):
    """The fast path does not decide this message: verify it with the library."""


@functools.lru_cache(maxsize=256)
def _derived(method: str, url: str, name: str) -> str | None:
    """A request's derived component as the library's resolver computes it (with its checks); None
    when the library would refuse it. Cached: our URL and method are the same for every request."""
    try:
        value = HTTPSignatureComponentResolver(RequestView(method, url, Headers())).resolve(Item(name))
    except Exception:
        return None
    if not isinstance(value, str) or (
        value and (not value.isprintable() or value.startswith(" ") or value.endswith(" "))
    ):
        return None
    return value


def _component(message: RequestView | ResponseView, headers: Headers, name: str) -> str:
    if name.startswith("@"):
        if isinstance(message, ResponseView):
            if name != "@status":
                raise _Fallback
            return str(message.status_code)
        value = _derived(message.method, message.url, name)
        if value is None:
            raise _Fallback
        return value
    value = _one_line(headers, name)
    if value is None or "\r" in value or "\n" in value:
        raise _Fallback
    if value and not value.replace("\t", " ").isprintable():
        raise _Fallback
    return value


def _verify_fast(
    message: RequestView | ResponseView,
    parsed: _Parsed,
    keys: Iterable[tuple[str, Ed25519PublicKey]],
    required: tuple[str, ...],
    body: bytes,
) -> Verified:
    """What `HTTPMessageVerifier.verify` decides, for a canonical single signature without component
    parameters (its times already checked, `_check_times`); raises `_Fallback` for anything else and
    `SignatureRejected` with the library's reason."""
    assert parsed.canonical is not None
    if len(set(parsed.covered)) != len(parsed.covered):
        raise _Fallback
    headers = message.headers
    values = [_component(message, headers, name) for name in parsed.covered]
    lines = [f'"{name}": {value}' for name, value in zip(parsed.covered, values, strict=True)]
    lines.append(f'"@signature-params": {parsed.canonical}')
    base = "\n".join(lines)
    if not base.isascii():
        raise _Fallback
    data = base.encode()
    reason = "no key of this city is valid at the signature's creation time"
    for key_id, public in keys:
        try:
            public.verify(parsed.signature, data)
        except CryptoInvalidSignature:
            reason = "invalid signature"
            continue
        for name in required:
            if name not in parsed.covered:
                raise SignatureRejected(401, f'Required component "{name}" was not covered by the signature')
        digest_covered = "content-digest" in parsed.covered
        if digest_covered:
            _check_digest(values[parsed.covered.index("content-digest")], body)
        elif body or "content-digest" in headers:
            raise SignatureRejected(401, "The message body requires a signed Content-Digest")
        return Verified(parsed.city, key_id, parsed.nonce, parsed.created, parsed.expires, parsed.signature)
    raise SignatureRejected(401, reason)


def _check_digest(value: str, body: bytes) -> None:
    matched = _DIGEST.fullmatch(value)
    if matched is None:  # several members, parameters, ...: the library's parser decides
        try:
            ContentDigest.verify(value, body)
        except InvalidSignature as exc:
            raise SignatureRejected(401, str(exc)) from None
        return
    algorithm, encoded = matched.groups()
    hasher = _HASHERS[algorithm]
    claimed = base64.b64decode(encoded)
    if len(claimed) != hasher().digest_size:
        raise SignatureRejected(401, f"Invalid {algorithm} digest length")
    if not hmac.compare_digest(claimed, hasher(body).digest()):
        raise SignatureRejected(401, "Content-Digest does not match the message body")


def _check_times(parsed: _Parsed, max_age_s: int, skew_s: int, moment: datetime) -> None:
    """The library's created/expires/age checks, with its reasons, against `moment` (the caller's
    clock): the library would read the system's clock. Done once, before either path."""
    now = moment.timestamp()
    if parsed.created > now + skew_s:
        raise SignatureRejected(401, 'Signature "created" parameter is set to a time in the future')
    if parsed.expires < now - skew_s:
        raise SignatureRejected(401, 'Signature "expires" parameter is set to a time in the past')
    if parsed.created + max_age_s < now - skew_s:
        raise SignatureRejected(
            401, f"Signature age exceeds maximum allowable age {timedelta(seconds=max_age_s)}"
        )


class _TimesCheckedVerifier(HTTPMessageVerifier):
    """The library's verifier without its own time checks, which read the system's clock: `_verify`
    has checked `created` and `expires` against the caller's clock (`_check_times`), from the same
    parameters (`_policy` requires both, as integers)."""

    def validate_created_and_expires(self, sig_input: Any, max_age: timedelta | None = None) -> None:
        return None


def _verify_library(
    message: RequestView | ResponseView,
    parsed: _Parsed,
    keys: Iterable[tuple[str, Ed25519PublicKey]],
    required: tuple[str, ...],
    body: bytes,
) -> Verified:
    reason = "no key of this city is valid at the signature's creation time"
    for key_id, public in keys:
        verifier = _TimesCheckedVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(public))
        try:
            verifier.verify(message, require_components=required, body=body)
        except InvalidSignature as exc:
            reason = str(exc) or "invalid signature"
            continue
        return Verified(parsed.city, key_id, parsed.nonce, parsed.created, parsed.expires, parsed.signature)
    raise SignatureRejected(401, reason)


def _verify(
    message: RequestView | ResponseView,
    parsed: _Parsed,
    keys: Iterable[tuple[str, Ed25519PublicKey]],
    required: tuple[str, ...],
    body: bytes,
    max_age_s: int,
    skew_s: int,
    moment: datetime,
    *,
    fast: bool = True,
) -> Verified:
    keys = list(keys)
    _check_times(parsed, max_age_s, skew_s, moment)
    if fast and parsed.canonical is not None:
        try:
            return _verify_fast(message, parsed, keys, required, body)
        except _Fallback:
            pass
    return _verify_library(message, parsed, keys, required, body)


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
    fast: bool = True,
    clock: Clock | None = None,
) -> Verified:
    """`fast=False` forces the library path (the fast path's tests compare the two). `created`,
    `expires` and the age are checked against `clock` (default: the process's, `services.kit.clock`);
    the key is chosen by validity at `created`."""
    moment = (clock or process_now)()
    parsed = _parse(headers) if fast else _parse_library(headers)
    keys = keys_of(parsed.city, datetime.fromtimestamp(parsed.created, UTC))
    if keys is None:
        raise SignatureRejected(403, f"unknown city {parsed.city!r}")
    required = TARGET_URI_COMPONENTS if "@target-uri" in parsed.covered else REQUEST_COMPONENTS
    view = RequestView(method, url, headers)
    return _verify(view, parsed, keys, required, body, max_age_s, skew_s, moment, fast=fast)


def verify_response(
    status: int,
    headers: Headers,
    body: bytes,
    expected_city: str,
    keys_of: KeyLookup,
    request_signature: bytes,
    *,
    skew_s: int = 5,
    fast: bool = True,
    clock: Clock | None = None,
) -> Verified:
    """Verify an answer and that it answers *our* request (the binding header is signed); times are
    checked against `clock` (default: the process's)."""
    moment = (clock or process_now)()
    parsed = _parse(headers) if fast else _parse_library(headers)
    if parsed.city != expected_city:
        raise SignatureRejected(401, f"answer signed by {parsed.city!r}, not {expected_city!r}")
    if headers.get(BINDING_HEADER) != binding_value(request_signature):
        raise SignatureRejected(401, "the answer is not bound to our request's signature")
    keys = keys_of(parsed.city, datetime.fromtimestamp(parsed.created, UTC)) or []
    view = ResponseView(status, headers)
    return _verify(view, parsed, keys, RESPONSE_COMPONENTS, body, MAX_LIFETIME_S, skew_s, moment, fast=fast)


def signature_of(headers: Headers) -> bytes:
    """The raw bytes of the (single) signature on a message we signed ourselves."""
    return _parse(headers).signature
