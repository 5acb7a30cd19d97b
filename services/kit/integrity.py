"""Tamper evidence for a service's event store: check what the store implies, and a sealed hash chain.

An event store (the eventsourcing library's stored events: notification id, originator id, originator
version, topic, state) cannot prove by itself that its content is what was written: anyone who can
write to the database can change a state and leave a well-formed row. So the verifier does two things.

- **Structure** (`verify` always): every aggregate's versions run 1, 2, 3, ... in notification order
  (a deleted, moved or inserted event breaks the run), every topic resolves and every state decodes
  with the service's own mapper, so with `CIPHER_KEY` set (AES-GCM) a changed state byte fails
  decryption; on SQLite, whose notification ids are row ids handed out without gaps, a missing id is a
  deleted row (PostgreSQL's sequence leaves gaps on rolled-back inserts, so there a gap proves nothing).
  Structure alone cannot see a changed state without a cipher, nor states swapped between two rows of
  the same topic (AES-GCM does not bind a ciphertext to its row), nor a deleted last event.
- **Seal** (`seal` records, `verify` compares): a file with one line per notification (its id,
  originator, version, topic and the SHA-256 of the stored state bytes), each line chained to the
  previous one by `chain = H(prev chain + "\\n" + canonical line)`, where H is HMAC-SHA256 under
  `INTEGRITY_SEAL_KEY` when that is set, else SHA-256. `seal` first verifies, refuses to bless a
  broken store, then appends lines for what was stored since the last seal. `verify` recomputes the
  chain and walks the seal beside the store in notification order: the first entry whose content,
  position or presence differs is named. Keep the seal (or at least its last `chain` value) where
  the database's writers cannot write; with a key, a rewritten seal also needs the key.

    python -m services.kit.integrity verify --service eligibility [--seal FILE | --no-seal] [--head HEX]
                                            [--json]
    python -m services.kit.integrity seal --service eligibility [--seal FILE]

The store is found through the same environment as the service's (`PERSISTENCE_MODULE`,
`SQLITE_DBNAME`, `POSTGRES_*`, `CIPHER_KEY`, `COMPRESSOR_TOPIC`, `VAR_DIR`); the default seal file is
`<VAR_DIR>/<service>.seal.jsonl`. Exit status: 0 intact, 1 broken (the first broken entry is printed),
2 cannot verify (no store, missing key). Nothing here writes to the store.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Notification
from eventsourcing.utils import resolve_topic

from services.kit.settings import ServiceSettings
from services.kit.store import ServiceApplication, persistence_env

SEAL_FORMAT = "housing-store-seal/1"
SEAL_KEY_ENV = "INTEGRITY_SEAL_KEY"
PAGE = 1000
MAX_FINDINGS = 50

SERVICES: dict[str, str] = {
    "eligibility": "services.eligibility.application:EligibilityApp",
    "penalties": "services.penalties.application:PenaltiesApp",
    "resettlement": "services.resettlement.application:ResettlementApp",
    "training": "services.training.application:TrainingApp",
    "monitoring": "services.monitoring.application:MonitoringApp",
    "federation": "federation.application:FederationApp",
}
"""The application class of each service: its `name` names its tables and its env prefix."""


class VerifyError(RuntimeError):
    """The store or the seal cannot be checked at all (as opposed to: checked and found broken)."""


@dataclass(frozen=True)
class Finding:
    """One broken entry: where (notification id, and the event it holds or should hold) and what."""

    notification_id: int
    originator_id: str | None
    version: int | None
    kind: str
    detail: str

    def describe(self) -> str:
        where = f"notification {self.notification_id}"
        if self.originator_id is not None:
            where += f" (originator {self.originator_id}, version {self.version})"
        return f"{where}: {self.kind}: {self.detail}"


def _order(finding: Finding) -> tuple[int, bool]:
    return finding.notification_id, finding.originator_id is None


@dataclass
class Report:
    entries: int = 0
    last_notification_id: int = 0
    sealed: int | None = None
    """Entries the seal covers (None: no seal was compared)."""
    head: str | None = None
    """The seal's last chain value."""
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0

    @property
    def first_broken(self) -> Finding | None:
        """The lowest notification id; of two findings there, the one that names the event."""
        return min(self.findings, key=_order) if self.findings else None

    @property
    def intact(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)
        else:
            self.more_findings += 1

    def to_json(self) -> dict[str, Any]:
        first = self.first_broken
        return {
            "intact": self.intact,
            "entries": self.entries,
            "last_notification_id": self.last_notification_id,
            "sealed": self.sealed,
            "head": self.head,
            "first_broken": asdict(first) if first else None,
            "findings": [asdict(f) for f in sorted(self.findings, key=_order)],
            "more_findings": self.more_findings,
        }


