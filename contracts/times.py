"""Moments and days as every contract takes them: only what the published JSON schema documents.

A contract's timestamps are documented as `format: date-time` (RFC 3339) and its days as `format: date`
(`YYYY-MM-DD`), but pydantic's lax mode reads more than that: a number or a digit string as Unix seconds
(`"time": 0` and `"decided_on": "0"` were 1970-01-01), a day written as a midnight date-time, a
date-time without seconds. A department, a partner city or a fuzzer sending those got a fact about
1970 accepted instead of a 400 or a dead letter. `Instant` and `Day` keep the schema pydantic publishes
(so valid senders see no change and no contract needs a new version) and refuse the rest before
pydantic's own parsing runs. Python senders keep passing aware `datetime` and `date` objects.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Final

from pydantic import AwareDatetime, BeforeValidator

__all__ = ["Day", "Instant"]

_INSTANT_TEXT: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""RFC 3339 `date-time`: `T` between date and time, seconds present, offset `Z` or `±hh:mm` required."""

_DAY_TEXT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""RFC 3339 `full-date`."""


def _iso_instant(value: object) -> object:
    """Lets through an aware-or-naive datetime (AwareDatetime then refuses a naive one, so the message
    is pydantic's usual one) and an RFC 3339 string; refuses numbers, digit strings and partial texts,
    which pydantic alone would read as Unix seconds or as an incomplete moment."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _INSTANT_TEXT.fullmatch(value) is None:
        raise ValueError("must be an ISO 8601 date-time with a UTC offset, e.g. 2026-11-05T07:31:02+08:00")
    return value


def _iso_day(value: object) -> object:
    """Lets through a `date` and a `YYYY-MM-DD` string. A `datetime` is refused too although it is a
    `date` subclass: pydantic would silently drop its time (and its offset, which can change the day)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _DAY_TEXT.fullmatch(value) is None:
        raise ValueError("must be an ISO 8601 date, YYYY-MM-DD")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]
"""A moment with its UTC offset: an RFC 3339 string on the wire (JSON schema `format: date-time`), an
aware `datetime` in Python; nothing else."""

Day = Annotated[date, BeforeValidator(_iso_day)]
"""A calendar day: `YYYY-MM-DD` on the wire (JSON schema `format: date`), a `date` in Python; nothing
else."""
