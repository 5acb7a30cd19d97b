"""Training's aggregates and their rules (no I/O).

- `Household`: what training knows of an eligibility household (estate, members with birth dates) and
  of its exit decisions; its id is eligibility's household id.
- `Course`: a course of the catalogue with its schedule, capacity and provider, and its roster. Every
  enrolment is an event *on the course*, so two writers filling the last seat both save version n+1 of
  the same course and the event store's version check lets exactly one of them through: capacity holds
  with several replicas on one store, without a lock.
- `Referral`: one member's path through training (one per member): referred, enrolled or waiting, course
  finished, employment and stable work. Saved together with the course in the same transaction.
- `EmploymentEvidence`: a department's employment fact that matched no single trainee, kept for an
  operator to attribute (training holds no ID numbers, so it matches by household only).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.kit.clock import Aggregate
from services.kit.dating import Dated, not_in_future

NAMESPACE = UUID("6f1c0b7e-3d2a-4c5b-9e8f-7a6b5c4d3e21")

ReferralState = Literal["open", "enrolled", "wait_listed", "completed", "not_completed", "withdrawn"]
REFERRAL_STATES: tuple[str, ...] = (
    "open",
    "enrolled",
    "wait_listed",
    "completed",
    "not_completed",
    "withdrawn",
)
EMPLOYABLE_STATES = ("enrolled", "completed", "not_completed")
"""States in which a referral can have an employment recorded (the person is or was a trainee)."""


class TrainingError(ValueError):
    """A command the current state refuses; `status` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def late_of(dated: Dated | None) -> tuple[date | None, str | None]:
    """(recorded on, reason) of a step recorded late, (None, None) for one recorded on its day."""
    if dated is None or not dated.late:
        return None, None
    return dated.recorded_on, dated.reason


# -- households ---------------------------------------------------------------------------------------


class Household(Aggregate):
    """An eligibility household as training needs it: estate and members (id, birth date)."""

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return household_id

    class Registered(Aggregate.Created):
        household_id: UUID
        estate: str
        members: list[dict[str, Any]]

    @event(Registered)
    def __init__(self, household_id: UUID, estate: str, members: list[dict[str, Any]]) -> None:
        self.household_id = household_id
        self.estate = estate
        self.members = [dict(m) for m in members]
        self.exits: list[dict[str, Any]] = []

    def member_ids(self) -> list[UUID]:
        return [m["member_id"] for m in self.members]

    def birth_date(self, member_id: UUID) -> date | None:
        for member in self.members:
            if member["member_id"] == member_id:
                value: date = member["birth_date"]
                return value
        return None

    @event("MembersChanged")
    def change_members(self, members: list[dict[str, Any]]) -> None:
        self.members = [dict(m) for m in members]

    def has_exit(self, review_id: UUID) -> bool:
        return any(e["review_id"] == review_id for e in self.exits)

    @event("ExitDecided")
    def decide_exit(self, review_id: UUID, route: str, decided_on: date, referred: list[UUID]) -> None:
        """Recorded with the members it referred (for the timeline and the audit)."""
        self.exits.append({"review_id": review_id, "route": route, "on": decided_on})

    @event("ExitOverturned")
    def overturn_exit(self, case_id: UUID, resolved_on: date, withdrawn: list[UUID]) -> None:
        self.exits.append({"review_id": case_id, "route": "overturned", "on": resolved_on})


# -- courses ------------------------------------------------------------------------------------------


