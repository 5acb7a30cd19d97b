"""Failpoints: named places where a test can make the process die, as a power cut would, or slow
down, as an overloaded disk or a slow handler would.

Crash-consistency is the property the backbone sells (relay crash, consumer crash); it can only be
shown by dying at the worst moment, which a test cannot reach from outside. `HOUSING_FAILPOINTS`
holds comma-separated entries:

- `name` or `name@N`: die on the first (N-th) pass, like `kill -9`;
- `name~SECONDS`: sleep that long on every pass (e.g. `eligibility.fact~0.002`): a slow consumer for
  the flood tests. Only place such a failpoint where the calling thread may block (a handler, which
  the inbox runs in a worker thread), never in the event loop;
- `name~SECONDS@N`: sleep that long on the N-th pass only: one stall, then normal again. The one
  failpoint on the event loop, `kit.event-loop` (`services.kit.health`'s heartbeat), uses it to block
  the loop once, as blocking code run on the loop would.

Unset in production: then `hit()` is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from collections import Counter

_ENV = "HOUSING_FAILPOINTS"
_passes: Counter[str] = Counter()
_slow_passes: Counter[str] = Counter()


def _armed() -> tuple[dict[str, int], dict[str, tuple[float, int]]]:
    deaths: dict[str, int] = {}
    delays: dict[str, tuple[float, int]] = {}  # seconds, and the one pass to sleep on (0: every pass)
    for item in filter(None, (part.strip() for part in os.environ.get(_ENV, "").split(","))):
        if "~" in item:
            name, _, rest = item.partition("~")
            seconds, _, nth = rest.partition("@")
            delays[name] = (float(seconds), int(nth) if nth else 0)
            continue
        name, _, nth = item.partition("@")
        deaths[name] = int(nth) if nth else 1
    return deaths, delays


_ARMED, _SLOW = _armed()
_ANY = frozenset(_ARMED) | frozenset(_SLOW)


def hit(name: str) -> None:
    """Kill the process without cleanup (like `kill -9`) when the failpoint `name` is armed to die;
    sleep when it is armed to slow down."""
    if name not in _ANY:
        return
    if name in _SLOW:
        seconds, nth = _SLOW[name]
        _slow_passes[name] += 1
        if not nth or _slow_passes[name] == nth:
            time.sleep(seconds)
    if name not in _ARMED:
        return
    _passes[name] += 1
    if _passes[name] >= _ARMED[name]:
        os._exit(137)
