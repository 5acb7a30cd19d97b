"""Periodic work under a lease: a sweep, a check, anything a service does every so often, done by one
replica at a time.

`Periodic` is a named task and its interval; `PeriodicRuntime` is the kit's runtime plus such tasks,
each run under its own lease (`<service>.<name>`, `services.kit.lease`) beside the relay and the
inboxes, so replicas do not both do it and a standby takes it over when the holder dies. A tick is
an async function given the loop's stop event: a long tick (a sweep in paced batches) checks it
between batches and returns soon after it is set (the lease was lost, or the process stops).

`SERVICE_LOOPS` (kit settings): a process bids for a periodic task when it names the task, names
`periodic`, or serves `http` (the default: every full process bids, the lease picks one).

A tick that fails is logged and tried again at the next interval: periodic work catches up by
itself, and a failure must not end the loop (readiness reports a dead loop as not ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.kit.lease import Lease, lease_bucket, run_leased
from services.kit.runtime import Runtime

log = logging.getLogger(__name__)

Tick = Callable[[asyncio.Event], Awaitable[object]]


@dataclass(frozen=True)
class Periodic:
    """`tick(stop)` every `interval_s` (counted from the end of the previous tick)."""

    name: str
    interval_s: float
    tick: Tick
    first_after_s: float | None = None
    """Delay before the first tick once the lease is won (default: one interval)."""


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True when stopped (a paced loop's sleep)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def loop_of(periodic: Periodic) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The leased loop of `periodic`, as `run_leased` runs it."""

    async def loop(stop: asyncio.Event) -> None:
        first = periodic.interval_s if periodic.first_after_s is None else periodic.first_after_s
        if await pause(stop, first):
            return
        while not stop.is_set():
            try:
                await periodic.tick(stop)
            except Exception:
                log.exception("%s failed; next attempt in %.1f s", periodic.name, periodic.interval_s)
            if await pause(stop, periodic.interval_s):
                return

    return loop


@dataclass
class PeriodicRuntime(Runtime):
    """The kit's runtime plus periodic tasks, each under its own lease, sharing the runtime's stop."""

    periodic: Sequence[Periodic] = field(default_factory=tuple)

    async def start(self) -> None:
        await super().start()
        settings = self.app.settings
        if not self.periodic:
            return
        assert self.nc is not None
        kv = await lease_bucket(self.nc.jetstream(), settings.lease_ttl_s, settings.stream_replicas)
        for periodic in self.periodic:
            if not any(settings.runs(loop) for loop in (periodic.name, "periodic", "http")):
                continue
            lease = Lease(kv, f"{self.service}.{periodic.name}", self.instance, settings.lease_ttl_s)
            task = run_leased(lease, loop_of(periodic), self._stop, service=self.service)
            self._tasks.append(asyncio.create_task(task, name=periodic.name))