# -- seal lines -------------------------------------------------------------------------------------


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _link(key: bytes | None, prev: str, entry: dict[str, Any]) -> str:
    message = prev.encode() + b"\n" + _canonical(entry)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _entry(n: Notification) -> dict[str, Any]:
    return {
        "nid": n.id,
        "originator_id": str(n.originator_id),
        "version": n.originator_version,
        "topic": n.topic,
        "state_sha256": hashlib.sha256(n.state).hexdigest(),
    }


def seal_key(env: dict[str, str] | None = None) -> bytes | None:
    value = (env if env is not None else os.environ).get(SEAL_KEY_ENV)
    return value.encode() if value else None


@dataclass
class _SealLine:
    line: int
    entry: dict[str, Any]
    chain: str


def _read_seal(path: Path, key: bytes | None, report: Report) -> Iterator[_SealLine]:
    """The seal's lines in order, each checked against the chain. A line that breaks the chain is
    reported and ends the iteration: nothing after it can be trusted."""
    with path.open("rb") as f:
        header_raw = f.readline()
        try:
            header = json.loads(header_raw)
        except ValueError:
            raise VerifyError(f"{path}: not a seal file") from None
        if not isinstance(header, dict) or header.get("format") != SEAL_FORMAT:
            raise VerifyError(f"{path}: not a seal file ({SEAL_FORMAT})")
        if header.get("keyed") and key is None:
            raise VerifyError(f"{path} was sealed under a key: set {SEAL_KEY_ENV}")
        if key is not None and not header.get("keyed"):
            report.add(Finding(0, None, None, "seal", f"{SEAL_KEY_ENV} is set but the seal is not keyed"))
            return
        prev = _link(key, "", header)
        last_nid = 0
        for number, raw in enumerate(f, start=2):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                claimed = entry.pop("chain")
                nid = int(entry["nid"])
            except (ValueError, KeyError, TypeError):
                report.add(
                    Finding(last_nid + 1, None, None, "seal", f"seal line {number} is not a seal entry")
                )
                return
            if nid <= last_nid or not hmac.compare_digest(_link(key, prev, entry), str(claimed)):
                report.add(
                    Finding(
                        nid, None, None, "seal", f"seal line {number} does not follow the chain (altered)"
                    )
                )
                return
            yield _SealLine(number, entry, claimed)
            prev, last_nid = claimed, nid


def _seal_head(path: Path, key: bytes | None) -> tuple[int, str, int]:
    """Last sealed notification id, last chain value and number of entries (the seal is trusted:
    `seal` verified it just before)."""
    report = Report()
    last_nid, count = 0, 0
    with path.open("rb") as f:
        header = json.loads(f.readline())
    prev = _link(key, "", header)
    for line in _read_seal(path, key, report):
        last_nid, prev, count = int(line.entry["nid"]), line.chain, count + 1
    return last_nid, prev, count


# -- the store --------------------------------------------------------------------------------------


class StoreReader(ServiceApplication):
    """Opens a service's store as the service does (same table names, cipher, compressor,
    transcodings), to read it. Never saves."""

    app_class: type[ServiceApplication] = ServiceApplication

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        self.app_class.register_transcodings(self, transcoder)


