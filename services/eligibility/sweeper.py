"""The periodic cross-region sweep: every household asked about in the neighbour cities at its first
decision and again when its check is due (`queries.cross_region_reason`), in paced batches.

Federation coalesces the sweep's checks into signed batches of up to 100 subjects per peer, and the
peers' directory entries limit how fast we may ask (`rate_limit`, answered 429 above it, then
`unverified` after the retries). So the sweep requests at most `cross_region_sweep_batch` checks per
`cross_region_sweep_pause_s` (200 a second at the defaults: a whole city of 38,600 households in
about three minutes), and never lets more than `cross_region_sweep_max_in_flight` of its checks wait
for answers: a slow peer slows the sweep down instead of being queued up against.
"""

from __future__ import annotations

import asyncio
import logging

from services.eligibility.application import EligibilityApp
from services.kit.periodic import Periodic, pause

log = logging.getLogger(__name__)
LEASE_NAME = "sweep"


async def sweep(app: EligibilityApp, stop: asyncio.Event) -> int:
    """One sweep: the households due now, asked batch by batch at the configured pace; returns how
    many were asked. Stops between batches when `stop` is set (the rest are due at the next sweep)."""
    config = app.config
    due = await asyncio.to_thread(app.cross_region_due)
    asked = 0
    for start in range(0, len(due), config.cross_region_sweep_batch):
        if start and await pause(stop, config.cross_region_sweep_pause_s):
            break
        batch = [household_id for household_id, _ in due[start : start + config.cross_region_sweep_batch]]
        room = max(0, config.cross_region_sweep_max_in_flight - len(batch))
        while await asyncio.to_thread(app.cross_region_in_flight) > room:
            if await pause(stop, config.cross_region_sweep_pause_s):
                return asked
        asked += await asyncio.to_thread(app.request_cross_region_checks, batch)
    if asked:
        log.info("cross-region sweep: %d of %d households due asked", asked, len(due))
    return asked


REGISTER_BATCH = 200


async def refresh_registers(
    app: EligibilityApp, stop: asyncio.Event, passed: dict[str, object] | None = None
) -> int:
    """Re-derive the register entries whose basis changed (a linkage key began to be usable or
    expired, a store from before entries): batch by batch, between which `stop` is heeded. Returns
    how many households were refreshed.

    `passed` remembers the keyring's basis of the last complete pass: while it is the same, nothing
    can have gone stale (every registration, change of members or property, and exit refreshes its
    own entry), and the pass is skipped instead of scanning the whole city again every interval."""
    keys = app.register_keeper.keyring.basis(app.clock())
    if passed is not None and passed.get("basis") == keys:
        return 0
    stale = await asyncio.to_thread(app.registers_stale)
    done = 0
    for start in range(0, len(stale), REGISTER_BATCH):
        if stop.is_set():
            return done
        done += await asyncio.to_thread(app.refresh_registers, stale[start : start + REGISTER_BATCH])
    if done:
        log.info("register entries: %d of %d households re-derived", done, len(stale))
    if passed is not None:
        passed["basis"] = keys
    return done


def periodic_registers(app: EligibilityApp) -> Periodic:
    passed: dict[str, object] = {}

    async def tick(stop: asyncio.Event) -> None:
        await refresh_registers(app, stop, passed)

    return Periodic("registers", app.config.cross_region_sweep_interval_s, tick)


def periodic_sweep(app: EligibilityApp) -> Periodic:
    async def tick(stop: asyncio.Event) -> None:
        await sweep(app, stop)

    return Periodic(LEASE_NAME, app.config.cross_region_sweep_interval_s, tick)
