"""Tamper evidence: alter, delete or reorder one entry of an event store (SQLite and PostgreSQL) or of
federation's audit log, and the verifier names the first broken entry."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from psycopg import sql

from federation.application import FederationApp
from federation.audit import AuditWriter
from federation.settings import FederationSettings
from services.kit.integrity import Report, StoreReader, notifications, open_store, seal, verify
from services.kit.settings import ServiceSettings
from services.kit.store import ServiceApplication
from tests.federation.test_audit_and_rules import store_entry
from tests.kit.sample import Tally, TallyApp
from tests.support.processes import REPO

HOUSEHOLDS = 3
COUNTS = 3  # events per tally: Opened, then COUNTS - 1 Counted


def fill(app: TallyApp) -> list[UUID]:
    """Tallies saved round-robin, so each aggregate's events are interleaved with the others'."""
    tallies = [Tally(uuid4()) for _ in range(HOUSEHOLDS)]
    for tally in tallies:
        app.save(tally)
    for round_ in range(COUNTS - 1):
        for tally in tallies:
            tally.count(f"r{round_}")
            app.save(tally)
    return [t.id for t in tallies]


@pytest.fixture
def store(tmp_path: Path, persistence: dict[str, str]) -> Iterator[tuple[TallyApp, dict[str, str]]]:
    env = dict(persistence)
    app = TallyApp(ServiceSettings(service_name="tally", var_dir=tmp_path), env)
    fill(app)
    try:
        yield app, env
    finally:
        app.close()


def reader(app: ServiceApplication, env: dict[str, str], tmp_path: Path) -> ServiceApplication:
    return open_store("tally", env, app_class=TallyApp)


def rows(app: ServiceApplication) -> dict[int, tuple[UUID | str, int, str, bytes]]:
    return {n.id: (n.originator_id, n.originator_version, n.topic, n.state) for n in notifications(app)}


# -- tampering, as someone with write access to the database would ----------------------------------------


class Tamper:
    """Raw SQL on the store's events table, behind the library's back."""

    def __init__(self, app: ServiceApplication, env: dict[str, str]) -> None:
        self.env = env
        recorder = app.process_recorder
        self.table: str = getattr(recorder, "events_table_name")  # noqa: B009 (not on the protocol)
        self.sqlite = env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
        self.schema = getattr(getattr(recorder, "datastore", None), "schema", "")

    def _run(self, statement: str, *params: object) -> None:
        if self.sqlite:
            with sqlite3.connect(self.env["SQLITE_DBNAME"]) as conn:
                conn.execute(statement.replace("%s", "?").replace("notification_id", "rowid"), params)
            return
        with psycopg.connect(
            host=self.env["POSTGRES_HOST"],
            port=self.env.get("POSTGRES_PORT", "5432"),
            user=self.env["POSTGRES_USER"],
            password=self.env.get("POSTGRES_PASSWORD") or None,
            dbname=self.env["POSTGRES_DBNAME"],
            autocommit=True,
        ) as conn:
            conn.execute(
                sql.SQL(statement.replace("{t}", "{schema}.{t}")).format(
                    schema=sql.Identifier(self.schema), t=sql.Identifier(self.table)
                ),
                params,
            )

    def _sql(self, statement: str) -> str:
        return statement if not self.sqlite else statement.replace("{t}", self.table)

    def set_state(self, nid: int, state: bytes) -> None:
        self._run(self._sql("UPDATE {t} SET state = %s WHERE notification_id = %s"), state, nid)

    def delete(self, nid: int) -> None:
        self._run(self._sql("DELETE FROM {t} WHERE notification_id = %s"), nid)

    def swap_positions(self, a: int, b: int) -> None:
        """Exchange the notification ids (positions in the log) of two rows."""
        parking = 10**9
        for old, new in ((a, parking), (b, a), (parking, b)):
            self._run(self._sql("UPDATE {t} SET notification_id = %s WHERE notification_id = %s"), new, old)


def flip_byte(state: bytes, index: int = 5) -> bytes:
    return state[:index] + bytes([state[index] ^ 0x01]) + state[index + 1 :]


# -- an untouched store ----------------------------------------------------------------------------------


def test_an_untouched_store_verifies_and_a_seal_extends(
    store: tuple[TallyApp, dict[str, str]], tmp_path: Path
) -> None:
    app, env = store
    path = tmp_path / "tally.seal.jsonl"
    check = reader(app, env, tmp_path)
    report = verify(check)
    assert report.intact and report.entries == HOUSEHOLDS * COUNTS and report.sealed is None

    report, added = seal(check, path)
    assert added == HOUSEHOLDS * COUNTS and report.intact
    assert verify(check, path).sealed == HOUSEHOLDS * COUNTS
    assert seal(check, path)[1] == 0, "nothing new to seal"

    fill(app)  # more events after the seal: not broken, just not sealed yet
    report = verify(check, path)
    assert report.intact and report.entries == 2 * HOUSEHOLDS * COUNTS
    assert report.sealed == HOUSEHOLDS * COUNTS
    assert seal(check, path)[1] == HOUSEHOLDS * COUNTS
    check.close()


# -- one entry altered, deleted, reordered: the first broken one is named -----------------------------------


def sealed_store(app: TallyApp, env: dict[str, str], tmp_path: Path) -> tuple[ServiceApplication, Path, dict]:  # type: ignore[type-arg]
    path = tmp_path / "tally.seal.jsonl"
    check = reader(app, env, tmp_path)
    assert seal(check, path)[1] == HOUSEHOLDS * COUNTS
    return check, path, rows(check)


def assert_first(
    report: Report, nid: int, originator: UUID | str | None, version: int | None, kind: str
) -> None:
    first = report.first_broken
    assert first is not None, "tampering went unnoticed"
    assert (first.notification_id, first.kind) == (nid, kind), first.describe()
    if originator is not None:
        assert (first.originator_id, first.version) == (str(originator), version), first.describe()


def test_one_altered_state_byte_is_named(store: tuple[TallyApp, dict[str, str]], tmp_path: Path) -> None:
    app, env = store
    check, path, before = sealed_store(app, env, tmp_path)
    originator, version, _, state = before[5]
    Tamper(check, env).set_state(5, flip_byte(state, len(state) // 2))
    report = verify(check, path)
    assert_first(report, 5, originator, version, "altered")
    assert "state_sha256" in report.first_broken.detail  # type: ignore[union-attr]
    check.close()


def test_one_deleted_row_is_named(store: tuple[TallyApp, dict[str, str]], tmp_path: Path) -> None:
    app, env = store
    check, path, before = sealed_store(app, env, tmp_path)
    originator, version, _, _ = before[4]
    Tamper(check, env).delete(4)
    assert_first(verify(check, path), 4, originator, version, "missing")
    # Without the seal the structure still shows it: the aggregate's versions skip one.
    structural = verify(check).first_broken
    assert structural is not None and structural.notification_id <= 4 + HOUSEHOLDS
    check.close()


def test_two_swapped_states_are_named(store: tuple[TallyApp, dict[str, str]], tmp_path: Path) -> None:
    app, env = store
    check, path, before = sealed_store(app, env, tmp_path)
    # Two `Counted` events of different tallies: each state is valid where it lands, so only the
    # seal can tell (AES-GCM would decrypt a moved ciphertext just as well).
    a, b = 5, 8
    assert before[a][2] == before[b][2]
    tamper = Tamper(check, env)
    tamper.set_state(a, before[b][3])
    tamper.set_state(b, before[a][3])
    assert verify(check).intact, "structure alone cannot see this"
    assert_first(verify(check, path), a, before[a][0], before[a][1], "altered")
    check.close()


def test_two_swapped_positions_are_named(store: tuple[TallyApp, dict[str, str]], tmp_path: Path) -> None:
    app, env = store
    check, path, _ = sealed_store(app, env, tmp_path)
    a, b = 2, 7
    Tamper(check, env).swap_positions(a, b)
    report = verify(check, path)
    first = report.first_broken
    assert first is not None and first.notification_id == a and first.kind in ("altered", "sequence")
    assert any(f.notification_id == a and f.kind == "altered" for f in report.findings)
    # Without the seal: the events of the moved aggregates are out of version order.
    assert not verify(check).intact
    check.close()


def test_the_last_row_deleted_is_named_only_by_the_seal(
    store: tuple[TallyApp, dict[str, str]], tmp_path: Path
) -> None:
    app, env = store
    check, path, before = sealed_store(app, env, tmp_path)
    last = max(before)
    Tamper(check, env).delete(last)
    assert verify(check).intact, "nothing in the structure shows a deleted last event"
    assert_first(verify(check, path), last, before[last][0], before[last][1], "missing")
    check.close()


def test_a_seal_cut_short_with_the_store_is_caught_by_its_recorded_head(
    store: tuple[TallyApp, dict[str, str]], tmp_path: Path
) -> None:
    app, env = store
    check, path, before = sealed_store(app, env, tmp_path)
    head = verify(check, path).head
    assert head is not None and verify(check, path, anchor=head).intact
    # Whoever deletes the last event and the seal's last line leaves a consistent pair behind...
    last = max(before)
    Tamper(check, env).delete(last)
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    assert verify(check, path).intact
    # ...which the head recorded elsewhere at sealing time does not match.
    first = verify(check, path, anchor=head).first_broken
    assert first is not None and first.kind == "seal" and "recorded head" in first.detail
    check.close()


def test_a_broken_store_is_not_sealed_and_an_altered_seal_is_named(
    store: tuple[TallyApp, dict[str, str]], tmp_path: Path
) -> None:
    app, env = store
    check, path, _ = sealed_store(app, env, tmp_path)
    fill(app)
    Tamper(check, env).delete(3)
    report, added = seal(check, path)
    assert added == 0 and not report.intact
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + HOUSEHOLDS * COUNTS, "the seal did not grow over a broken store"

    # Someone edits the seal itself to match their change: the chain breaks at that line.
    entry = json.loads(lines[4])
    entry["state_sha256"] = "0" * 64
    lines[4] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    findings = verify(check, path).findings
    assert any(f.kind == "seal" and "seal line 5" in f.detail for f in findings)
    check.close()


def test_a_keyed_seal_needs_its_key(store: tuple[TallyApp, dict[str, str]], tmp_path: Path) -> None:
    from services.kit.integrity import VerifyError

    app, env = store
    path = tmp_path / "keyed.seal.jsonl"
    check = reader(app, env, tmp_path)
    assert seal(check, path, b"k1")[1] == HOUSEHOLDS * COUNTS
    assert verify(check, path, b"k1").intact
    with pytest.raises(VerifyError):
        verify(check, path, None)
    assert any(f.kind == "seal" for f in verify(check, path, b"another key").findings)
    check.close()


# -- encrypted store: an altered byte fails decryption even without a seal -------------------------------


def test_with_a_cipher_an_altered_byte_fails_decryption(tmp_path: Path, persistence: dict[str, str]) -> None:
    env = {
        **persistence,
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }
    app = TallyApp(ServiceSettings(service_name="tally", var_dir=tmp_path), env)
    fill(app)
    check = reader(app, env, tmp_path)
    assert verify(check).intact
    before = rows(check)
    originator, version, _, state = before[6]
    Tamper(check, env).set_state(6, flip_byte(state, len(state) - 3))
    assert_first(verify(check), 6, originator, version, "undecodable")
    check.close()
    app.close()


# -- the command, on a real service's store ----------------------------------------------------------------


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def federation_store(tmp_path: Path) -> Iterator[tuple[FederationApp, dict[str, str], Path]]:
    """Federation's own store (SQLite) and its audit log, as the service writes them."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "federation.sqlite")}
    app = FederationApp(FederationSettings(var_dir=tmp_path), env)
    for n in range(3):
        store_entry(app, [f"{n:064x}"])
    audit = tmp_path / "audit.jsonl"
    assert AuditWriter(app, audit).write_pending() == 6
    try:
        yield app, {**env, "VAR_DIR": str(tmp_path)}, audit
    finally:
        app.close()


