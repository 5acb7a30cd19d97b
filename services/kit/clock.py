"""The one clock: the only place in the platform that reads the system's date and time.

Every question "what time is it" (an event's timestamp, a rule's effective date, a key's validity
window, a nonce's age, a deadline, an offer's expiry, a fact's staleness, a token's expiry) is asked
of a `Clock`, a callable that answers an aware UTC `datetime`. Applications take one in their
constructor (`ServiceApplication(clock=...)`); tests give them a `ManualClock` they move, and the code
under test moves with it, including the timestamps the library stores with each event.

Why event timestamps need an ambient clock: `eventsourcing` stamps an event in the event class's
`create_timestamp()`, called deep inside the aggregate's command method, where no application is in
reach. Aggregates therefore derive from this module's `Aggregate`, whose events ask `now()`, the
clock the process's application installed (`install`). One process runs one service, with one
clock; a test that builds several applications gives them the same clock.

`ruff`'s banned-api rule (pyproject.toml) refuses `datetime.now`, `date.today`, `time.time` and their
kin everywhere but here, so a new reading of the wall clock cannot slip in unnoticed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from eventsourcing.domain import Aggregate as LibraryAggregate

Clock = Callable[[], datetime]
"""Answers the current instant, timezone-aware, in UTC."""


def system_clock() -> datetime:
    """The machine's clock: what production runs on (and what libfaketime shifts in CI)."""
    return datetime.now(UTC)


_installed: Clock = system_clock


def install(clock: Clock) -> None:
    """Make `clock` the process's clock, read by event timestamps and by `now()`."""
    global _installed
    _installed = clock


def now() -> datetime:
    """The current instant by the process's clock."""
    return _installed()


def epoch_seconds(clock: Clock | None = None) -> float:
    """Seconds since the Unix epoch by `clock` (the process's by default), for JWT and signatures."""
    return (clock or _installed)().timestamp()


def local_today(zone: tzinfo, clock: Clock | None = None) -> date:
    """Today's date in `zone` by `clock` (the process's by default)."""
    return (clock or _installed)().astimezone(zone).date()


class ManualClock:
    """A clock that stands still until moved: `clock.now = ...` or `clock.advance(days=1)`.

    Safe to read from other threads (service loops) while a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock answers aware datetimes: give `start` a timezone")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


class SimulatedClock:
    """The machine's clock moved forward by the seconds written in a file: how a simulation moves the
    time of the processes it starts (`SIMULATED_CLOCK_FILE`), never through the API.

    `make demo` starts every process of its stack with the same file and writes a new offset to step
    a day ahead (a training course's next session); each process sees it at its next reading after
    `REREAD_S`. The file is read at most once per `REREAD_S` (a monotonic interval), so the clock
    costs no system call per event. Only for simulations: a deployment leaves the setting unset."""

    REREAD_S = 0.1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = timedelta()
        self._read_at: float | None = None

    def offset(self) -> timedelta:
        moment = time.monotonic()
        if self._read_at is None or moment - self._read_at >= self.REREAD_S:
            self._read_at = moment
            try:
                self._offset = timedelta(seconds=float(self.path.read_text(encoding="utf-8").strip() or 0))
            except FileNotFoundError:
                self._offset = timedelta()
        return self._offset

    def __call__(self) -> datetime:
        return system_clock() + self.offset()

    @staticmethod
    def move(path: Path, offset: timedelta) -> None:
        """Set the offset the processes reading `path` add to the machine's clock (atomically)."""
        staged = path.with_suffix(".tmp")
        staged.write_text(f"{offset.total_seconds():.0f}\n", encoding="utf-8")
        staged.replace(path)


class Aggregate(LibraryAggregate):
    """The library's aggregate, its events stamped by the process's clock rather than the wall's."""

    class Event(LibraryAggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return _installed()
