"""Accounts of the built-in issuer: operators (password grant) and department systems (client
credentials), read from a YAML file that holds only scrypt hashes.

File shape (`infra/gateway/users.yaml` is the local stack's):

    districts:                      # optional: a district is a named set of estates
      Chancheng: [Chancheng Garden, Chancheng Court]
    users:
      - id: reviewer.li             # an OperatorId: what the accountability trail shows
        role: reviewer
        password: scrypt$16384$8$1$<salt b64>$<hash b64>
        estates: [Chancheng Garden] # optional; with `districts`, the union; absent = every estate
        demo: true                  # demo account: password derivable, refused unless ALLOW_DEMO_USERS
      - id: clerk.finance           # a department's operator: role `department` with its `department`;
        role: department            # logs in to the console (password) and answers the record
        department: finance         # requests addressed to that department, nothing else
        password: scrypt$...
    clients:
      - id: dept.civil-affairs
        department: civil_affairs
        secret: scrypt$...

Demo passwords are derived from the account id and a published seed (`demo_password`), so the launcher
can print them and the file can be committed; a real deployment sets USERS_FILE to its own file and
ALLOW_DEMO_USERS=false.

`python -m gateway.users hash` reads a password from stdin and prints its hash;
`python -m gateway.users demo` prints the demo credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import yaml

from gateway.roles import DEPARTMENT_KINDS, ROLES, SYSTEM_ROLES, Role
from gateway.settings import DEMO_USERS_FILE

CLERK_SCOPES = frozenset({"requests:answer"})
"""What a department's operator may do (a person, not the department's system, which also pushes facts)."""

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB per check: memory-hard, ~50 ms
DEMO_SEED = b"housing-exit demo accounts: DEMO ONLY, never for a real deployment"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash to check against when the account is unknown, so that a miss costs as long as a wrong password.
_DUMMY_HASH = hash_password("no such account", salt=b"\0" * 16)


def demo_password(account_id: str) -> str:
    """The published password of a demo account (derived, so the committed file holds only hashes)."""
    mac = hmac.new(DEMO_SEED, account_id.encode(), hashlib.sha256).digest()
    return "demo-" + base64.b32encode(mac).decode()[:10].lower()


@dataclass(frozen=True)
class Account:
    id: str
    role: Role
    secret_hash: str
    estates: frozenset[str] | None = None
    department: str | None = None
    demo: bool = False
    clerk: bool = False
    """A department's operator: role `department` (its department's limits) but a person, who logs in
    to the console with a password and holds only `CLERK_SCOPES`."""

    @property
    def client(self) -> bool:
        """Logs in with client credentials (a system), not with a password (a person)."""
        return self.role in SYSTEM_ROLES and not self.clerk


class Directory:
    """The accounts of one users file (and the estates an administrator assigned since, applied over
    it: `gateway.assignments`)."""

    def __init__(
        self, accounts: list[Account], *, allow_demo: bool, districts: dict[str, list[str]] | None = None
    ) -> None:
        self.accounts = {a.id: a for a in accounts}
        self.allow_demo = allow_demo
        self.districts = dict(districts or {})
        """The file's named sets of estates (what an administrator picks from when assigning)."""

    @classmethod
    def load(cls, path: Path, *, allow_demo: bool) -> Directory:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(parse_accounts(data), allow_demo=allow_demo, districts=parse_districts(data))

    def operators(self) -> list[Account]:
        """The people's accounts (not the systems'), by id."""
        return sorted((a for a in self.accounts.values() if a.role not in SYSTEM_ROLES), key=lambda a: a.id)

    def set_estates(self, account_id: str, estates: frozenset[str] | None) -> Account:
        """An operator's estates replaced (None: every estate); a token issued from now on carries
        them. Unknown accounts and systems' accounts are refused (KeyError, ValueError)."""
        account = self.accounts[account_id]
        if account.role in SYSTEM_ROLES:
            raise ValueError(
                f"{account_id} answers for a department or a system: it has no estates to assign"
            )
        changed = replace(account, estates=estates)
        self.accounts[account_id] = changed
        return changed

    def authenticate(self, account_id: str, secret: str, *, client: bool) -> Account | None:
        """The account when `secret` is right; None for any failure (same cost whichever)."""
        account = self.accounts.get(account_id)
        usable = account is not None and account.client == client and (self.allow_demo or not account.demo)
        ok = verify_password(secret, account.secret_hash if account is not None else _DUMMY_HASH)
        return account if ok and usable else None


