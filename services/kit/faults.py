"""Failpoints: named places where a test can make the process die, as a power cut would.

Crash-consistency is the property the backbone sells (relay crash, consumer crash); it can only be
shown by dying at the worst moment, which a test cannot reach from outside. `HOUSING_FAILPOINTS`
holds `name` or `name@N` (die on the N-th pass) entries, comma-separated. Unset in production: then
`hit()` is one dictionary lookup.
"""

from __future__ import annotations

import os
from collections import Counter

_ENV = "HOUSING_FAILPOINTS"
_passes: Counter[str] = Counter()


def _armed() -> dict[str, int]:
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in os.environ.get(_ENV, "").split(","))):
        name, _, nth = item.partition("@")
        armed[name] = int(nth) if nth else 1
    return armed


_ARMED = _armed()


def hit(name: str) -> None:
    """Kill the process without cleanup (like `kill -9`) when the failpoint `name` is armed."""
    if name not in _ARMED:
        return
    _passes[name] += 1
    if _passes[name] >= _ARMED[name]:
        os._exit(137)
