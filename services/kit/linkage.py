"""Linkage keys: the keyed hash that names a person to one peer city, and the keyring that rotates them.

The subject of a cross-city query is a keyed hash of the normalised ID number, never the number. Each
pair of cities shares its own linkage key, so a hash sent to Guangzhou cannot be matched against one
sent to Dongguan, and neither peer can invert it without the key. Normalisation is part of the
protocol (federation/PROTOCOL.md): both sides must hash the same string for the same person.

Two services use the keys, each for its own side: eligibility (the only service that sees ID numbers)
hashes its members for the checks it asks and for the register federation answers from; federation
hashes the demo peers' data files. Both read the same keyring: the peer directory's entries
(`FEDERATION_PEERS_FILE`, PROTOCOL.md §8), each with its `linkage_keys` and their validity windows.

Rotation, without a change to the wire: a pair agrees on a new key whose window begins before the old
one's ends. The asking side hashes with the newest key valid at the moment it asks (`current`); the
answering side indexes its people under every key not yet expired (`usable`), so a query under the old
or the new key matches during the overlap, whichever side switches first.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

MIN_KEY_BYTES = 32
LEGACY_KEY_ID = "1"
"""Key id of a directory entry's single `linkage_key_file` (no window: valid until replaced)."""


def normalise_id_number(id_number: str) -> str:
    """Upper case, every whitespace character removed (ID cards end in a digit or `X`/`x`)."""
    return "".join(id_number.split()).upper()


def id_hash(linkage_key: bytes, id_number: str) -> str:
    """Lowercase hex HMAC-SHA256 of the UTF-8 normalised ID number under the pair's key."""
    if len(linkage_key) < MIN_KEY_BYTES:
        raise ValueError(f"a linkage key has at least {MIN_KEY_BYTES} bytes")
    return hmac.digest(linkage_key, normalise_id_number(id_number).encode(), "sha256").hex()


def load_linkage_key(path: Path) -> bytes:
    """The key file holds the key as hex (64+ hex characters, surrounding whitespace ignored)."""
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a linkage key has at least {MIN_KEY_BYTES} bytes")
    return key


@dataclass(frozen=True)
class LinkageKey:
    """One key of one pair of cities, valid in `[not_before, not_after)` (None: unbounded)."""

    city: str
    key_id: str
    secret: bytes = field(repr=False)
    not_before: datetime | None = None
    not_after: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        return (self.not_before is None or self.not_before <= moment) and (
            self.not_after is None or moment < self.not_after
        )

    def expired_at(self, moment: datetime) -> bool:
        return self.not_after is not None and moment >= self.not_after

    def hash(self, id_number: str) -> str:
        return id_hash(self.secret, id_number)


@dataclass(frozen=True)
class Subject:
    """A person named to one peer city: the hash, and which key made it."""

    city: str
    key_id: str
    id_hash: str