class Course(Aggregate):
    """A course and its roster.

    Seats: every enrolled trainee holds one until they leave early; finishing the course keeps the seat
    (the course had that many places). When the course is full a new enrolment goes on the waiting list,
    and a seat given up early goes to the first on the list in the same transaction.
    """

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(NAMESPACE, f"course/{code}")

    class Scheduled(Aggregate.Created):
        code: str
        title: str
        provider: str
        estate: str
        capacity: int
        sessions: list[dict[str, Any]]
        scheduled_by: str | None

    @event(Scheduled)
    def __init__(
        self,
        code: str,
        title: str,
        provider: str,
        estate: str,
        capacity: int,
        sessions: list[dict[str, Any]],
        scheduled_by: str | None,
    ) -> None:
        self.code, self.title, self.provider, self.estate = code, title, provider, estate
        self.capacity = capacity
        self.sessions = [dict(s) for s in sessions]
        self.seats: dict[UUID, dict[str, Any]] = {}  # referral id → member, household, estate
        self.waiting: list[UUID] = []
        self.waiting_info: dict[UUID, dict[str, Any]] = {}
        self.held: dict[int, date] = {}
        self.attendance: dict[int, list[UUID]] = {}
        self.finished: dict[UUID, str] = {}

    # queries

    @property
    def seats_left(self) -> int:
        return self.capacity - len(self.seats)

    @property
    def closed(self) -> bool:
        """Every session has been held: nobody can join any more."""
        return len(self.held) == len(self.sessions)

    def attended(self, referral_id: UUID) -> int:
        member = self.seats[referral_id]["member_id"]
        return sum(1 for attendees in self.attendance.values() if member in attendees)

    def position(self, referral_id: UUID) -> int:
        return self.waiting.index(referral_id) + 1

    # commands

    def enrol(
        self, referral_id: UUID, member_id: UUID, household_id: UUID, estate: str, on: date, by: str | None
    ) -> Literal["enrolled", "wait_listed"]:
        """A seat if one is free, else the waiting list. Refuses a second place for the same person."""
        if referral_id in self.seats or referral_id in self.waiting_info:
            raise TrainingError(f"the referral is already on course {self.code}")
        if self.closed:
            raise TrainingError(f"course {self.code} is over: every session has been held")
        if self.seats_left > 0:
            self._enrolled(referral_id, member_id, household_id, estate, on, by)
            return "enrolled"
        self._wait_listed(referral_id, member_id, household_id, estate, on, by)
        return "wait_listed"

    @event("Enrolled")
    def _enrolled(
        self, referral_id: UUID, member_id: UUID, household_id: UUID, estate: str, on: date, by: str | None
    ) -> None:
        self.seats[referral_id] = {
            "member_id": member_id,
            "household_id": household_id,
            "estate": estate,
            "since": on,
        }

    @event("WaitListed")
    def _wait_listed(
        self, referral_id: UUID, member_id: UUID, household_id: UUID, estate: str, on: date, by: str | None
    ) -> None:
        self.waiting.append(referral_id)
        self.waiting_info[referral_id] = {
            "member_id": member_id,
            "household_id": household_id,
            "estate": estate,
            "since": on,
        }

    def leave(self, referral_id: UUID, on: date, reason: str, by: str | None) -> UUID | None:
        """The person leaves the course or its waiting list; returns the referral promoted to the seat."""
        if referral_id in self.waiting_info:
            self._left(referral_id, on, reason, by)
            return None
        if referral_id not in self.seats:
            raise TrainingError(f"the referral is not on course {self.code}", 404)
        if referral_id in self.finished:
            raise TrainingError("the course is already finished for this trainee")
        self._left(referral_id, on, reason, by)
        if self.waiting and not self.closed:
            promoted = self.waiting[0]
            self._promoted(promoted, on)
            return promoted
        return None

    @event("Left")
    def _left(self, referral_id: UUID, on: date, reason: str, by: str | None) -> None:
        if referral_id in self.waiting_info:
            self.waiting.remove(referral_id)
            del self.waiting_info[referral_id]
        else:
            del self.seats[referral_id]

    @event("Promoted")
    def _promoted(self, referral_id: UUID, on: date) -> None:
        self.waiting.remove(referral_id)
        self.seats[referral_id] = {**self.waiting_info.pop(referral_id), "since": on}

    def scheduled_day(self, session: int) -> date:
        """The day session `session` (1-based) is scheduled for; 404 for a session the course lacks."""
        if not 1 <= session <= len(self.sessions):
            raise TrainingError(f"course {self.code} has sessions 1 to {len(self.sessions)}", 404)
        day: date = self.sessions[session - 1]["on"]
        return day

    def hold_session(self, session: int, held: Dated, attendees: list[UUID], by: str | None) -> None:
        """Session `session` (1-based) took place on `held.on`; `attendees` are member ids of trainees
        seated on that day. The day was checked by the caller (`services.kit.dating.happened`): not
        in the future, not before the session's scheduled day, inside the late-recording window."""
        self.scheduled_day(session)
        if session in self.held:
            raise TrainingError(f"session {session} of {self.code} was already recorded")
        seated = {
            seat["member_id"]: seat.get("since")
            for rid, seat in self.seats.items()
            if rid not in self.finished
        }
        strangers = [str(a) for a in attendees if a not in seated]
        if strangers:
            raise TrainingError(f"not trainees of {self.code}: {', '.join(strangers)}", 422)
        later = [str(a) for a in attendees if (seated[a] or held.on) > held.on]
        if later:
            raise TrainingError(
                f"enrolled on {self.code} after {held.on.isoformat()}, the day the session was held: "
                f"{', '.join(later)}",
                422,
            )
        late = held.late
        self._session_held(
            session,
            held.on,
            sorted(set(attendees), key=str),
            by,
            held.recorded_on if late else None,
            held.reason if late else None,
        )

    @event("SessionHeld")
    def _session_held(
        self,
        session: int,
        on: date,
        attendees: list[UUID],
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.held[session] = on
        self.attendance[session] = list(attendees)

    def seat_since(self, referral_id: UUID) -> date | None:
        """The day the trainee took the seat (None for seats taken before it was recorded)."""
        since: date | None = self.seats[referral_id].get("since")
        return since

    def finish(self, referral_id: UUID, outcome: str, done: Dated, by: str | None) -> tuple[int, int]:
        """The course ends for a trainee with `outcome` (decided by the caller from the completion
        rule); returns (sessions attended, sessions held)."""
        if referral_id not in self.seats:
            raise TrainingError(f"the referral has no seat on course {self.code}", 404)
        if referral_id in self.finished:
            raise TrainingError("the course is already finished for this trainee")
        attended, held = self.attended(referral_id), len(self.held)
        late = done.late
        self._finished(
            referral_id,
            outcome,
            done.on,
            attended,
            held,
            by,
            len(self.sessions),
            done.recorded_on if late else None,
            done.reason if late else None,
        )
        return attended, held

    @event("Finished")
    def _finished(
        self,
        referral_id: UUID,
        outcome: str,
        on: date,
        attended: int,
        held: int,
        by: str | None,
        scheduled: int | None = None,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.finished[referral_id] = outcome


# -- referrals ----------------------------------------------------------------------------------------


class Referral(Aggregate):
    """One member's path: referral, course, outcome, employment, stable work."""

    @staticmethod
    def create_id(member_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"referral/{member_id}")

    class Made(Aggregate.Created):
        member_id: UUID
        household_id: UUID
        estate: str
        source: str
        referred_on: date
        referred_by: str | None
        basis: str
        recorded_on: date | None
        late_reason: str | None

    @event(Made)
    def __init__(
        self,
        member_id: UUID,
        household_id: UUID,
        estate: str,
        source: str,
        referred_on: date,
        referred_by: str | None,
        basis: str,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.member_id, self.household_id, self.estate = member_id, household_id, estate
        self.source = source
        self.referred_on = referred_on
        self.state: str = "open"
        self.course_id: UUID | None = None
        self.employment: dict[str, Any] | None = None
        self.stable: dict[str, Any] | None = None

    @event("Reopened")
    def reopen(
        self,
        source: str,
        referred_on: date,
        referred_by: str | None,
        basis: str,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.source, self.referred_on, self.state, self.course_id = source, referred_on, "open", None

    def withdraw(self, on: date, reason: str, by: str | None, late: Dated | None = None) -> None:
        if self.state not in ("open", "wait_listed"):
            raise TrainingError(f"a referral that is {self.state} cannot be withdrawn")
        recorded_on, late_reason = late_of(late)
        self._withdrawn(on, reason, by, recorded_on, late_reason)

    @event("Withdrawn")
    def _withdrawn(
        self,
        on: date,
        reason: str,
        by: str | None,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.state, self.course_id = "withdrawn", None

    def check_can_enrol(self) -> None:
        if self.state != "open":
            raise TrainingError(f"the referral is {self.state}; only an open referral can enrol")

    @event("Enrolled")
    def enrolled(
        self,
        course_id: UUID,
        on: date,
        promoted: bool,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.state, self.course_id = "enrolled", course_id

    @event("WaitListed")
    def wait_listed(
        self,
        course_id: UUID,
        on: date,
        position: int,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.state, self.course_id = "wait_listed", course_id

    @event("Left")
    def left(
        self,
        course_id: UUID,
        on: date,
        reason: str,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.state, self.course_id = "open", None

    @event("Finished")
    def finished(
        self,
        course_id: UUID,
        outcome: str,
        on: date,
        attended: int,
        held: int,
        scheduled: int | None = None,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.state = outcome

    def record_employment(
        self,
        employer: str,
        start_date: date,
        verified_by: str,
        reference: str,
        operator_id: str | None,
        today: date | None = None,
    ) -> bool:
        """Record a job; False when this very job is already recorded (same employer and start).
        A job whose start lies after `today` (the service's date) has not begun: refused (422)."""
        if today is not None:
            not_in_future(start_date, today, "start_date", "the start of a job")
        if self.state not in EMPLOYABLE_STATES:
            raise TrainingError(f"the referral is {self.state}: only a trainee's employment is followed")
        current = self.employment
        if current is not None and (current["employer"], current["start_date"]) == (employer, start_date):
            return False
        self._employment_recorded(employer, start_date, verified_by, reference, operator_id)
        return True

    @event("EmploymentRecorded")
    def _employment_recorded(
        self, employer: str, start_date: date, verified_by: str, reference: str, operator_id: str | None
    ) -> None:
        self.employment = {
            "employer": employer,
            "start_date": start_date,
            "verified_by": verified_by,
            "reference": reference,
        }
        self.stable = None  # a new job starts its own count

    def confirm_stable(
        self,
        on: date,
        months: int,
        required: int,
        verified_by: str,
        basis: str,
        operator_id: str | None,
        late: Dated | None = None,
    ) -> None:
        """Stable work: evidence dated `months` ≥ `required` whole months after the start of the job.
        `on` is never after today (the caller dates it with `services.kit.dating`), so the condition
        is counted from the recorded start to a day that has come."""
        if self.employment is None:
            raise TrainingError("no employment is recorded for this trainee")
        if self.stable is not None:
            raise TrainingError("stable work is already confirmed for this job")
        if months < required:
            raise TrainingError(
                f"employed {months} whole months on {on.isoformat()}; stable work needs {required}"
            )
        employer, start_date = self.employment["employer"], self.employment["start_date"]
        recorded_on, late_reason = late_of(late)
        self._stable(
            employer, start_date, on, months, verified_by, basis, operator_id, recorded_on, late_reason
        )

    @event("StableWorkConfirmed")
    def _stable(
        self,
        employer: str,
        start_date: date,
        on: date,
        months: int,
        verified_by: str,
        basis: str,
        operator_id: str | None,
        recorded_on: date | None = None,
        late_reason: str | None = None,
    ) -> None:
        self.stable = {"on": on, "months": months, "verified_by": verified_by}


# -- unmatched employment evidence ------------------------------------------------------------------


class EmploymentEvidence(Aggregate):
    """A department's employment fact no single trainee could be matched to, for an operator."""

    @staticmethod
    def create_id(department: str, reference: str) -> UUID:
        return uuid5(NAMESPACE, f"evidence/{department}/{reference}")

    class Received(Aggregate.Created):
        department: str
        reference: str
        household_id: UUID | None
        employer: str
        start_date: date
        described_on: date
        reason: str

    @event(Received)
    def __init__(
        self,
        department: str,
        reference: str,
        household_id: UUID | None,
        employer: str,
        start_date: date,
        described_on: date,
        reason: str,
    ) -> None:
        self.department, self.reference, self.household_id = department, reference, household_id
        self.employer, self.start_date, self.described_on = employer, start_date, described_on
        self.state = "unmatched"

    def attribute(self, referral_id: UUID, by: str) -> None:
        if self.state != "unmatched":
            raise TrainingError(f"the evidence is already {self.state}")
        self._attributed(referral_id, by)

    @event("Attributed")
    def _attributed(self, referral_id: UUID, by: str) -> None:
        self.state = "attributed"

    def dismiss(self, reason: str, by: str) -> None:
        if self.state != "unmatched":
            raise TrainingError(f"the evidence is already {self.state}")
        self._dismissed(reason, by)

    @event("Dismissed")
    def _dismissed(self, reason: str, by: str) -> None:
        self.state = "dismissed"
