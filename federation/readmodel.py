"""What we answer from: who is housed or subsidised here and who owns property above the threshold,
indexed by each peer's linkage hash.

Two sources. (1) Our own registers (`federation.index.TenantIndex`): eligibility, where the ID numbers
are, sends every household's members hashed for each peer under every usable linkage key, with the
three categories (`cross-region-register-updated`). (2) A data file (`FEDERATION_DATA_FILE`, YAML:
`subjects:` with `id_number` and the three categories, or `id_hashes: {<asking city>: <linkage hash>}`,
already hashed): the registers of the demo peer cities, which have no eligibility of their own.
Numbers are hashed once per peer and usable key at start-up and dropped. The demo files hold
fictitious numbers only. The file wins where both know a subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from contracts.federation import CATEGORIES
from federation.peers import Directory

Status = dict[str, bool | None]
UNKNOWN_SUBJECT: Status = dict.fromkeys(CATEGORIES, False)
"""A subject not in our registers: none of the categories holds here (our registers are complete)."""


@dataclass
class StatusBook:
    by_peer: dict[str, dict[str, Status]] = field(default_factory=dict)
    register: dict[tuple[str, str], Status] = field(default_factory=dict)
    """(peer, hash) → status, kept by `federation.index.TenantIndex` from our own registers."""

    def status(self, peer: str, subject_hash: str) -> Status:
        known = self.by_peer.get(peer, {}).get(subject_hash)
        if known is not None:
            return known
        return self.register.get((peer, subject_hash), UNKNOWN_SUBJECT)

    def add(self, directory: Directory, id_number: str, status: Status, moment: datetime) -> None:
        """A person of the data file, under every linkage key each peer may ask with from `moment`."""
        for code, peer in directory.peers.items():
            for key in peer.linkage_keys:
                if not key.expired_at(moment):
                    self.by_peer.setdefault(code, {})[key.hash(id_number)] = status


def load_book(path: Path | None, directory: Directory, moment: datetime) -> StatusBook:
    book = StatusBook()
    if path is None:
        return book
    document: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    for entry in document.get("subjects", []):
        status: Status = {name: entry.get(name) for name in CATEGORIES}
        if "id_number" in entry:
            book.add(directory, str(entry["id_number"]), status, moment)
        for peer, hashed in (entry.get("id_hashes") or {}).items():
            book.by_peer.setdefault(str(peer), {})[str(hashed)] = status
    return book
