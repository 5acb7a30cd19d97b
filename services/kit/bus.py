"""Connection to NATS and the JetStream streams the contracts declare.

Streams are created from `contracts.catalogue.STREAMS` so the bus and the documentation cannot
drift. File storage, a duplicate window long enough for the relay's republish-after-crash, and
replicas from `STREAM_REPLICAS` (1 locally, 3 in the cluster).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from contracts.catalogue import STREAMS
from services.kit import busauth
from services.kit.settings import BusSettings, ServiceSettings

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(minutes=10)


class NoCredential(RuntimeError):
    """The process was told to show a bus credential it does not have."""


def credential(identity: str, directory: Path | None = None) -> Path:
    """The seed file of `identity` in `directory` (default NATS_CREDENTIALS)."""
    directory = directory or BusSettings().nats_credentials
    if directory is None:
        raise NoCredential(f"no bus credential for {identity}: NATS_CREDENTIALS is not set")
    path = busauth.seed_file(directory, identity)
    if not path.is_file():
        raise NoCredential(f"no bus credential for {identity} in {directory}")
    return path


async def connect(
    url: str,
    name: str,
    *,
    identity: str | None = None,
    credentials: Path | None = None,
    attempts: int = 60,
) -> NATS:
    """Connect, retrying while the server comes up; once connected, reconnect forever.

    `url` may list several servers separated by commas (a cluster's seed nodes). `identity`: whose
    nkey to show (its seed from `credentials`, default NATS_CREDENTIALS); replies then come on that
    identity's own inbox prefix, the only one its permissions let it read. None: connect without a
    credential (refused by every server the project starts; for tests of that refusal).
    """
    auth: dict[str, Any] = {}
    if identity is not None:
        seed = credential(identity, credentials)
        auth = {"nkeys_seed": str(seed), "inbox_prefix": busauth.inbox_prefix(identity)}

    connected = False

    async def on_error(exc: Exception) -> None:
        if not connected and _refused(exc):
            # nats-py retries a refused handshake for ever (max_reconnect_attempts=-1): a missing or
            # wrong credential will not heal, so the process says so and stops.
            raise NoCredential(f"the bus refused {identity or 'a client without a credential'}: {exc}")
        log.warning("nats error: %s", exc)

    async def on_disconnect() -> None:
        log.info("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    delay = 0.1
    for attempt in range(1, attempts + 1):
        try:
            nc: NATS = await nats.connect(
                servers=[server.strip() for server in url.split(",") if server.strip()],
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                **auth,
            )
            connected = True
            return nc
        except Exception as exc:
            if attempt == attempts or isinstance(exc, NoCredential):
                raise
            log.info("nats not reachable yet (%s), retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise RuntimeError("unreachable")


async def connect_as(
    settings: ServiceSettings, name: str, *, identity: str | None = None, attempts: int = 60
) -> NATS:
    """`connect` with a process's settings: its credential (`identity`, default its `bus_identity`:
    NATS_IDENTITY or its SERVICE_NAME) when NATS_CREDENTIALS is set, none otherwise."""
    return await connect(
        settings.nats_url,
        name,
        identity=(identity or settings.bus_identity) if settings.nats_credentials else None,
        credentials=settings.nats_credentials,
        attempts=attempts,
    )


def _refused(exc: Exception) -> bool:
    """An authorization error will not go away by retrying: say so at once."""
    return "authorization" in str(exc).lower()


def stream_config(
    name: str, subjects: list[str], replicas: int, max_age_days: int | None = None
) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        num_replicas=replicas,
        max_age=max_age_days * 86_400.0 if max_age_days else None,
        allow_atomic=True,  # the relay's atomic batches (nats-server 2.12+)
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> list[str]:
    """Create or update every stream of the catalogue; return their names."""
    names = []
    for spec in STREAMS:
        config = stream_config(spec.name, list(spec.subjects), replicas, spec.max_age_days)
        config.description = spec.description
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            try:
                await js.update_stream(config)
            except BadRequestError as exc:  # e.g. replicas cannot change on a single node
                log.warning("stream %s kept as is: %s", spec.name, exc)
        names.append(spec.name)
    return names
