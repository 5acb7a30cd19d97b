"""Waiting for a condition instead of for a fixed time: a slow machine takes longer, never fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(
    condition: Callable[[], bool], what: str, deadline_s: float = 60.0, interval_s: float = 0.01
) -> None:
    """Wait for `condition` (checked on the event loop), failing with `what` after a generous deadline."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while not condition():
        assert loop.time() < give_up, f"not within {deadline_s:.0f} s: {what}"
        await asyncio.sleep(interval_s)
