"""Dates for tests that talk to services on the machine's clock (processes, or apps without a test
clock): relative to that clock, so that a fact is never stale nor in the future, whatever the date."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from services.kit import clock


def yesterday() -> str:
    """The UTC date a day ago by the process's clock, as a contract `Day` (YYYY-MM-DD): never in the
    future in the city's local day, which runs ahead of UTC."""
    return (clock.now() - timedelta(days=1)).date().isoformat()


def city_today() -> date:
    """Today in Foshan by the process's clock: the day the services date what happens now."""
    return clock.local_today(ZoneInfo("Asia/Shanghai"))


def month_words(day: date) -> tuple[str, str]:
    """The month of `day` as the console writes it, in Chinese and in English ("2027年3月", "Mar 2027")."""
    return f"{day.year}年{day.month}月", f"{day:%b} {day.year}"
