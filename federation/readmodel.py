"""What we answer from: who is housed or subsidised here and who owns property above the threshold,
indexed by each peer's linkage hash.

Two sources. (1) Our own events (`federation.index.TenantIndex`): a member of a household that
eligibility registered, whose per-peer hash the intake gave us (`HouseholdSubjects`), holds subsidised
housing here. Our events name people by member UUID only, never by ID number, so per-peer hashes cannot
be derived from them (see contracts.federation). (2) A data file (`FEDERATION_DATA_FILE`, YAML:
`subjects:` with `id_number` and the three categories, or `id_hashes: {<asking city>: <linkage hash>}`,
already hashed) for what our events do not carry yet (subsidy, property): numbers are hashed once per
peer at start-up and dropped. The demo cities' files hold
fictitious numbers only. The file wins where both know a subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from federation.domain import CATEGORIES
from federation.linkage import id_hash
from federation.peers import Directory

Status = dict[str, bool | None]
UNKNOWN_SUBJECT: Status = dict.fromkeys(CATEGORIES, False)
"""A subject not in our registers: none of the categories holds here (our registers are complete)."""


HOUSED: Status = {
    "holds_subsidised_housing": True,
    "receives_housing_subsidy": None,
    "owns_property_over_threshold": None,
}
"""A member of a household registered here (from our own events): housed; the rest is not ours to say."""


@dataclass
class StatusBook:
    by_peer: dict[str, dict[str, Status]] = field(default_factory=dict)
    tenants: dict[tuple[str, str], Status] = field(default_factory=dict)
    """(peer, hash) → status, kept by `federation.index.TenantIndex` from our own events."""

    def status(self, peer: str, subject_hash: str) -> Status:
        known = self.by_peer.get(peer, {}).get(subject_hash)
        if known is not None:
            return known
        return self.tenants.get((peer, subject_hash), UNKNOWN_SUBJECT)

    def add(self, directory: Directory, id_number: str, status: Status) -> None:
        for code, peer in directory.peers.items():
            if peer.linkage_key is not None:
                self.by_peer.setdefault(code, {})[id_hash(peer.linkage_key, id_number)] = status


def load_book(path: Path | None, directory: Directory) -> StatusBook:
    book = StatusBook()
    if path is None:
        return book
    document: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    for entry in document.get("subjects", []):
        status: Status = {name: entry.get(name) for name in CATEGORIES}
        if "id_number" in entry:
            book.add(directory, str(entry["id_number"]), status)
        for peer, hashed in (entry.get("id_hashes") or {}).items():
            book.by_peer.setdefault(str(peer), {})[str(hashed)] = status
    return book
