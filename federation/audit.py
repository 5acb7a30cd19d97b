"""The hash-chained audit log: one JSON line per stored federation event, each naming its predecessor.

The log is derived from the event store (it follows the notification log, so a crash cannot leave a
stored exchange without its line: the writer resumes after the last line's `seq`). Each line carries
the SHA-256 of the event's stored state (the raw signed request/answer and the verification result
are in it) and `hash = sha256(prev + "\\n" + canonical JSON of the line without hash)`. Changing,
removing or reordering any line breaks every later link; `python -m federation verify-audit` names the
first broken one.

One writer per city at a time: the writer runs under a lease (`federation.service`), so of several
replicas one appends and another takes over when it dies. The lease is not what keeps the chain
whole, though: each append holds an exclusive lock on the file (`flock`) and reads the last line
again under it, so even two writers at once (a paused replica waking after its lease expired) only
ever extend the chain after its true tail. The file must therefore be shared by the replicas (one
host, or a volume with working `flock`). Refused requests are not in the store, so not in the chain
(`federation.refusals`).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.store import ServiceApplication

log = logging.getLogger(__name__)
GENESIS = "0" * 64
BATCH_DELAY_S = 0.05


def _line_hash(prev: str, entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{canonical}".encode()).hexdigest()


def _tail(fd: int) -> tuple[int, str]:
    """The last line's seq and hash (0 and the genesis hash for an empty log), read backwards from the
    end of the open file: the cost does not grow with the log."""
    end = os.lseek(fd, 0, os.SEEK_END)
    chunk, data = 4096, b""
    position = end
    while position > 0:
        step = min(chunk, position)
        position -= step
        data = os.pread(fd, step, position) + data
        lines = [line for line in data.split(b"\n") if line.strip()]
        if len(lines) >= 2 or (lines and position == 0):
            entry = json.loads(lines[-1])
            return int(entry["seq"]), str(entry["hash"])
    return 0, GENESIS


class AuditWriter:
    def __init__(self, app: ServiceApplication, path: Path) -> None:
        self.app, self.path = app, path
        self._wakeup = asyncio.Event()

    def write_pending(self) -> int:
        """Append a line for every notification after the log's last one; return how many."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with self.path.open("a+b") as out:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            try:
                seq, prev = _tail(out.fileno())
                while True:
                    batch = self.app.notification_log.select(start=seq + 1, limit=500)
                    if not batch:
                        break
                    lines = []
                    for n in batch:
                        entry = {
                            "seq": n.id,
                            "topic": n.topic,
                            "originator_id": str(n.originator_id),
                            "version": n.originator_version,
                            "state_sha256": hashlib.sha256(n.state).hexdigest(),
                            "prev": prev,
                        }
                        prev = _line_hash(prev, entry)
                        lines.append(json.dumps({**entry, "hash": prev}, sort_keys=True) + "\n")
                        seq = n.id
                    out.write("".join(lines).encode())
                    out.flush()
                    written += len(lines)
            finally:
                fcntl.flock(out.fileno(), fcntl.LOCK_UN)
        return written

    async def run(self, stop: asyncio.Event) -> None:
        self.app.wake_on_save(self._wakeup)
        while True:
            try:
                await asyncio.to_thread(self.write_pending)
            except Exception:
                log.exception("audit log: write failed; retrying")
            if stop.is_set():
                return
            await asyncio.sleep(BATCH_DELAY_S)  # one write per burst of saves, not one per save
            self._wakeup.clear()
            stop_wait = asyncio.ensure_future(stop.wait())
            wake_wait = asyncio.ensure_future(self._wakeup.wait())
            await asyncio.wait({stop_wait, wake_wait}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            wake_wait.cancel()


@dataclass(frozen=True)
class AuditReport:
    lines: int
    first_broken: int | None
    reason: str = ""


def verify_audit(path: Path) -> AuditReport:
    """Recompute the chain; report the 1-based line number of the first broken entry, if any."""
    prev, count, last_seq = GENESIS, 0, 0
    with path.open() as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            count += 1
            try:
                entry = json.loads(raw)
                claimed = entry.pop("hash")
            except (ValueError, KeyError):
                return AuditReport(count, number, "not a JSON audit entry")
            if entry.get("prev") != prev:
                return AuditReport(count, number, "prev does not name the previous entry's hash")
            if _line_hash(prev, entry) != claimed:
                return AuditReport(count, number, "hash does not match the entry's content")
            if not isinstance(entry.get("seq"), int) or entry["seq"] <= last_seq:
                return AuditReport(count, number, "seq does not increase")
            prev, last_seq = claimed, entry["seq"]
    return AuditReport(count, None)
