"""Synthetic PRC resident ID numbers (GB 11643 shape, valid check digit), unique within one run.

Region code (6 digits) + birth date (8) + sequence (3, odd for men, even for women) + check digit.
The numbers are fictitious: generated from the seed, never taken from anyone.
"""

from __future__ import annotations

import operator
import random
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    return _CHECK[sum(map(operator.mul, map(int, first17), _WEIGHTS)) % 11]


class IdNumbers:
    """Hands out distinct ID numbers: a counter per (region, birth date, sex) from a random start."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next: dict[tuple[str, str, int], int] = {}

    def issue(self, region: str, birth: date, male: bool) -> str:
        day = f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"
        key = (region, day, 1 if male else 0)
        k = self._next.get(key)
        if k is None:
            k = self._rng.randrange(0, 300)
        if k > 498:
            raise ValueError(f"too many people born on {day} in {region}")
        self._next[key] = k + 1
        sequence = f"{2 * k + key[2]:03d}"
        first17 = f"{region}{day}{sequence}"
        return first17 + check_digit(first17)
