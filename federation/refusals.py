"""Refused requests: counted and logged, never stored as events.

A flood of invalid requests (a misconfigured peer, or anyone who can reach the endpoint) must not grow
the event store or the audit chain. What is kept of each refusal is bounded:

- counters per peer and reason in `/metrics` (`federation_rejections_total{peer,status}`,
  `federation_refusals_total{peer,problem}`); `peer` is a city only once its signature verified,
  else `unknown`, so an attacker cannot invent label values;
- one JSON line per refusal in a size-capped, rotating file (`FEDERATION_REFUSALS_FILE`, by default
  `var/federation-<city>-refusals-<port>.jsonl`, one per process; `FEDERATION_REFUSALS_MAX_BYTES` per
  file, `FEDERATION_REFUSALS_BACKUPS` rotated files kept): when, status, problem type, reason, the
  verified peer, the claimed `keyid` (truncated), the path, the body's SHA-256 and size and the
  signature headers (truncated). Never the body: a peer that wrongly sends a raw ID number does not get
  it into our files;
- the latest `RECENT` refusals in memory, for operators (`GET /federation/v1/refusals`).

Accepted exchanges stay events (and audit-chain entries): they are what another city may dispute.
"""

from __future__ import annotations

import hashlib
import json
import logging
import logging.handlers
import threading
from collections import deque
from pathlib import Path
from typing import Any

from federation import metrics
from services.kit.clock import Clock
from services.kit.clock import now as process_now

RECENT = 200
FIELD_LIMIT = 512


class RefusalLog:
    def __init__(
        self, path: Path | None, max_bytes: int, backups: int, *, clock: Clock = process_now
    ) -> None:
        self.clock = clock
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._lock = threading.Lock()
        self._log: logging.Logger | None = None
        self._handler: logging.Handler | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger = logging.getLogger(f"federation.refusals.{id(self)}")
            logger.propagate = False
            logger.setLevel(logging.INFO)
            logger.addHandler(handler)
            self._log, self._handler = logger, handler

    def record(
        self,
        *,
        peer: str | None,
        status: int,
        problem: str,
        reason: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
    ) -> None:
        label = peer or "unknown"
        metrics.REJECTIONS.labels(label, str(status)).inc()
        metrics.REFUSALS.labels(label, problem).inc()
        keyid = None
        signature_input = headers.get("signature-input") or ""
        if 'keyid="' in signature_input:
            keyid = signature_input.split('keyid="', 1)[1].split('"', 1)[0][:16]
        line: dict[str, Any] = {
            "at": self.clock().isoformat(),
            "status": status,
            "problem": problem,
            "reason": reason[:FIELD_LIMIT],
            "peer": peer,
            "claimed_keyid": keyid,
            "path": path[:FIELD_LIMIT],
            "headers": {name: value[:FIELD_LIMIT] for name, value in headers.items()},
        }
        if body is not None:
            line["body_sha256"] = hashlib.sha256(body).hexdigest()
            line["body_bytes"] = len(body)
        with self._lock:
            self.recent.append(line)
        if self._log is not None:
            self._log.info(json.dumps(line, sort_keys=True))

    def close(self) -> None:
        if self._handler is not None and self._log is not None:
            self._log.removeHandler(self._handler)
            self._handler.close()
