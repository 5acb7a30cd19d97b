"""Ed25519 keys: generation (`python -m federation keygen`), PEM loading and JWK form (the PEM forms
and the atomic writer are the kit's, `services.kit.keys`, shared with the gateway's assertion key).

A peer's public key appears in its directory entry as the JWK `x` value (base64url of the 32 raw
bytes): short enough to paste into YAML and exactly what `/federation/v1/keys` publishes.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.kit.keys import (
    b64url,
    b64url_decode,
    load_private_key,
    private_pem,
    public_pem,
    public_x,
    write_file,
)

__all__ = [
    "b64url",
    "b64url_decode",
    "keygen",
    "load_private_key",
    "private_pem",
    "public_from_x",
    "public_pem",
    "public_x",
    "write_file",
]


def public_from_x(x: str) -> Ed25519PublicKey:
    raw = b64url_decode(x)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def keygen(out_dir: Path, key_id: str) -> tuple[Path, str]:
    """Write `<key_id>.private.pem` (mode 0600) and `<key_id>.public.pem`; return the private path and `x`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_path = out_dir / f"{key_id}.private.pem"
    write_file(private_path, private_pem(key), secret=True)
    (out_dir / f"{key_id}.public.pem").write_bytes(public_pem(key.public_key()))
    return private_path, public_x(key.public_key())
