"""Service assertions for tests: one test key pair per test process, which every service a test builds
trusts (tests/conftest.py puts it in `SERVICE_TRUST_KEYS` and the gateway's `ASSERTION_KEY_FILE` for the
whole session, so in-process apps and the processes tests start pin it alike).

`as_operator(...)` is the headers of one operator's call. They are minted when read, by the process's
clock (`services.kit.clock`, which an application given a `ManualClock` installs): a test moves its clock
by days between two requests, and an assertion minted once at the top would have expired, or not yet be
issued, by the service's clock. `OperatorAuth` is the same as an httpx `Auth`, the default operator of
the test clients the conftests build (a request that sends its own `Authorization` keeps it).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.kit.clock import Clock
from services.kit.identity import GATEWAY_ISSUER, Minter
from services.kit.keys import private_pem, public_pem, write_file

KEY = Ed25519PrivateKey.generate()
"""The test issuer's key: the gateway's in the tests (a fresh one per test process, never stored)."""
OTHER_KEY = Ed25519PrivateKey.generate()
"""A key no service trusts (the "signed by another key" case)."""

_FOLDER = Path(tempfile.mkdtemp(prefix="housing-test-identity-"))
atexit.register(shutil.rmtree, _FOLDER, True)
PRIVATE_KEY_FILE = _FOLDER / "assertion-key.pem"
PUBLIC_KEY_FILE = _FOLDER / "assertion-key.pub.pem"
write_file(PRIVATE_KEY_FILE, private_pem(KEY), secret=True)
write_file(PUBLIC_KEY_FILE, public_pem(KEY.public_key()))

TRUST: dict[str, list[Path]] = {GATEWAY_ISSUER: [PUBLIC_KEY_FILE]}
"""`ServiceSettings.service_trust_keys` pinning the test key."""
TRUST_ENV = json.dumps({issuer: [str(p) for p in paths] for issuer, paths in TRUST.items()})
"""The same as `SERVICE_TRUST_KEYS` for a process a test starts."""


def minter(clock: Clock | None = None, key: Ed25519PrivateKey = KEY, issuer: str = GATEWAY_ISSUER) -> Minter:
    return Minter(key, issuer=issuer, clock=clock)


class AssertionHeaders(Mapping[str, str]):
    """`{"authorization": "Bearer <assertion>"}`, minted afresh each time it is read."""

    def __init__(
        self,
        subject: str,
        role: str,
        audience: str,
        *,
        estates: Iterable[str] | None = None,
        department: str | None = None,
        clock: Clock | None = None,
        key: Ed25519PrivateKey = KEY,
        issuer: str = GATEWAY_ISSUER,
    ) -> None:
        self.subject, self.role, self.audience = subject, role, audience
        self.estates = None if estates is None else sorted(estates)
        self.department = department
        self.minter = minter(clock, key, issuer)

    def __getitem__(self, name: str) -> str:
        if name.lower() != "authorization":
            raise KeyError(name)
        token = self.minter.assertion(self.audience, self.subject, self.role, self.estates, self.department)
        return f"Bearer {token}"

    def __iter__(self) -> Iterator[str]:
        return iter(["authorization"])

    def __len__(self) -> int:
        return 1


def as_operator(
    subject: str,
    role: str,
    audience: str,
    estates: Iterable[str] | None = None,
    department: str | None = None,
    *,
    clock: Clock | None = None,
) -> AssertionHeaders:
    """The headers of a call of `audience` (a service's name) by `subject` in `role`, as the gateway
    would mint them for that operator."""
    return AssertionHeaders(subject, role, audience, estates=estates, department=department, clock=clock)


ANONYMOUS = httpx.Auth()
"""A request's `auth=` that sends it without the client's default operator (the no-assertion cases)."""


class OperatorAuth(httpx.Auth):
    """A client's default operator: every request without an `Authorization` of its own gets one."""

    def __init__(
        self,
        subject: str,
        role: str,
        audience: str,
        estates: Iterable[str] | None = None,
        department: str | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.headers = as_operator(subject, role, audience, estates, department, clock=clock)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            request.headers["authorization"] = self.headers["authorization"]
        yield request