def open_store(
    service: str, env: dict[str, str] | None = None, app_class: type[ServiceApplication] | None = None
) -> ServiceApplication:
    """A reader of `service`'s store, from the environment (`env` over `os.environ`)."""
    if app_class is None:
        if service not in SERVICES:
            raise VerifyError(f"unknown service {service!r} (known: {', '.join(SERVICES)}; or use --app)")
        app_class = resolve_topic(SERVICES[service])
    merged = {**os.environ, **(env or {})}
    settings = ServiceSettings.model_validate(
        {"service_name": service, **({"var_dir": merged["VAR_DIR"]} if merged.get("VAR_DIR") else {})}
    )
    resolved = persistence_env(settings, app_class.name, env)
    if resolved.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite":
        dbname = resolved.get("SQLITE_DBNAME") or merged.get("SQLITE_DBNAME", "")
        if ":memory:" not in dbname and "mode=memory" not in dbname and not Path(dbname).exists():
            raise VerifyError(f"no event store at {dbname}")
    reader_class = type(
        f"{app_class.__name__}Reader", (StoreReader,), {"name": app_class.name, "app_class": app_class}
    )
    reader: ServiceApplication = reader_class(settings, env)
    return reader


def notifications(app: ServiceApplication, start: int = 1) -> Iterator[Notification]:
    """Every stored event in notification order."""
    recorder = app.process_recorder
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE)
        if not page:
            return
        yield from page
        start = page[-1].id + 1


def _is_sqlite(app: ServiceApplication) -> bool:
    return type(app.process_recorder).__module__.startswith("eventsourcing.sqlite")


def verify(
    app: ServiceApplication, seal: Path | None = None, key: bytes | None = None, anchor: str | None = None
) -> Report:
    """Check the store's structure and, when `seal` exists, compare it with the sealed chain.

    `anchor`: a chain value recorded elsewhere at an earlier `seal` (its `head`); the seal must still
    reach it, which shows that its last lines were not cut off together with the store's last events.
    """
    report = Report()
    anchored = anchor is None
    gaps_prove_deletion = _is_sqlite(app)
    versions: dict[UUID | str, int] = {}
    seal_lines: Iterator[_SealLine] | None = None
    if seal is not None and seal.exists():
        seal_lines = _read_seal(seal, key, report)
        report.sealed = 0
    pending: _SealLine | None = next(seal_lines, None) if seal_lines else None

    def sealed_missing(line: _SealLine) -> None:
        e = line.entry
        report.add(
            Finding(
                int(e["nid"]),
                str(e["originator_id"]),
                int(e["version"]),
                "missing",
                f"sealed (seal line {line.line}) but not in the store: deleted or moved",
            )
        )

    previous_id = 0
    for n in notifications(app):
        report.entries += 1
        report.last_notification_id = n.id
        # Presence and order of notification ids.
        if gaps_prove_deletion and n.id != previous_id + 1:
            report.add(
                Finding(
                    previous_id + 1,
                    None,
                    None,
                    "missing",
                    f"notification ids {previous_id + 1}..{n.id - 1} absent: rows deleted",
                )
            )
        previous_id = n.id
        # Versions of each aggregate: 1, 2, 3, ... in notification order.
        last = versions.get(n.originator_id, 0)
        if n.originator_version != last + 1:
            detail = (
                f"version {n.originator_version} follows version {last} of this aggregate"
                if last
                else f"first event of this aggregate has version {n.originator_version}, not 1"
            )
            report.add(Finding(n.id, str(n.originator_id), n.originator_version, "sequence", detail))
        versions[n.originator_id] = max(last, n.originator_version)
        # The state decodes with the service's mapper (cipher, compressor, transcoder, topic).
        try:
            app.mapper.to_domain_event(n)
        except Exception as exc:
            report.add(
                Finding(
                    n.id,
                    str(n.originator_id),
                    n.originator_version,
                    "undecodable",
                    f"{type(exc).__name__}: {str(exc)[-300:]}",
                )
            )
        # The seal.
        if seal_lines is None:
            continue
        while pending is not None and int(pending.entry["nid"]) < n.id:
            sealed_missing(pending)
            pending = next(seal_lines, None)
        if pending is None:
            continue  # stored after the last seal (or the seal broke before here)
        if int(pending.entry["nid"]) > n.id:
            report.add(
                Finding(
                    n.id,
                    str(n.originator_id),
                    n.originator_version,
                    "not sealed",
                    "in the store within the sealed range but not in the seal: inserted or moved",
                )
            )
            continue
        actual = _entry(n)
        differs = [
            k for k in ("originator_id", "version", "topic", "state_sha256") if actual[k] != pending.entry[k]
        ]
        if differs:
            e = pending.entry
            report.add(
                Finding(
                    n.id,
                    str(n.originator_id),
                    n.originator_version,
                    "altered",
                    f"{', '.join(differs)} differ from the seal (sealed: originator {e['originator_id']}, "
                    f"version {e['version']}, seal line {pending.line})",
                )
            )
        report.sealed += 1  # type: ignore[operator]
        report.head = pending.chain
        anchored = anchored or pending.chain == anchor
        pending = next(seal_lines, None)
    while seal_lines is not None and pending is not None:
        sealed_missing(pending)
        anchored = anchored or pending.chain == anchor
        pending = next(seal_lines, None)
    if not anchored:
        report.add(
            Finding(
                report.last_notification_id + 1,
                None,
                None,
                "seal",
                "the seal does not reach the recorded head: its last entries (and the store's) were removed",
            )
        )
    return report


