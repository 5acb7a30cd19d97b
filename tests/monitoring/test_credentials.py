"""Door credentials are not kept in clear: the event store (SQLite file or PostgreSQL rows) and the
occupancy checkpoint hold keyed digests only, and the key decides what a checkpoint is worth."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

from eventsourcing.cipher import AESCipher

from services.monitoring.application import MonitoringApp
from services.monitoring.credentials import DEMO_CREDENTIAL_KEY, CredentialHasher, resolve_key
from services.monitoring.intake import CHECKPOINT_FILE, SignalIntake
from services.monitoring.settings import MonitoringSettings
from tests.monitoring.support import START, UNIT, days, door_signal, local
from tests.monitoring.test_warnings import Scene

MEMBER_CARD = "CARD-7731-5521-0093"
STRANGER_FACE = "FACE-TPL-88c1f0e2"


def stored_bytes(app: MonitoringApp, persistence: dict[str, str]) -> bytes:
    """Everything the store holds, as bytes: the SQLite file (and its journal), or every row of every
    table in the service's PostgreSQL schema."""
    if persistence["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        database = Path(persistence["SQLITE_DBNAME"])
        return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    import psycopg
    from psycopg import sql

    schema = persistence["POSTGRES_SCHEMA"]
    with psycopg.connect(
        host=persistence["POSTGRES_HOST"],
        port=persistence["POSTGRES_PORT"],
        user=persistence["POSTGRES_USER"],
        password=persistence["POSTGRES_PASSWORD"],
        dbname=persistence["POSTGRES_DBNAME"],
    ) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            )
        ]
        assert tables, f"no tables in schema {schema}"
        chunks = []
        for table in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            chunks += [row[0].encode() for row in conn.execute(query)]
            # bytea columns print as hex in ::text: decode them too
            query = sql.SQL("SELECT state FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            try:
                chunks += [bytes(row[0]) for row in conn.execute(query)]
            except psycopg.errors.UndefinedColumn:
                conn.rollback()
        return b"\n".join(chunks)


def test_no_credential_token_at_rest(tmp_path: Path, persistence: dict[str, str]) -> None:
    scene = Scene(tmp_path, persistence)
    try:
        scene.register()  # enrols "c-1" to the first member
        scene.app.enrol_credential("card", MEMBER_CARD, scene.members[1])
        evenings = [door_signal(UNIT, STRANGER_FACE, local(day, 19)) for day in days(START, 30)]
        for signal in evenings:
            signal["credential_kind"] = "face"
        scene.signals(evenings)
        scene.signals([door_signal(UNIT, MEMBER_CARD, local(START, 8))])
        (warning_id,) = scene.app.detect()  # a sublet warning, its evidence naming the stranger
        evidence = " ".join(e["value"] for e in scene.app.warning(warning_id)["evidence"])
        assert scene.app.hasher.key("face", STRANGER_FACE)[-6:] in evidence
        scene.intake.save()

        at_rest = stored_bytes(scene.app, persistence)
        checkpoint = gzip.decompress((tmp_path / CHECKPOINT_FILE).read_bytes())
        # "c-1" is looked for as JSON writes it, quoted: bare, it also occurs inside a random UUID's
        # text ("...0c-1f...") in the rows' ids, which made the test fail now and then.
        for token in (MEMBER_CARD, STRANGER_FACE, '"c-1"'):
            assert token.encode() not in at_rest, f"{token} in the event store"
            assert token.encode() not in checkpoint, f"{token} in the checkpoint"
        # What is there instead: the digests (so the scans above did read the data).
        member_digest = scene.app.hasher.key("card", MEMBER_CARD).split(":")[1].encode()
        assert member_digest in at_rest
        assert scene.app.hasher.key("face", STRANGER_FACE).split(":")[1].encode() in checkpoint

        # And the digests work: after a restart the member's opening is still the member's.
        scene.restart()
        scene.intake.load()
        scene.app.catch_up()
        assert scene.app.book.units[UNIT].days[START.toordinal()][0] == 1
        scene.sequence = 100
        scene.signals([door_signal(UNIT, MEMBER_CARD, local(START + timedelta(days=1), 8))])
        assert scene.app.book.units[UNIT].last_member_day == (START + timedelta(days=1)).toordinal()
    finally:
        scene.app.close()


def test_a_checkpoint_made_under_another_key_is_not_loaded(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "m.sqlite")}
    first = MonitoringApp(MonitoringSettings(var_dir=tmp_path, monitoring_credential_key="k" * 32), env)
    intake = SignalIntake(first, first.config)
    first.book.signals["applied"] = 7
    intake.position = 7
    intake.save()
    first.close()

    same = MonitoringApp(MonitoringSettings(var_dir=tmp_path, monitoring_credential_key="k" * 32), env)
    again = SignalIntake(same, same.config)
    again.load()
    assert again.position == 7 and same.book.signals == {"applied": 7}
    same.close()

    other = MonitoringApp(MonitoringSettings(var_dir=tmp_path, monitoring_credential_key="x" * 32), env)
    rebuilt = SignalIntake(other, other.config)
    rebuilt.load()
    assert rebuilt.position == 0 and other.book.signals == {}  # rebuilt from the stream instead
    other.close()


def test_where_the_key_comes_from() -> None:
    assert resolve_key("s" * 20, "cipher") == (b"s" * 20, "setting")
    derived, source = resolve_key(None, "some-cipher-key")
    assert source == "cipher_key" and derived != b"some-cipher-key" and len(derived) == 32
    assert resolve_key(None, None) == (DEMO_CREDENTIAL_KEY.encode(), "demo")
    a, b = CredentialHasher(b"key-a"), CredentialHasher(b"key-b")
    assert a.key("card", "123") == a.key("card", "123") != b.key("card", "123")
    assert a.key("card", "123") != a.key("face", "123") and a.key("card", "123").startswith("card:")
    assert a.fingerprint != b.fingerprint


def test_the_app_takes_its_key_from_cipher_key_when_no_key_is_set(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "m.sqlite")}
    plain = MonitoringApp(MonitoringSettings(var_dir=tmp_path), env)
    assert plain.credential_key_source == "demo"
    plain.close()
    cipher_key = AESCipher.create_key(16)
    encrypted = {**env, "SQLITE_DBNAME": str(tmp_path / "e.sqlite"), "CIPHER_KEY": cipher_key}
    keyed = MonitoringApp(MonitoringSettings(var_dir=tmp_path), encrypted)
    assert keyed.credential_key_source == "cipher_key"
    assert keyed.hasher.fingerprint == CredentialHasher(resolve_key(None, cipher_key)[0]).fingerprint
    keyed.close()
    configured = MonitoringApp(
        MonitoringSettings(var_dir=tmp_path, monitoring_credential_key="c" * 16), encrypted
    )
    assert configured.credential_key_source == "setting"
    configured.close()
