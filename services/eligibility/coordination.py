"""A cross-department problem for the departments' monthly joint meeting (the seed's mechanism 9: the
housing bureau leads a monthly meeting with civil affairs, public security, finance, tax, real estate,
social insurance and human resources; the paper counts 24 meetings and 36 problems solved).

A single record request ends with its answer (record_request.py); what the meeting is for is what one
request cannot fix: a systematic data conflict (two departments' incomes for the same people never
agree), a department that does not answer at all. Such a problem is raised by a supervisor, naming the
departments involved and, optionally, the record requests that show it; it is assigned to a lead
department and an owner at the bureau (someone is accountable for it between meetings); each meeting
that takes it up adds a note, dated with the meeting's day; it is resolved once, with what was agreed.

The meeting's day is the one date a caller names: it is recorded after the meeting, so it may lie in
the past, but never in the future and never before the problem was raised (`DateRefused`, 422); every
other date is the server's. No I/O here: the capability is `services.eligibility.coordinating`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import event

from contracts.department import REPORTS
from services.kit.clock import Aggregate
from services.kit.dating import DateRefused

KINDS = ("data_conflict", "no_answer", "other")
"""What kind of problem: departments' records that systematically disagree, a department that does not
answer, anything else the meeting should settle."""


class CoordinationError(Exception):
    """A step the problem's state refuses (resolved twice, discussed after it was resolved, a blank
    text); `status` and `title` are what the API answers with."""

    status = 409
    title = "Refused"


def _text(value: str, what: str) -> str:
    """`value` stripped; a blank one is refused (the record says what was raised, agreed, decided)."""
    if not value.strip():
        raise CoordinationError(f"{what} must not be blank")
    return value.strip()


@dataclass(frozen=True)
class Assignment:
    department: str
    owner: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Discussion:
    note: str
    meeting_on: date
    by: str
    at: datetime


class CoordinationProblem(Aggregate):
    """One cross-department problem, from raised to resolved."""

    class Raised(Aggregate.Created):
        title: str
        description: str
        kind: str
        departments: list[str]
        record_requests: list[UUID]
        raised_by: str
        raised_at: datetime
        raised_on: date

    class Assigned(Aggregate.Event):
        department: str
        owner: str
        assigned_by: str
        assigned_at: datetime

    class Discussed(Aggregate.Event):
        note: str
        meeting_on: date
        discussed_by: str
        discussed_at: datetime

    class Resolved(Aggregate.Event):
        resolution: str
        resolved_by: str
        resolved_at: datetime
        resolved_on: date

    @classmethod
    def raise_problem(
        cls,
        title: str,
        description: str,
        kind: str,
        departments: list[str],
        record_requests: list[UUID],
        by: str,
        at: datetime,
        on: date,
    ) -> CoordinationProblem:
        """A new problem, its texts and departments checked first."""
        if kind not in KINDS:
            raise CoordinationError(f"kind must be one of {', '.join(KINDS)}")
        if not departments:
            raise CoordinationError("a cross-department problem names at least one department")
        unknown = sorted(d for d in departments if d not in REPORTS)
        if unknown:
            raise CoordinationError(f"no department {', '.join(unknown)}")
        involved = list(dict.fromkeys(departments))
        related = list(dict.fromkeys(record_requests))
        problem: CoordinationProblem = cls(
            _text(title, "title"), _text(description, "description"), kind, involved, related, by, at, on
        )
        return problem

    @event(Raised)
    def __init__(
        self,
        title: str,
        description: str,
        kind: str,
        departments: list[str],
        record_requests: list[UUID],
        raised_by: str,
        raised_at: datetime,
        raised_on: date,
    ) -> None:
        self.title, self.description, self.kind = title, description, kind
        self.departments = tuple(departments)
        self.record_requests = tuple(record_requests)
        self.raised_by, self.raised_at, self.raised_on = raised_by, raised_at, raised_on
        self.lead: str | None = None
        """The department that leads the fix, once assigned."""
        self.owner: str | None = None
        """The bureau's operator accountable for it between meetings, once assigned."""
        self.assignments: list[Assignment] = []
        self.discussions: list[Discussion] = []
        self.resolution: str | None = None
        self.resolved_by: str | None = None
        self.resolved_at: datetime | None = None
        self.resolved_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.resolution is None

    def _still_open(self, step: str) -> None:
        if not self.is_open:
            raise CoordinationError(f"the problem was resolved on {self.resolved_on}: it cannot be {step}")

    def assign(self, department: str, owner: str, by: str, at: datetime) -> None:
        """A lead department (one of those involved) and an owner; assigning again hands it over."""
        self._still_open("assigned")
        if department not in self.departments:
            raise CoordinationError(
                f"the lead is one of the departments involved ({', '.join(self.departments)})"
            )
        self._assigned(department, _text(owner, "owner"), by, at)

    @event(Assigned)
    def _assigned(self, department: str, owner: str, assigned_by: str, assigned_at: datetime) -> None:
        self.lead, self.owner = department, owner
        self.assignments.append(Assignment(department, owner, assigned_by, assigned_at))

    def discuss(self, note: str, meeting_on: date, by: str, at: datetime, today: date) -> None:
        """What a joint meeting said about it; the meeting's day is past or today, not before the
        problem was raised."""
        self._still_open("discussed")
        if meeting_on > today:
            raise DateRefused(
                f"meeting_on {meeting_on.isoformat()} lies in the future (today is {today.isoformat()})",
                "meeting_on",
            )
        if meeting_on < self.raised_on:
            raise DateRefused(
                f"meeting_on {meeting_on.isoformat()} is before the problem was raised "
                f"({self.raised_on.isoformat()})",
                "meeting_on",
            )
        self._discussed(_text(note, "note"), meeting_on, by, at)

    @event(Discussed)
    def _discussed(self, note: str, meeting_on: date, discussed_by: str, discussed_at: datetime) -> None:
        self.discussions.append(Discussion(note, meeting_on, discussed_by, discussed_at))

    @property
    def meetings(self) -> tuple[date, ...]:
        """The distinct days of the meetings that took it up, in order."""
        return tuple(sorted({d.meeting_on for d in self.discussions}))

    def resolve(self, resolution: str, by: str, at: datetime, on: date) -> None:
        """Resolved once, with what was agreed."""
        self._still_open("resolved again")
        self._resolved(_text(resolution, "resolution"), by, at, on)

    @event(Resolved)
    def _resolved(self, resolution: str, resolved_by: str, resolved_at: datetime, resolved_on: date) -> None:
        self.resolution = resolution
        self.resolved_by, self.resolved_at, self.resolved_on = resolved_by, resolved_at, resolved_on

    def days_to_resolve(self) -> int | None:
        """Days from raised to resolved; None while open."""
        return None if self.resolved_on is None else (self.resolved_on - self.raised_on).days
