"""Per-city token buckets: a peer over its rate gets 429 with the seconds until its next token.

Buckets live in the process (one answering process per city today; with replicas each gets the
limit, which the directory's numbers should account for).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Bucket:
    rate: float
    burst: int
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds to wait."""
        if self.tokens < 0:
            self.tokens = float(self.burst)
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def check(self, city: str, rate: float, burst: int) -> int:
        """0 if allowed, else Retry-After in whole seconds (at least 1)."""
        with self._lock:
            bucket = self._buckets.setdefault(city, Bucket(rate, burst))
            wait = bucket.take(time.monotonic())
        return 0 if wait == 0 else max(1, math.ceil(wait))