def seal(app: ServiceApplication, path: Path, key: bytes | None = None) -> tuple[Report, int]:
    """Verify, then extend the seal with what was stored since; returns the report and how many
    entries were added (none when the store is broken: a seal must not bless tampering)."""
    report = verify(app, path, key)
    if not report.intact:
        return report, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        last_nid, prev, count = _seal_head(path, key)
    else:
        header = {"format": SEAL_FORMAT, "keyed": key is not None, "hash": "sha256"}
        path.write_bytes(_canonical(header) + b"\n")
        last_nid, prev, count = 0, _link(key, "", header), 0
    added = 0
    with path.open("ab") as out:
        for n in notifications(app, start=last_nid + 1):
            if n.id > report.last_notification_id:
                break  # stored while we verified: sealed next time, once verified
            entry = _entry(n)
            prev = _link(key, prev, entry)
            out.write(_canonical({**entry, "chain": prev}) + b"\n")
            added += 1
        out.flush()
        os.fsync(out.fileno())
    report.sealed, report.head = count + added, prev
    return report, added


# -- command line -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.kit.integrity",
        description="Check a service's event store for tampering; seal it (hash chain) for later checks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("verify", "check structure and the seal"), ("seal", "verify, then extend the seal")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--service", required=True, help=f"one of {', '.join(SERVICES)}")
        command.add_argument("--app", help="application class as module:Class (default: the service's)")
        command.add_argument("--seal", type=Path, help="seal file (default <VAR_DIR>/<service>.seal.jsonl)")
        command.add_argument("--json", action="store_true", help="print the report as JSON")
        if name == "verify":
            command.add_argument("--no-seal", action="store_true", help="check structure only")
            command.add_argument("--head", help="a head printed by an earlier seal, kept elsewhere")
    args = parser.parse_args(argv)

    try:
        app_class = resolve_topic(args.app) if args.app else None
        app = open_store(args.service, app_class=app_class)
    except VerifyError as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return 2
    path: Path = args.seal or app.settings.var_dir / f"{args.service}.seal.jsonl"
    key = seal_key()
    try:
        if args.command == "seal":
            report, added = seal(app, path, key)
        else:
            report = verify(app, None if args.no_seal else path, key, args.head)
            added = 0
    except VerifyError as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return 2
    finally:
        app.close()

    if args.json:
        print(json.dumps({"service": args.service, "seal": str(path), "added": added, **report.to_json()}))
    else:
        sealed = "no seal" if report.sealed is None else f"{report.sealed} sealed in {path}"
        last = report.last_notification_id
        print(f"{args.service}: {report.entries} entries (last notification {last}), {sealed}")
        if report.entries == 0:
            print("the store is empty: is this the service's environment?", file=sys.stderr)
        first = report.first_broken
        if first is None:
            print("intact" + (f"; sealed {added} more, head {report.head}" if args.command == "seal" else ""))
        else:
            print(f"BROKEN: first broken entry: {first.describe()}")
            for finding in sorted(report.findings, key=_order)[1:10]:
                print(f"  also: {finding.describe()}")
            if args.command == "seal":
                print("not sealed: a seal must not bless a broken store")
    return 0 if report.intact else 1


if __name__ == "__main__":
    sys.exit(main())
