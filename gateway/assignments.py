"""Estates an administrator assigns to operators, kept over the accounts file.

The accounts file (`USERS_FILE`, the committed `infra/gateway/users.yaml` on the local stack) is
written by whoever deploys the platform and holds the passwords' hashes; the bureau's administrator
changes who works on which estates while the platform runs. Those changes are kept in a file of their
own beside the gateway's other state (`<VAR_DIR>/gateway/estate-assignments.yaml`), applied over the
accounts file at start and at each change, with who assigned them and when. An assignment takes effect
at the operator's next login: a token carries the estates it was issued with (an hour at most).

Who may assign: the `admin` role (the bureau's administrator registers households and runs the
platform's accounts; it takes no review step, so assigning a reviewer's estates does not let anyone
approve their own work).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from gateway.roles import Principal
from gateway.users import Account, Directory
from services.kit.clock import Clock
from services.kit.http import Problem

ASSIGNING_ROLE = "admin"
"""The role that assigns estates (roles.py has no scope for accounts yet: the role is the check)."""

MAX_ESTATES = 200
MAX_NAME = 64


def may_assign(p: Principal) -> bool:
    return p.role == ASSIGNING_ROLE


def clean_estates(names: Iterable[str]) -> frozenset[str]:
    """The estates named, trimmed, without empties; refused when too many or too long."""
    found = {n.strip() for n in names if n and n.strip()}
    if len(found) > MAX_ESTATES:
        raise Problem(422, "Invalid request", f"estates: at most {MAX_ESTATES}")
    if any(len(n) > MAX_NAME or any(c in n for c in "\r\n\t") for n in found):
        raise Problem(422, "Invalid request", f"estates: a name is one line of at most {MAX_NAME} characters")
    return frozenset(found)


class Assignments:
    """The administrator's assignments, persisted and applied to a `Directory`."""

    def __init__(self, directory: Directory, path: Path, clock: Clock) -> None:
        self.directory, self.path, self.clock = directory, path, clock
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, Any]] = self._read()
        for account_id, record in self.records.items():
            if account_id in directory.accounts:
                estates = record.get("estates")
                directory.set_estates(account_id, None if estates is None else frozenset(estates))

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        accounts = data.get("accounts") or {}
        return {str(k): dict(v) for k, v in accounts.items() if isinstance(v, dict)}

    def _write(self) -> None:
        """Atomically: a crash mid-write leaves the previous file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            "# Estates assigned by the bureau's administrator on the console (gateway/assignments.py),\n"
            "# applied over the accounts file. Written by the gateway: edit the accounts file instead.\n"
            + yaml.safe_dump({"accounts": self.records}, allow_unicode=True, sort_keys=True)
        )
        partial = self.path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.path)

    def assign(self, p: Principal, account_id: str, estates: frozenset[str] | None) -> Account:
        """`account_id`'s estates are now `estates` (None: every estate), as `p` decided."""
        if not may_assign(p):
            raise Problem(
                403,
                "Forbidden",
                f"the role {p.role} does not assign estates; an administrator does",
                scope="accounts:estates",
            )
        with self.lock:
            try:
                account = self.directory.set_estates(account_id, estates)
            except KeyError:
                raise Problem(404, "Not found", f"no account {account_id}") from None
            except ValueError as exc:
                raise Problem(422, "Invalid request", str(exc)) from None
            when: datetime = self.clock()
            self.records[account_id] = {
                "estates": None if estates is None else sorted(estates),
                "assigned_by": p.subject,
                "assigned_at": when.isoformat(),
            }
            self._write()
        return account

    def record(self, account_id: str) -> dict[str, Any] | None:
        """Who assigned `account_id`'s estates last, and when (None: as the accounts file says)."""
        return self.records.get(account_id)
