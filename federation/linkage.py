"""The subject of a query: a keyed hash of the normalised ID number, never the number.

Each pair of cities shares its own linkage key, so a hash sent to Guangzhou cannot be matched against
one sent to Dongguan, and neither peer can invert it without the key. Normalisation is part of the
protocol (PROTOCOL.md): both sides must hash the same string for the same person.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

MIN_KEY_BYTES = 32


def normalise_id_number(id_number: str) -> str:
    """Upper case, every whitespace character removed (ID cards end in a digit or `X`/`x`)."""
    return "".join(id_number.split()).upper()


def id_hash(linkage_key: bytes, id_number: str) -> str:
    """Lowercase hex HMAC-SHA256 of the UTF-8 normalised ID number under the pair's key."""
    if len(linkage_key) < MIN_KEY_BYTES:
        raise ValueError(f"a linkage key has at least {MIN_KEY_BYTES} bytes")
    return hmac.new(linkage_key, normalise_id_number(id_number).encode(), hashlib.sha256).hexdigest()


def load_linkage_key(path: Path) -> bytes:
    """The key file holds the key as hex (64+ hex characters, surrounding whitespace ignored)."""
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a linkage key has at least {MIN_KEY_BYTES} bytes")
    return key
