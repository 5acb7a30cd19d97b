"""Integration events of the training context: payloads and their catalogue entries.

The catalogue (`contracts.catalogue`) gathers `EVENTS` from here; nothing else in this module is
code, only data.
"""

from __future__ import annotations

from typing import Final

from contracts.spec import EventSpec

__all__ = ["EVENTS"]

EVENTS: Final[tuple[EventSpec, ...]] = ()
"""Every event the training service publishes, every version."""