def integrity(
    argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`python -m services.kit.integrity ...` in this process (the environment as the service's)."""
    from services.kit.integrity import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().out


def test_the_command_seals_and_names_the_first_broken_entry(
    federation_store: tuple[FederationApp, dict[str, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app, env, _ = federation_store
    done = run(["services.kit.integrity", "seal", "--service", "federation"], env)  # as an operator runs it
    assert done.returncode == 0 and "intact; sealed 6 more" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "federation.seal.jsonl").exists()
    code, out = integrity(["verify", "--service", "federation"], env, monkeypatch, capsys)
    assert code == 0 and "intact" in out, out

    before = rows(app)
    Tamper(app, env).set_state(3, flip_byte(before[3][3], 10))
    code, out = integrity(["verify", "--service", "federation", "--json"], env, monkeypatch, capsys)
    assert code == 1, out
    first = json.loads(out)["first_broken"]
    assert (first["notification_id"], first["originator_id"], first["version"]) == (
        3,
        str(before[3][0]),
        before[3][1],
    )
    assert integrity(["verify", "--service", "nowhere"], env, monkeypatch, capsys)[0] == 2


def test_the_reader_opens_each_service_store_by_its_tables(tmp_path: Path) -> None:
    """`--service` finds each service's tables (named after its Application) without building it."""
    from services.kit.integrity import SERVICES

    for service in SERVICES:
        path = tmp_path / f"{service}.sqlite"
        sqlite3.connect(path).close()
        check = open_store(
            service, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        )
        assert isinstance(check, StoreReader) and verify(check).intact
        check.close()


# -- federation's audit log (verified by `python -m federation verify-audit`) --------------------------


def verify_audit(
    audit: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`python -m federation verify-audit PATH` in this process, in the service's environment (which
    opens its store: the log's end is checked against it)."""
    from federation.__main__ import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(["verify-audit", str(audit), "--grace", "0"])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("tamper", "line"),
    [
        ("alter", 3),  # an entry's content changed: its own hash no longer matches
        ("delete", 3),  # an entry removed: the next one names a predecessor that is not there
        ("reorder", 2),  # two entries exchanged: the first of them no longer follows its predecessor
    ],
)
def test_the_audit_verifier_names_the_first_broken_entry(
    federation_store: tuple[FederationApp, dict[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    line: int,
) -> None:
    _, env, audit = federation_store
    assert verify_audit(audit, env, monkeypatch, capsys)[0] == 0
    lines = audit.read_text().splitlines()
    if tamper == "alter":
        entry = json.loads(lines[2])
        entry["version"] += 1
        lines[2] = json.dumps(entry, sort_keys=True)
    elif tamper == "delete":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    audit.write_text("\n".join(lines) + "\n")
    code, out = verify_audit(audit, env, monkeypatch, capsys)
    assert code == 1 and f"first broken entry at line {line}:" in out, out
    if tamper == "reorder":  # and as an operator runs it
        done = run(["federation", "verify-audit", str(audit)], env)
        assert done.returncode == 1 and f"first broken entry at line {line}:" in done.stdout, done.stdout


def test_the_audit_verifier_notices_a_removed_last_entry(
    federation_store: tuple[FederationApp, dict[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The chain alone cannot see its end cut off; the store it is derived from can: the line the
    first missing entry had is named. Without the store the verifier says it cannot tell (exit 2)."""
    _, env, audit = federation_store
    lines = audit.read_text().splitlines()
    audit.write_text("\n".join(lines[:-1]) + "\n")
    code, out = verify_audit(audit, env, monkeypatch, capsys)
    assert code == 1 and f"first broken entry at line {len(lines)}:" in out, out
    assert "ends at seq 5" in out and "notifications 6 to 6" in out, out
    done = run(["federation", "verify-audit", str(audit), "--grace", "0"], env)  # as an operator runs it
    assert done.returncode == 1 and f"line {len(lines)}:" in done.stdout, done.stdout + done.stderr
    elsewhere = run(
        ["federation", "verify-audit", str(audit)], {"SQLITE_DBNAME": str(audit.parent / "no.db")}
    )
    assert elsewhere.returncode == 2 and "cannot verify" in elsewhere.stderr, elsewhere.stderr
