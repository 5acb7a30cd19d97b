"""The peer directory: which cities we talk to, their keys, what they may ask, how often.

Read from YAML (`FEDERATION_PEERS_FILE`, format in PROTOCOL.md). Keys carry validity windows so a
city can rotate: during an overlap both its old and new key verify, and the city switches its signing
key at any moment inside the window without coordination. Paths in the file are relative to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from federation.keys import public_from_x
from services.kit.linkage import LinkageKey, entry_keys


@dataclass(frozen=True)
class PeerKey:
    key_id: str
    x: str
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime

    def valid_at(self, moment: datetime) -> bool:
        return self.not_before <= moment < self.not_after


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int


@dataclass(frozen=True)
class Peer:
    code: str
    name: str
    base_url: str
    keys: tuple[PeerKey, ...]
    allowed_purposes: frozenset[str] = frozenset()
    rate_limit: RateLimit = RateLimit(10.0, 20)
    linkage_keys: tuple[LinkageKey, ...] = field(default=(), repr=False)
    """Our linkage keys with this city (services.kit.linkage: rotation by overlapping windows)."""

    def keys_valid_at(self, moment: datetime) -> list[PeerKey]:
        return [key for key in self.keys if key.valid_at(moment)]


@dataclass(frozen=True)
class Directory:
    own: str
    cities: dict[str, Peer]

    @property
    def peers(self) -> dict[str, Peer]:
        """Every city but our own."""
        return {code: peer for code, peer in self.cities.items() if code != self.own}

    def get(self, code: str) -> Peer | None:
        return self.peers.get(code)

    @property
    def me(self) -> Peer | None:
        return self.cities.get(self.own)


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"validity times need a time zone: {value!r}")
    return moment


def _peer(code: str, entry: dict[str, Any], base: Path) -> Peer:
    keys = tuple(
        PeerKey(
            key_id=str(k["key_id"]),
            x=str(k["x"]),
            public_key=public_from_x(str(k["x"])),
            not_before=_moment(k["not_before"]),
            not_after=_moment(k["not_after"]),
        )
        for k in entry.get("keys", [])
    )
    limit = entry.get("rate_limit") or {}
    return Peer(
        code=code,
        name=str(entry.get("name", code)),
        base_url=str(entry["base_url"]).rstrip("/"),
        keys=keys,
        allowed_purposes=frozenset(entry.get("allowed_purposes", [])),
        rate_limit=RateLimit(float(limit.get("per_second", 10)), int(limit.get("burst", 20))),
        linkage_keys=entry_keys(code, entry, base),
    )


def load_directory(path: Path, own: str) -> Directory:
    """Parse and validate the whole file at start-up: a bad entry stops the process, not a query."""
    document = yaml.safe_load(path.read_text()) or {}
    cities = {str(code): _peer(str(code), entry, path.parent) for code, entry in document["cities"].items()}
    return Directory(own=own, cities=cities)
