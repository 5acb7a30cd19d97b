"""Leases: which replica of a service runs each of its ordered background loops.

The relay and each inbox keep order with a high-water mark (`services.kit.inbox`), so one process at a
time must run each of them. Replicas of a service therefore share the work *per loop*: every replica
competes for a lease per loop (`<service>.relay`, `<service>.inbox.<STREAM>`) in a JetStream key-value
bucket, runs the loops whose lease it holds, and stands by for the others. A replica that dies stops
renewing; its leases expire after `LEASE_TTL_S` and a standby takes them over, resuming from the
positions in the shared store and the durable consumers on the broker. Every replica serves HTTP.

Correctness does not rest on the lease: if two processes ever ran the same loop (a paused leader that
wakes after its lease expired), the store's uniqueness on tracking records still refuses the second
commit of any position, and the broker's `Nats-Msg-Id` de-duplication the second publish. The lease
only keeps them from wasting work on it.

A replica keeps its identity across restarts (`INSTANCE_ID`, by default host and HTTP port), so a
process restarted in place takes its own leases back at once instead of waiting for them to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from services.kit.metrics import LEASE_HELD

log = logging.getLogger(__name__)

BUCKET = "housing_leases"


async def lease_bucket(js: JetStreamContext, ttl_s: float, replicas: int = 1) -> KeyValue:
    """The leases bucket, created on first use; a bucket made with another TTL is used as it is."""
    try:
        return await js.key_value(BUCKET)
    except nats.js.errors.BucketNotFoundError:
        pass
    config = KeyValueConfig(
        bucket=BUCKET,
        description="Which replica runs each ordered background loop (services.kit.lease).",
        history=1,
        ttl=ttl_s,
        storage=StorageType.FILE,
        replicas=replicas,
    )
    try:
        return await js.create_key_value(config)
    except nats.js.errors.BadRequestError:  # another replica created it meanwhile
        return await js.key_value(BUCKET)


class Lease:
    """One lease: `acquire` when free (or already ours), `renew` while running, `release` at the end."""

    def __init__(self, kv: KeyValue, key: str, holder: str, ttl_s: float) -> None:
        self.kv = kv
        self.key = key
        self.holder = holder.encode()
        self.ttl_s = ttl_s
        self.revision: int | None = None
        self.renewed_at = 0.0

    async def acquire(self) -> bool:
        try:
            self.revision = await self.kv.create(self.key, self.holder)
        except nats.js.errors.KeyWrongLastSequenceError:
            try:
                entry = await self.kv.get(self.key)
            except nats.js.errors.KeyNotFoundError:
                return False  # expired between the two calls: next round
            if entry.value != self.holder or entry.revision is None:
                return False
            # ours from before a restart: take it back now rather than after it expires
            try:
                self.revision = await self.kv.update(self.key, self.holder, last=entry.revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                return False
        self.renewed_at = time.monotonic()
        return True

    async def renew(self) -> bool:
        """False once the lease is someone else's, or has gone unrenewed for a whole TTL."""
        try:
            self.revision = await self.kv.update(self.key, self.holder, last=self.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        except Exception as exc:  # broker unreachable: still ours until the TTL runs out
            log.warning("lease %s: renewal failed (%r)", self.key, exc)
            return time.monotonic() - self.renewed_at < self.ttl_s
        self.renewed_at = time.monotonic()
        return True

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await self.kv.delete(self.key, last=self.revision)
        self.revision = None


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_leased(
    lease: Lease,
    loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    stop: asyncio.Event,
    *,
    service: str,
    standby_s: float | None = None,
) -> None:
    """Run `loop` whenever this process holds `lease`, until `stop`; stand by otherwise.

    `loop(loop_stop)` must return soon after `loop_stop` is set (the relay and the inbox finish the
    batch in hand). It is stopped when the lease is lost and started again when it is won back.
    """
    renew_every = lease.ttl_s / 3
    standby = renew_every if standby_s is None else standby_s
    while not stop.is_set():
        try:
            won = await lease.acquire()
        except Exception as exc:
            log.warning("lease %s: cannot reach the bucket (%r)", lease.key, exc)
            won = False
        if not won:
            await _sleep(stop, standby)
            continue
        log.info("lease %s: running here (%s)", lease.key, lease.holder.decode())
        LEASE_HELD.labels(service, lease.key).set(1)
        loop_stop = asyncio.Event()
        task = asyncio.create_task(loop(loop_stop), name=f"leased-{lease.key}")
        stopping = asyncio.create_task(stop.wait())
        try:
            while not task.done():
                await asyncio.wait({task, stopping}, timeout=renew_every, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    break
                if not task.done() and not await lease.renew():
                    log.warning("lease %s: lost; stopping the loop here", lease.key)
                    break
            loop_stop.set()
            await task
        finally:
            stopping.cancel()
            LEASE_HELD.labels(service, lease.key).set(0)
            if not task.done():
                task.cancel()
            if lease.revision is not None:
                await lease.release()
