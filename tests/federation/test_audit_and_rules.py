"""The audit log's chain and its verifier; the pure rules (verdicts, circuit breaker, linkage)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest

from contracts.federation import CATEGORIES
from federation.application import FederationApp
from federation.audit import GENESIS, AuditWriter, _line_hash, verify_audit
from federation.domain import RegisterEntry, combine
from federation.outbound import CircuitBreaker
from federation.settings import FederationSettings
from services.kit.integrity import open_store
from services.kit.linkage import id_hash, normalise_id_number
from services.kit.store import ServiceApplication
from tests.support.processes import REPO


def store_entry(app: FederationApp, hashes: list[str] | None = None) -> None:
    """Two stored events (`Opened`, `Updated`): a register entry, as eligibility's update opens one."""
    entry = RegisterEntry(uuid4())
    subjects = [
        {"member_id": str(uuid4()), "city": "CN-GZ", "key_id": "1", "id_hash": h} for h in hashes or []
    ]
    entry.update(subjects, dict.fromkeys(CATEGORIES, False), date(2030, 6, 1))
    app.save(entry)


@pytest.fixture
def audit(tmp_path: Path, persistence: dict[str, str]) -> Path:
    app = FederationApp(FederationSettings(var_dir=tmp_path), persistence)
    path = tmp_path / "audit.jsonl"
    writer = AuditWriter(app, path)
    for n in range(3):
        store_entry(app, [f"{n:064x}"])
    assert writer.write_pending() == 3 * 2  # each entry: Opened, Updated
    store_entry(app)
    assert writer.write_pending() == 2, "the writer resumes after the last line"
    assert writer.write_pending() == 0
    app.close()
    return path


@pytest.fixture
def store(tmp_path: Path, persistence: dict[str, str]) -> Iterator[ServiceApplication]:
    """Federation's store opened as `verify-audit` opens it (a reader, from the service's environment)."""
    reader = open_store("federation", {**persistence, "VAR_DIR": str(tmp_path)})
    try:
        yield reader
    finally:
        reader.close()


def rechain(lines: list[str]) -> list[str]:
    """The lines with every hash recomputed: what anyone can do to an unkeyed chain."""
    prev, out = GENESIS, []
    for line in lines:
        entry = json.loads(line)
        entry.pop("hash")
        entry["prev"] = prev
        prev = _line_hash(prev, entry)
        out.append(json.dumps({**entry, "hash": prev}, sort_keys=True))
    return out


def test_an_untouched_log_verifies(audit: Path, store: ServiceApplication) -> None:
    report = verify_audit(audit)
    assert (report.lines, report.first_broken, report.store_last) == (8, None, None)
    report = verify_audit(audit, store)
    assert (report.lines, report.first_broken, report.store_last) == (8, None, 8)


def test_a_cut_off_end_is_named_only_against_the_store(audit: Path, store: ServiceApplication) -> None:
    lines = audit.read_text().splitlines()
    audit.write_text("\n".join(lines[:-2]) + "\n")
    assert verify_audit(audit).first_broken is None, "the chain alone cannot see its end"
    report = verify_audit(audit, store)
    assert (report.first_broken, report.cut_off, report.last_seq, report.store_last) == (7, True, 6, 8)
    assert "notifications 7 to 8" in report.reason


def test_a_rewritten_chain_is_named_against_the_store(audit: Path, store: ServiceApplication) -> None:
    """The chain is unkeyed: edited and rehashed throughout it is whole again, but no longer the store's."""
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    lines[3]["state_sha256"] = "0" * 64
    audit.write_text("\n".join(rechain([json.dumps(e) for e in lines])) + "\n")
    assert verify_audit(audit).first_broken is None
    report = verify_audit(audit, store)
    assert report.first_broken == 4 and "differs from the store's notification 4" in report.reason
    lines = audit.read_text().splitlines()
    audit.write_text("\n".join(rechain(lines[:2] + lines[3:])) + "\n")
    report = verify_audit(audit, store)
    assert report.first_broken == 3 and "notification 3 has no entry" in report.reason


