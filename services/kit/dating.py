"""When a command happens: the server's clock decides, a caller may only say "this happened earlier".

A command happens *today*, the city's date by the injected clock (`ServiceApplication.today()`).
Some things are legitimately recorded after the fact (the keys were handed back yesterday, a session
was held last week, an inspector files a visit on return): for those a caller may name an earlier day,

- never in the future (a date that has not come cannot have happened),
- never earlier than the service's dated parameter `late_recording_days` allows (a bounded window, so
  a year-old step cannot be slipped into the record),
- never before what the step depends on (the exit decision, the tenancy's start, the session's
  scheduled day), named in the refusal,
- and with a reason; the step is then shown as recorded late, on the day it was recorded.

Deadlines, notice periods and 6-month conditions are counted by the services from their own dates;
no command takes a date that moves them. A simulation moves time by moving the clock of the processes
it starts, never through the API.

Pure: no I/O, no clock of its own (the caller passes today), so domains and tests use it alike. The
HTTP kit answers `DateRefused` with 422 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


class InvalidField(Exception):
    """A request field that is well formed but not acceptable (a domain rule the schema cannot say):
    answered 422 with `title`, naming `field`, by the HTTP kit."""

    title = "Invalid value"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class DateRefused(InvalidField):
    """A date a command cannot take: in the future, outside the late-recording window, before what the
    step depends on, or in the past without a reason. `field` names the request field it came from."""

    title = "Date not allowed"

    def __init__(self, message: str, field: str = "on") -> None:
        super().__init__(message, field)


@dataclass(frozen=True)
class Dated:
    """The day a step happened (`on`) and the day it was recorded; `late` when they differ."""

    on: date
    recorded_on: date
    reason: str | None = None

    @property
    def late(self) -> bool:
        return self.on < self.recorded_on


def happened(
    requested: date | None,
    today: date,
    *,
    window_days: int,
    not_before: date | None = None,
    depends_on: str = "",
    reason: str | None = None,
    field: str = "on",
) -> Dated:
    """The day a step is recorded as having happened: `requested` if it is allowed, else today.

    `not_before` (with `depends_on`, the words for what happened then) bounds the day from below
    whether or not a day was requested: a step cannot happen before what it depends on, today
    included (keys handed back before the tenancy began)."""
    on = today if requested is None else requested
    if on > today:
        raise DateRefused(
            f"{field} {on.isoformat()} lies in the future (today is {today.isoformat()})", field
        )
    if not_before is not None and on < not_before:
        what = depends_on or "what this step depends on"
        raise DateRefused(
            f"{field} {on.isoformat()} is before {what} ({not_before.isoformat()})",
            field,
        )
    if on < today:
        earliest = today - timedelta(days=window_days)
        if on < earliest:
            raise DateRefused(
                f"{field} {on.isoformat()} is more than {window_days} days ago: a step may be "
                f"recorded late back to {earliest.isoformat()}",
                field,
            )
        if not (reason or "").strip():
            raise DateRefused(
                f"{field} {on.isoformat()} is in the past: say why it is recorded late (reason)", field
            )
        return Dated(on, today, reason.strip() if reason else None)
    return Dated(on, today, reason.strip() if reason and reason.strip() else None)


def not_in_future(value: date, today: date, field: str, what: str) -> date:
    """`value` if it is not after today; for dates that describe the world (a birth, a job's start)."""
    if value > today:
        raise DateRefused(f"{field} {value.isoformat()}: {what} cannot lie in the future", field)
    return value