def parse_districts(data: dict[str, Any]) -> dict[str, list[str]]:
    """The file's districts: name → its estates."""
    return {str(k): [str(e) for e in v] for k, v in (data.get("districts") or {}).items()}


def parse_accounts(data: dict[str, Any]) -> list[Account]:
    districts = parse_districts(data)
    accounts: list[Account] = []
    for entry in data.get("users") or []:
        role = entry["role"]
        if role == "department":  # a department's operator: its department's, as its system's
            accounts.append(
                Account(
                    id=str(entry["id"]),
                    role="department",
                    secret_hash=str(entry["password"]),
                    department=_department(entry, "user"),
                    demo=bool(entry.get("demo", False)),
                    clerk=True,
                )
            )
            continue
        if role not in ROLES or role in SYSTEM_ROLES:
            raise ValueError(f"user {entry.get('id')!r}: role must be one of the operator roles")
        estates: set[str] | None = None
        if "estates" in entry or "districts" in entry:
            estates = {str(e) for e in entry.get("estates") or []}
            for district in entry.get("districts") or []:
                if district not in districts:
                    raise ValueError(f"user {entry['id']!r}: unknown district {district!r}")
                estates.update(districts[district])
        accounts.append(
            Account(
                id=str(entry["id"]),
                role=cast(Role, role),
                secret_hash=str(entry["password"]),
                estates=None if estates is None else frozenset(estates),
                demo=bool(entry.get("demo", False)),
            )
        )
    for entry in data.get("clients") or []:
        # A client is a department's system unless it says otherwise (`role: registry`).
        client_role = entry.get("role", "department")
        if client_role not in SYSTEM_ROLES:
            raise ValueError(f"client {entry.get('id')!r}: role must be one of {sorted(SYSTEM_ROLES)}")
        department = _department(entry, "client") if client_role == "department" else None
        accounts.append(
            Account(
                id=str(entry["id"]),
                role=cast(Role, client_role),
                secret_hash=str(entry["secret"]),
                department=department,
                demo=bool(entry.get("demo", False)),
            )
        )
    ids = [a.id for a in accounts]
    if len(ids) != len(set(ids)):
        raise ValueError("account ids must be unique")
    return accounts


def _department(entry: dict[str, Any], what: str) -> str:
    department = str(entry.get("department"))
    if department not in DEPARTMENT_KINDS:
        raise ValueError(f"{what} {entry.get('id')!r}: unknown department {department!r}")
    return department


def demo_credentials(path: Path = DEMO_USERS_FILE) -> list[tuple[str, str, str]]:
    """(account id, role, password) of every demo account of the file, for the launcher to print.

    A department's "role" is `department:<department>`: its system logs in with client credentials, its
    operators (`clerk.*`, the `users:` entries) with their password on the console."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rows: list[tuple[str, str, str]] = []
    for account in parse_accounts(data):
        if account.demo:
            role = f"department:{account.department}" if account.department else account.role
            rows.append((account.id, role, demo_password(account.id)))
    return rows


def main(argv: list[str]) -> int:
    if argv[:1] == ["hash"]:
        print(hash_password(sys.stdin.readline().rstrip("\n")))
        return 0
    if argv[:1] == ["demo"]:
        for account, role, password in demo_credentials():
            print(f"{account:<24} {role:<28} {password}")
        return 0
    print("usage: python -m gateway.users hash|demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
