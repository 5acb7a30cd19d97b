"""The answering data file may name subjects by ID number (hashed per peer at start-up, under every
linkage key the peer may still ask with) or, as the synthetic population writes it, by the per-peer
linkage hashes already computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from federation.peers import Directory, Peer
from federation.readmodel import UNKNOWN_SUBJECT, load_book
from services.kit.linkage import LinkageKey

HASH_FS = "ab" * 32
HASH_OTHER = "cd" * 32
T0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
"""The moment the book is loaded at: nothing here depends on the machine's date."""


def test_subjects_already_hashed_per_peer_are_answered_to_that_peer_only(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        "subjects:\n"
        f"  - id_hashes: {{CN-FS: '{HASH_FS}'}}\n"
        "    holds_subsidised_housing: false\n"
        "    receives_housing_subsidy: null\n"
        "    owns_property_over_threshold: true\n"
    )
    book = load_book(data, Directory(own="CN-GZ", cities={}), T0)
    assert book.status("CN-FS", HASH_FS)["owns_property_over_threshold"] is True
    assert book.status("CN-FS", HASH_FS)["holds_subsidised_housing"] is False
    assert book.status("CN-DG", HASH_FS) == UNKNOWN_SUBJECT
    assert book.status("CN-FS", HASH_OTHER) == UNKNOWN_SUBJECT


def test_id_numbers_are_hashed_under_every_key_not_expired_at_the_moment(tmp_path: Path) -> None:
    """During a rotation a peer may ask with the old key or the next one; a key whose window has
    ended by the moment the book is loaded is not indexed."""
    data = tmp_path / "data.yaml"
    data.write_text("subjects:\n  - id_number: DEMO-4406-0009\n    holds_subsidised_housing: true\n")
    day = timedelta(days=1)
    expired = LinkageKey("CN-FS", "2029", bytes(range(32)), T0 - 400 * day, T0 - day)
    current = LinkageKey("CN-FS", "2030", bytes(range(1, 33)), T0 - 30 * day, T0 + 30 * day)
    upcoming = LinkageKey("CN-FS", "2031", bytes(range(2, 34)), T0 + 10 * day, None)
    fs = Peer("CN-FS", "Foshan", "http://127.0.0.1:1", (), linkage_keys=(expired, current, upcoming))
    book = load_book(data, Directory(own="CN-GZ", cities={"CN-FS": fs}), T0)
    for key in (current, upcoming):
        assert book.status("CN-FS", key.hash("DEMO-4406-0009"))["holds_subsidised_housing"] is True
    assert book.status("CN-FS", expired.hash("DEMO-4406-0009")) == UNKNOWN_SUBJECT
    assert set(book.by_peer) == {"CN-FS"}
