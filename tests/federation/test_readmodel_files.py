"""The answering data file may name subjects by ID number (hashed per peer at start-up) or, as the
synthetic population writes it, by the per-peer linkage hashes already computed."""

from __future__ import annotations

from pathlib import Path

from federation.peers import Directory
from federation.readmodel import UNKNOWN_SUBJECT, load_book

HASH_FS = "ab" * 32
HASH_OTHER = "cd" * 32


def test_subjects_already_hashed_per_peer_are_answered_to_that_peer_only(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        "subjects:\n"
        f"  - id_hashes: {{CN-FS: '{HASH_FS}'}}\n"
        "    holds_subsidised_housing: false\n"
        "    receives_housing_subsidy: null\n"
        "    owns_property_over_threshold: true\n"
    )
    book = load_book(data, Directory(own="CN-GZ", cities={}))
    assert book.status("CN-FS", HASH_FS)["owns_property_over_threshold"] is True
    assert book.status("CN-FS", HASH_FS)["holds_subsidised_housing"] is False
    assert book.status("CN-DG", HASH_FS) == UNKNOWN_SUBJECT
    assert book.status("CN-FS", HASH_OTHER) == UNKNOWN_SUBJECT
