"""Per-city token buckets: a peer over its rate gets 429 with the seconds until its next token.

Buckets live in the process. With several answering processes (replicas, or workers behind one
port) each enforces `1/FEDERATION_RATE_LIMIT_SHARE` of the directory's rate and burst, so with the
share set to the number of processes a peer never gets more than the directory's rate from the city
as a whole; if the balancer spreads a peer unevenly, the peer meets 429 somewhat early (it retries
after `Retry-After`). A shared counter (e.g. in JetStream KV) would be exact but would put a broker
round trip in every answer and make answering depend on the broker: the limit protects us from a
misbehaving peer, which the conservative split does without either.
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
    def __init__(self, share: int = 1) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()
        self.share = share

    def check(self, city: str, rate: float, burst: int) -> int:
        """0 if allowed, else Retry-After in whole seconds (at least 1)."""
        with self._lock:
            bucket = self._buckets.get(city)
            if bucket is None:
                bucket = Bucket(rate / self.share, max(1, burst // self.share))
                self._buckets[city] = bucket
            wait = bucket.take(time.monotonic())
        return 0 if wait == 0 else max(1, math.ceil(wait))
