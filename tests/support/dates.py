"""Dates for tests that talk to services on the machine's clock (processes, or apps without a test
clock): relative to that clock, so that a fact is never stale nor in the future, whatever the date."""

from __future__ import annotations

from datetime import timedelta

from services.kit import clock


def days_ago(days: int) -> str:
    """The UTC date `days` days ago by the process's clock, as a contract `Day` (YYYY-MM-DD). A day
    before today is never in the future in the city's local day, which runs ahead of UTC."""
    return (clock.now() - timedelta(days=days)).date().isoformat()


def yesterday() -> str:
    return days_ago(1)