def test_after_a_crash_the_writer_catches_up_and_the_end_is_whole_again(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    """A crash leaves the log behind the store, perhaps with a torn last line: until federation runs
    again that is indistinguishable from a cut (so named), and then the writer drops the torn line and
    appends from the store, so it does not stay one."""
    app = FederationApp(FederationSettings(var_dir=tmp_path), persistence)
    store = open_store("federation", {**persistence, "VAR_DIR": str(tmp_path)})
    path = tmp_path / "audit.jsonl"
    writer = AuditWriter(app, path)
    store_entry(app)
    assert writer.write_pending() == 2
    store_entry(app)  # saved, then the process dies before (or while) appending
    with path.open("a") as f:
        f.write('{"seq": 3, "topic": "fede')
    report = verify_audit(path, store)
    assert report.first_broken == 3 and "torn" in report.reason
    restarted = AuditWriter(app, path)
    assert restarted.write_pending() == 2
    report = verify_audit(path, store)
    assert (report.lines, report.first_broken, report.store_last) == (4, None, 4)
    store.close()
    app.close()


def test_the_verifier_waits_for_a_live_writer_before_calling_the_end_cut_off(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    app = FederationApp(FederationSettings(var_dir=tmp_path), persistence)
    store = open_store("federation", {**persistence, "VAR_DIR": str(tmp_path)})
    path = tmp_path / "audit.jsonl"
    writer = AuditWriter(app, path)
    store_entry(app)
    writer.write_pending()
    store_entry(app)  # the writer has not appended this one yet
    assert verify_audit(path, store).cut_off
    late = threading.Timer(0.5, writer.write_pending)
    late.start()
    try:
        report = verify_audit(path, store, grace_s=60)
    finally:
        late.join()
    assert (report.lines, report.first_broken) == (4, None)
    store.close()
    app.close()


def test_an_edited_entry_is_the_first_broken_one(audit: Path) -> None:
    lines = audit.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["state_sha256"] = "0" * 64
    lines[1] = json.dumps(entry, sort_keys=True)
    audit.write_text("\n".join(lines) + "\n")
    report = verify_audit(audit)
    assert report.first_broken == 2 and "hash" in report.reason


def test_a_removed_entry_breaks_the_next_one(audit: Path) -> None:
    lines = audit.read_text().splitlines()
    del lines[2]
    audit.write_text("\n".join(lines) + "\n")
    assert verify_audit(audit).first_broken == 3


def test_the_verifier_command_reports_the_first_broken_entry(
    audit: Path, tmp_path: Path, persistence: dict[str, str]
) -> None:
    command = [sys.executable, "-m", "federation", "verify-audit", str(audit)]
    env = {**os.environ, **persistence, "VAR_DIR": str(tmp_path)}  # the service's environment
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "up to the store's last notification 8" in done.stdout, done.stderr
    lines = audit.read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    audit.write_text("\n".join(lines) + "\n")
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "line 1" in done.stdout


T, F, N = True, False, None


@pytest.mark.parametrize(
    ("answers", "result"),
    [
        (
            [
                {
                    "holds_subsidised_housing": T,
                    "receives_housing_subsidy": F,
                    "owns_property_over_threshold": F,
                }
            ],
            "match",
        ),
        (
            [
                {
                    "holds_subsidised_housing": F,
                    "receives_housing_subsidy": F,
                    "owns_property_over_threshold": F,
                }
            ],
            "no_match",
        ),
        (
            [
                {
                    "holds_subsidised_housing": F,
                    "receives_housing_subsidy": F,
                    "owns_property_over_threshold": N,
                }
            ],
            "unverified",
        ),
        (
            [
                {
                    "holds_subsidised_housing": N,
                    "receives_housing_subsidy": N,
                    "owns_property_over_threshold": T,
                }
            ],
            "match",
        ),
        ([], "unverified"),
    ],
)
def test_silence_or_unknown_is_never_clear(answers: list[dict[str, bool | None]], result: str) -> None:
    assert combine(answers)[0] == result


def test_one_member_matching_makes_the_household_match() -> None:
    clear: dict[str, bool | None] = dict.fromkeys(
        ("holds_subsidised_housing", "receives_housing_subsidy", "owns_property_over_threshold"), F
    )
    verdict, merged = combine([clear, {**clear, "owns_property_over_threshold": T}])
    assert verdict == "match" and merged["owns_property_over_threshold"] is True


def test_the_breaker_opens_after_consecutive_failures_and_half_opens_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr("federation.outbound.time.monotonic", lambda: now[0])
    breaker = CircuitBreaker(threshold=2, reset_s=30)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    now[0] += 31
    assert breaker.allow(), "one trial after the reset period"
    assert not breaker.allow()
    breaker.success()
    assert breaker.allow()


def test_linkage_hash_is_keyed_and_normalised() -> None:
    key_a, key_b = bytes(range(32)), bytes(range(1, 33))
    assert normalise_id_number(" 44060 419850715123x ") == "44060419850715123X"
    assert id_hash(key_a, "44060419850715123x") == id_hash(key_a, "44060419850715123X ")
    assert id_hash(key_a, "44060419850715123X") != id_hash(key_b, "44060419850715123X")
    with pytest.raises(ValueError, match="at least"):
        id_hash(b"short", "1")


def test_keygen_writes_a_usable_key_pair(tmp_path: Path) -> None:
    from federation.keys import load_private_key, public_from_x, public_x

    command = [
        sys.executable,
        "-m",
        "federation",
        "keygen",
        "--out",
        str(tmp_path),
        "--key-id",
        "CN-FS-2027a",
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    private = tmp_path / "CN-FS-2027a.private.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    x = public_x(load_private_key(private).public_key())
    assert f"x: {x}" in done.stdout
    public_from_x(x).verify(load_private_key(private).sign(b"m"), b"m")


def test_two_writers_extend_one_chain_from_its_true_tail(tmp_path: Path, persistence: dict[str, str]) -> None:
    """A writer never trusts its memory of the tail: after another writer (a replica that took the
    lease over, or a paused one waking up) appended, it continues after the file's last line."""
    app = FederationApp(FederationSettings(var_dir=tmp_path), persistence)
    path = tmp_path / "audit.jsonl"
    first, second = AuditWriter(app, path), AuditWriter(app, path)
    store_entry(app)
    assert first.write_pending() == 2
    store_entry(app)
    assert second.write_pending() == 2
    store_entry(app)
    assert first.write_pending() == 2 and second.write_pending() == 0
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert seqs == list(range(1, 7))
    assert verify_audit(path).first_broken is None
    app.close()


def test_each_process_enforces_its_share_of_a_citys_rate() -> None:
    from federation.ratelimit import RateLimiter

    whole, half = RateLimiter(), RateLimiter(share=2)
    assert [whole.check("CN-GZ", 0.001, 4) for _ in range(5)][:4] == [0, 0, 0, 0]
    assert [half.check("CN-GZ", 0.001, 4) == 0 for _ in range(3)] == [True, True, False]