@dataclass(frozen=True)
class Keyring:
    """Every linkage key we share with each peer city, old, current and next."""

    keys: dict[str, tuple[LinkageKey, ...]] = field(default_factory=dict)
    _answers: dict[tuple[str, str], tuple[datetime, datetime, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """What `current` and `usable` answered, by (question, city), with the span of moments between two
    of the city's window boundaries over which the answer cannot change: they are asked for every
    member of every registration, and re-deriving them each time was a third of a registration's CPU."""

    @property
    def cities(self) -> list[str]:
        return sorted(city for city, keys in self.keys.items() if keys)

    def current(self, city: str, moment: datetime) -> LinkageKey | None:
        """The key to ask `city` with at `moment`: of those valid then, the one that began last."""
        found: LinkageKey | None = self._remembered("current", city, moment, self._current)
        return found

    def usable(self, city: str, moment: datetime) -> tuple[LinkageKey, ...]:
        """The keys `city` may ask us with from `moment` on: valid now or later, not yet expired."""
        found: tuple[LinkageKey, ...] = self._remembered("usable", city, moment, self._usable)
        return found

    def _current(self, city: str, moment: datetime) -> LinkageKey | None:
        valid = [key for key in self.keys.get(city, ()) if key.valid_at(moment)]
        if not valid:
            return None
        return max(valid, key=lambda key: (key.not_before is not None, key.not_before or moment, key.key_id))

    def _usable(self, city: str, moment: datetime) -> tuple[LinkageKey, ...]:
        return tuple(key for key in self.keys.get(city, ()) if not key.expired_at(moment))

    def _remembered(self, question: str, city: str, moment: datetime, answer: Any) -> Any:
        known = self._answers.get((question, city))
        if known is not None and known[0] <= moment < known[1]:
            return known[2]
        found = answer(city, moment)
        keys = self.keys.get(city, ()) if city else tuple(k for ks in self.keys.values() for k in ks)
        edges = [e for k in keys for e in (k.not_before, k.not_after) if e is not None]
        since = max((e for e in edges if e <= moment), default=datetime.min.replace(tzinfo=moment.tzinfo))
        until = min((e for e in edges if e > moment), default=datetime.max.replace(tzinfo=moment.tzinfo))
        self._answers[(question, city)] = (since, until, found)
        return found

    def basis(self, moment: datetime) -> tuple[str, ...]:
        """`city/key_id` of every usable key: when it changes (a key added or expired), the hashes
        made under the previous basis no longer cover what peers may send."""
        return tuple(sorted(f"{k.city}/{k.key_id}" for city in self.keys for k in self.usable(city, moment)))

    def ask(self, id_number: str, cities: list[str], moment: datetime) -> list[Subject]:
        """The person's subject for each of `cities` we hold a current key for."""
        out = []
        for city in cities:
            key = self.current(city, moment)
            if key is not None:
                out.append(Subject(city, key.key_id, key.hash(id_number)))
        return out

    def register(self, id_number: str, moment: datetime) -> list[Subject]:
        """The person's subject under every usable key of every city: what answering needs indexed."""
        hashes = self.register_hashes(id_number, moment)
        return [Subject(key.city, key.key_id, digest) for key, digest in hashes]

    def register_hashes(self, id_number: str, moment: datetime) -> list[tuple[LinkageKey, str]]:
        """`register` without a `Subject` per hash: each usable key and the person's hash under it,
        the number normalised once (a city's register holds members x peers x keys of them)."""
        number = normalise_id_number(id_number).encode()
        return [(key, hmac.digest(key.secret, number, "sha256").hex()) for key in self.registering(moment)]

    def registering(self, moment: datetime) -> tuple[LinkageKey, ...]:
        """Every usable key of every city, by city (`usable` of each, remembered alike)."""
        found: tuple[LinkageKey, ...] = self._remembered("registering", "", moment, self._registering)
        return found

    def _registering(self, _: str, moment: datetime) -> tuple[LinkageKey, ...]:
        for key in (k for keys in self.keys.values() for k in keys):
            if len(key.secret) < MIN_KEY_BYTES:
                raise ValueError(f"a linkage key has at least {MIN_KEY_BYTES} bytes")
        return tuple(key for city in self.cities for key in self.usable(city, moment))


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"validity times need a time zone: {value!r}")
    return moment


def entry_keys(city: str, entry: dict[str, Any], base: Path) -> tuple[LinkageKey, ...]:
    """The linkage keys of one peer directory entry: `linkage_keys` (each `key_id`, `file`,
    `not_before`, `not_after`), or the older single `linkage_key_file` (key id "1", no window)."""
    keys = [
        LinkageKey(
            city,
            str(item["key_id"]),
            load_linkage_key(base / str(item["file"])),
            _moment(item.get("not_before")),
            _moment(item.get("not_after")),
        )
        for item in entry.get("linkage_keys") or []
    ]
    if entry.get("linkage_key_file"):
        keys.append(LinkageKey(city, LEGACY_KEY_ID, load_linkage_key(base / str(entry["linkage_key_file"]))))
    ids = [key.key_id for key in keys]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{city}: a linkage key id repeats")
    return tuple(keys)


def load_keyring(path: Path, own: str) -> Keyring:
    """The keyring of city `own` from its peer directory (YAML `cities:`); files relative to it.
    A bad entry stops the process at start-up, never a query."""
    document = yaml.safe_load(path.read_text()) or {}
    keys = {
        str(code): entry_keys(str(code), entry or {}, path.parent)
        for code, entry in (document.get("cities") or {}).items()
        if str(code) != own
    }
    return Keyring({city: found for city, found in keys.items() if found})
