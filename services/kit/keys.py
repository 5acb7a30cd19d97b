"""Ed25519 key files: PEM forms, loading, the JWK forms (`x`, the RFC 7638 thumbprint that names a
key), and the one atomic writer every key of the platform goes through (the federation's city keys
and demo set, the gateway's token and service-assertion keys, the bus's nkey seeds).

A key file is written whole or not at all (a temporary file renamed over it), and a private key is
created 0600 from its first byte: a reader never sees half a key, and nobody else ever reads a secret,
not even for a moment while it is being written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_x(key: Ed25519PublicKey) -> str:
    """The JWK `x` of a public key (base64url of its 32 raw bytes)."""
    return b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def key_id(key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint of the key's JWK: names a key (`kid`) without showing it."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": public_x(key)}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_file(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write `path` whole or not at all (a temporary file renamed over it); a secret is created 0600,
    never readable by others, not even for a moment, also when it replaces an older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(descriptor, "wb") as f:
        f.write(data)
    os.replace(temporary, path)
