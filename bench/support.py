"""What every benchmark needs: a fresh nats-server, and PostgreSQL settings when a server answers."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from tests.support.nats import free_port, running_nats

__all__ = ["free_port", "percentile", "postgres_env", "running_nats"]


def postgres_env(schema_prefix: str) -> dict[str, str] | None:
    """eventsourcing settings for CI's PostgreSQL (`POSTGRES_*`, or a server answering on 5432), with a
    fresh schema; None when there is no server, and the benchmark skips PostgreSQL."""
    host = os.environ.get("POSTGRES_HOST")
    if not host:
        try:
            with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
                host = "127.0.0.1"
        except OSError:
            return None
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": os.environ.get("POSTGRES_PORT", "5432"),
        "POSTGRES_USER": os.environ.get("POSTGRES_USER", "postgres"),
        "POSTGRES_PASSWORD": os.environ.get("POSTGRES_PASSWORD", "postgres"),
        "POSTGRES_DBNAME": os.environ.get("POSTGRES_DBNAME", "postgres"),
        "POSTGRES_SCHEMA": f"{schema_prefix}_{uuid.uuid4().hex[:8]}",
    }


def percentile(values: list[float], q: float) -> float:
    """The value below which a share `q` of `values` lies (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux `/proc/<pid>/stat`), 0 elsewhere:
    which process a benchmark's work costs, beside the wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
