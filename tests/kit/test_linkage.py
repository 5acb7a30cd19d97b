"""The linkage keyring: which key a check asks with, which keys the register is indexed under, and
how a rotation by overlapping windows moves from one to the other (services/kit/linkage.py)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from services.kit.linkage import Keyring, LinkageKey, id_hash, load_keyring

T0 = datetime(2027, 1, 1, tzinfo=UTC)
OLD = LinkageKey("CN-GZ", "2026", secrets.token_bytes(32), None, T0 + timedelta(days=30))
NEW = LinkageKey("CN-GZ", "2027", secrets.token_bytes(32), T0, None)
RING = Keyring({"CN-GZ": (OLD, NEW)})


def test_before_the_overlap_the_old_key_alone_asks_and_both_are_indexed() -> None:
    moment = T0 - timedelta(days=1)
    assert RING.current("CN-GZ", moment) == OLD
    assert RING.usable("CN-GZ", moment) == (OLD, NEW)  # the peer may switch the moment NEW begins


def test_inside_the_overlap_the_new_key_asks_and_both_still_match() -> None:
    moment = T0 + timedelta(days=1)
    assert RING.current("CN-GZ", moment) == NEW
    (subject,) = RING.ask("440604198507151234", ["CN-GZ"], moment)
    assert (subject.key_id, subject.id_hash) == ("2027", id_hash(NEW.secret, "440604198507151234"))
    assert {s.key_id for s in RING.register("440604198507151234", moment)} == {"2026", "2027"}


def test_after_the_old_window_its_hashes_leave_the_register_and_the_basis_changes() -> None:
    during, after = T0 + timedelta(days=1), T0 + timedelta(days=30)
    assert RING.usable("CN-GZ", after) == (NEW,)
    assert RING.basis(during) != RING.basis(after)
    assert RING.ask("x", ["CN-DG"], after) == []  # no key shared with Dongguan: no subject


@given(st.text(alphabet="0123456789Xx \t", min_size=1, max_size=30))
def test_a_number_hashes_the_same_however_it_is_spaced_or_cased(number: str) -> None:
    assert OLD.hash(number) == OLD.hash(number.upper().replace(" ", "").replace("\t", ""))


def write(tmp_path: Path, entry: dict[str, object]) -> Path:
    (tmp_path / "a.key").write_text(secrets.token_hex(32))
    (tmp_path / "b.key").write_text(secrets.token_hex(32))
    path = tmp_path / "peers.yaml"
    path.write_text(yaml.safe_dump({"cities": {"CN-FS": {"keys": []}, "CN-GZ": entry}}))
    return path


def test_the_directory_gives_windows_and_reads_a_single_key_file_as_key_1(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "linkage_keys": [{"key_id": "2027", "file": "b.key", "not_before": T0.isoformat()}],
            "linkage_key_file": "a.key",
        },
    )
    ring = load_keyring(path, "CN-FS")
    assert ring.cities == ["CN-GZ"]  # our own entry holds no key of ours with ourselves
    assert [k.key_id for k in ring.keys["CN-GZ"]] == ["2027", "1"]
    assert ring.current("CN-GZ", T0).key_id == "2027"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "entry",
    [
        {"linkage_keys": [{"key_id": "1", "file": "a.key"}], "linkage_key_file": "b.key"},
        {"linkage_keys": [{"key_id": "x", "file": "a.key", "not_before": "2027-01-01T00:00:00"}]},
    ],
    ids=["a repeated key id", "a window without a time zone"],
)
def test_a_bad_entry_stops_the_start(tmp_path: Path, entry: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        load_keyring(write(tmp_path, entry), "CN-FS")
