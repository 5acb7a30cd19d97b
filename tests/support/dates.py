"""Dates for tests that talk to services on the machine's clock (processes, or apps without a test
clock): relative to that clock, so that a fact is never stale nor in the future, whatever the date."""

from __future__ import annotations

from datetime import timedelta

from services.kit import clock


def yesterday() -> str:
    """The UTC date a day ago by the process's clock, as a contract `Day` (YYYY-MM-DD): never in the
    future in the city's local day, which runs ahead of UTC."""
    return (clock.now() - timedelta(days=1)).date().isoformat()
