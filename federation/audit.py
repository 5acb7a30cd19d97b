"""The hash-chained audit log: one JSON line per stored federation event, each naming its predecessor.

The log is derived from the event store (it follows the notification log, so a crash cannot leave a
stored exchange without its line: the writer resumes after the last line's `seq`). Each line carries
the SHA-256 of the event's stored state (the raw signed request/answer and the verification result
are in it) and `hash = sha256(prev + "\\n" + canonical JSON of the line without hash)`. Changing,
removing or reordering any line breaks every later link; `python -m federation verify-audit` names the
first broken one. Nothing in the chain anchors its end, so the verifier also walks the store beside it:
each line must match its notification and the last line must reach the store's last notification, so a
cut-off end is named too. A crash between a save and its line only leaves the log behind the store (or
with a torn last line) until the writer runs again: it drops the torn line and catches up first thing.

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
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification

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


def _whole_lines(fd: int) -> int:
    """The size of the file up to and including its last newline (call under the lock): what lies
    beyond is a line whose write was interrupted by a crash."""
    end = os.lseek(fd, 0, os.SEEK_END)
    position = end
    while position > 0:
        step = min(4096, position)
        position -= step
        cut = os.pread(fd, step, position).rfind(b"\n")
        if cut >= 0:
            return position + cut + 1
    return 0


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
                whole = _whole_lines(out.fileno())
                if whole < os.lseek(out.fileno(), 0, os.SEEK_END):
                    # A crash cut the last append short. The line is derived from the store, so it is
                    # written again below; left in place it would break the chain for good.
                    log.warning("audit log: dropping a torn last line; rewriting it from the store")
                    os.ftruncate(out.fileno(), whole)
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
    last_seq: int = 0
    """The seq of the last entry read."""
    store_last: int | None = None
    """The store's last notification id, when the log was compared with the store."""
    cut_off: bool = False
    """The chain is whole but the store holds notifications after its end: entries were removed from
    the end (or, for a moment, a live writer has not appended them yet)."""


def _same(entry: dict[str, Any], n: Notification) -> bool:
    return (
        entry.get("topic") == n.topic
        and entry.get("originator_id") == str(n.originator_id)
        and entry.get("version") == n.originator_version
        and entry.get("state_sha256") == hashlib.sha256(n.state).hexdigest()
    )


def _readable_size(path: Path) -> tuple[int, bool]:
    """How much of the file holds whole lines, and whether a torn line follows, read under a shared
    lock so that a writer's append in progress is neither half read nor taken for a torn line."""
    with path.open("rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        try:
            whole = _whole_lines(f.fileno())
            return whole, whole < os.lseek(f.fileno(), 0, os.SEEK_END)
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _check(path: Path, store: ServiceApplication | None) -> AuditReport:
    size, torn = _readable_size(path)
    pending = _notifications(store) if store is not None else None
    prev, count, last_seq, number = GENESIS, 0, 0, 0
    with path.open("rb") as f:
        for number, raw in enumerate(f.read(size).split(b"\n")[:-1], start=1):
            if not raw.strip():
                continue
            count += 1
            try:
                entry = json.loads(raw)
                claimed = entry.pop("hash")
            except (ValueError, KeyError):
                return AuditReport(count, number, "not a JSON audit entry", last_seq)
            if entry.get("prev") != prev:
                return AuditReport(count, number, "prev does not name the previous entry's hash", last_seq)
            if _line_hash(prev, entry) != claimed:
                return AuditReport(count, number, "hash does not match the entry's content", last_seq)
            seq = entry.get("seq")
            if not isinstance(seq, int) or seq <= last_seq:
                return AuditReport(count, number, "seq does not increase", last_seq)
            if pending is not None:
                n = next(pending, None)
                if n is None or n.id > seq:
                    reason = f"names notification {seq}, which the store does not hold"
                    return AuditReport(count, number, reason, last_seq)
                if n.id < seq:
                    reason = f"the store's notification {n.id} has no entry (the entry here is {seq})"
                    return AuditReport(count, number, reason, last_seq)
                if not _same(entry, n):
                    reason = f"differs from the store's notification {seq} (topic, aggregate or state)"
                    return AuditReport(count, number, reason, last_seq)
            prev, last_seq = claimed, seq
    if torn:
        reason = "a torn last line (a write cut short by a crash; the writer rewrites it from the store)"
        return AuditReport(count, number + 1, reason, last_seq)
    if store is None or pending is None:
        return AuditReport(count, None, "", last_seq)
    store_last = store.process_recorder.max_notification_id() or 0
    n = next(pending, None)
    if n is None:
        return AuditReport(count, None, "", last_seq, store_last)
    reason = (
        f"the log ends at seq {last_seq} but the store holds notifications {n.id} to {store_last}: "
        "entries after the last line are missing (removed, or not yet written: the writer catches "
        "up from the store when federation runs)"
    )
    return AuditReport(count, number + 1, reason, last_seq, store_last, cut_off=True)


def _notifications(store: ServiceApplication) -> Iterator[Notification]:
    start = 1
    while True:
        page = store.process_recorder.select_notifications(start=start, limit=500)
        if not page:
            return
        yield from page
        start = page[-1].id + 1


def verify_audit(path: Path, store: ServiceApplication | None = None, grace_s: float = 0.0) -> AuditReport:
    """Recompute the chain; report the 1-based line number of the first broken entry, if any.

    The chain alone is checked from its genesis forward, so nothing in it anchors its end: cut off
    after any line, the rest is still a whole chain. With `store` (federation's event store, from which
    the log is derived) every entry must match the store's notification of its seq, and every stored
    notification must have its entry, the last ones included: an entry removed from the end is named
    (the line number it had). A live writer appends up to a second after a save; `grace_s` waits that
    long for the log to reach the store's last notification before calling the end cut off."""
    report = _check(path, store)
    if not report.cut_off or grace_s <= 0 or report.store_last is None:
        return report
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with path.open("rb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH)
            try:
                reached = _tail(f.fileno())[0] if _whole_lines(f.fileno()) else 0
            except (ValueError, KeyError):
                break
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        if reached >= report.store_last:
            return _check(path, store)
    return report
