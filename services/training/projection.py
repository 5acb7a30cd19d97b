"""Training's read model: courses, referrals, evidence and the figures, folded from the notification log.

It is a projection of the service's own store (whichever replica or handler wrote to it), rebuilt from
the start on every process start, so it can be dropped at any time. Nothing here decides anything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID


@dataclass
class CourseView:
    course_id: UUID
    code: str
    title: str
    provider: str
    estate: str
    capacity: int
    sessions: list[dict[str, Any]]
    seats: dict[UUID, UUID] = field(default_factory=dict)  # referral → member
    waiting: list[UUID] = field(default_factory=list)
    held: dict[int, date] = field(default_factory=dict)
    attendance: dict[int, int] = field(default_factory=dict)
    late: dict[int, dict[str, Any]] = field(default_factory=dict)  # session → recorded_on, reason
    finished: dict[UUID, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "course_id": str(self.course_id),
            "code": self.code,
            "title": self.title,
            "provider": self.provider,
            "estate": self.estate,
            "capacity": self.capacity,
            "enrolled": len(self.seats),
            "seats_left": self.capacity - len(self.seats),
            "wait_listed": len(self.waiting),
            "sessions_scheduled": len(self.sessions),
            "sessions_held": len(self.held),
            "first_session": self.sessions[0]["on"].isoformat(),
            "last_session": self.sessions[-1]["on"].isoformat(),
            "completed": sum(1 for o in self.finished.values() if o == "completed"),
        }

    def detail(self, referrals: dict[UUID, ReferralView]) -> dict[str, Any]:
        def person(referral_id: UUID) -> dict[str, Any]:
            referral = referrals[referral_id]
            return {
                "referral_id": str(referral_id),
                "member_id": str(referral.member_id),
                "household_id": str(referral.household_id),
                "estate": referral.estate,
                "outcome": self.finished.get(referral_id),
            }

        return {
            **self.summary(),
            "schedule": [
                {
                    "session": number,
                    "on": s["on"].isoformat(),
                    "topic": s["topic"],
                    "held_on": self.held[number].isoformat() if number in self.held else None,
                    "attendees": self.attendance.get(number),
                    "recorded_late": number in self.late,
                    "recorded_on": (
                        self.late[number]["recorded_on"].isoformat() if number in self.late else None
                    ),
                    "late_reason": self.late[number]["reason"] if number in self.late else None,
                }
                for number, s in enumerate(self.sessions, start=1)
            ],
            "trainees": [person(r) for r in self.seats if r in referrals],
            "waiting_list": [person(r) for r in self.waiting if r in referrals],
        }


@dataclass
class ReferralView:
    referral_id: UUID
    member_id: UUID
    household_id: UUID
    estate: str
    source: str
    referred_on: date
    state: str = "open"
    course_id: UUID | None = None
    trained_on: UUID | None = None  # the course completed
    employment: dict[str, Any] | None = None
    stable: dict[str, Any] | None = None

    def as_dict(self, courses: dict[UUID, CourseView]) -> dict[str, Any]:
        course = courses.get(self.course_id) if self.course_id else None
        employment = None
        if self.employment is not None:
            employment = {
                **self.employment,
                "start_date": self.employment["start_date"].isoformat(),
                "stable": self.stable is not None,
                "stable_confirmed_on": self.stable["on"].isoformat() if self.stable else None,
            }
        return {
            "referral_id": str(self.referral_id),
            "member_id": str(self.member_id),
            "household_id": str(self.household_id),
            "estate": self.estate,
            "source": self.source,
            "referred_on": self.referred_on.isoformat(),
            "state": self.state,
            "course_id": str(self.course_id) if self.course_id else None,
            "course_code": course.code if course else None,
            "employment": employment,
        }


@dataclass
class EvidenceView:
    evidence_id: UUID
    department: str
    reference: str
    household_id: UUID | None
    estate: str | None
    employer: str
    start_date: date
    described_on: date
    reason: str
    state: str = "unmatched"
    referral_id: UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "evidence_id": str(self.evidence_id),
            "department": self.department,
            "reference": self.reference,
            "household_id": str(self.household_id) if self.household_id else None,
            "estate": self.estate,
            "employer": self.employer,
            "start_date": self.start_date.isoformat(),
            "described_on": self.described_on.isoformat(),
            "reason": self.reason,
            "state": self.state,
            "referral_id": str(self.referral_id) if self.referral_id else None,
        }


class Views:
    """The fold. `apply` takes the domain events of `services.training.domain` in log order."""

    def __init__(self) -> None:
        self.estates: dict[UUID, str] = {}  # household → estate
        self.courses: dict[UUID, CourseView] = {}
        self.codes: dict[str, UUID] = {}
        self.referrals: dict[UUID, ReferralView] = {}
        self.by_household: dict[UUID, list[UUID]] = {}
        self.evidence: dict[UUID, EvidenceView] = {}

    def apply(self, e: Any) -> None:
        kind = type(e).__qualname__
        oid: UUID = e.originator_id
        if kind == "Household.Registered":
            self.estates[oid] = e.estate
        elif kind == "Course.Scheduled":
            view = CourseView(oid, e.code, e.title, e.provider, e.estate, e.capacity, list(e.sessions))
            self.courses[oid] = view
            self.codes[e.code] = oid
        elif kind == "Course.Enrolled":
            self.courses[oid].seats[e.referral_id] = e.member_id
        elif kind == "Course.WaitListed":
            self.courses[oid].waiting.append(e.referral_id)
        elif kind == "Course.Left":
            course = self.courses[oid]
            if e.referral_id in course.waiting:
                course.waiting.remove(e.referral_id)
            course.seats.pop(e.referral_id, None)
        elif kind == "Course.Promoted":
            course = self.courses[oid]
            course.waiting.remove(e.referral_id)
            course.seats[e.referral_id] = self.referrals[e.referral_id].member_id
        elif kind == "Course.SessionHeld":
            course = self.courses[oid]
            course.held[e.session] = e.on
            course.attendance[e.session] = len(e.attendees)
            if getattr(e, "recorded_on", None) is not None:
                course.late[e.session] = {"recorded_on": e.recorded_on, "reason": e.late_reason}
        elif kind == "Course.Finished":
            self.courses[oid].finished[e.referral_id] = e.outcome
        elif kind == "Referral.Made":
            self.referrals[oid] = ReferralView(
                oid, e.member_id, e.household_id, e.estate, e.source, e.referred_on
            )
            self.by_household.setdefault(e.household_id, []).append(oid)
        else:
            self._apply_referral_or_evidence(kind, oid, e)

    def _apply_referral_or_evidence(self, kind: str, oid: UUID, e: Any) -> None:
        if kind.startswith("Referral."):
            referral = self.referrals[oid]
            if kind == "Referral.Reopened":
                referral.state, referral.course_id = "open", None
                referral.source, referral.referred_on = e.source, e.referred_on
            elif kind == "Referral.Withdrawn":
                referral.state, referral.course_id = "withdrawn", None
            elif kind == "Referral.Enrolled":
                referral.state, referral.course_id = "enrolled", e.course_id
            elif kind == "Referral.WaitListed":
                referral.state, referral.course_id = "wait_listed", e.course_id
            elif kind == "Referral.Left":
                referral.state, referral.course_id = "open", None
            elif kind == "Referral.Finished":
                referral.state = e.outcome
                if e.outcome == "completed" and referral.trained_on is None:
                    referral.trained_on = e.course_id
            elif kind == "Referral.EmploymentRecorded":
                referral.employment = {
                    "employer": e.employer,
                    "start_date": e.start_date,
                    "verified_by": e.verified_by,
                    "reference": e.reference,
                }
                referral.stable = None
            elif kind == "Referral.StableWorkConfirmed":
                referral.stable = {"on": e.on, "months": e.months, "verified_by": e.verified_by}
        elif kind == "EmploymentEvidence.Received":
            estate = self.estates.get(e.household_id) if e.household_id else None
            self.evidence[oid] = EvidenceView(
                oid,
                e.department,
                e.reference,
                e.household_id,
                estate,
                e.employer,
                e.start_date,
                e.described_on,
                e.reason,
            )
        elif kind == "EmploymentEvidence.Attributed":
            self.evidence[oid].state, self.evidence[oid].referral_id = "attributed", e.referral_id
        elif kind == "EmploymentEvidence.Dismissed":
            self.evidence[oid].state = "dismissed"

    # -- queries ----------------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        """The bureau's counts (Foshan: 16 sessions, 210 trained, 156 in stable work), by course and
        by estate. Sessions count by the course's estate; people by their household's estate. A person
        is counted as trained once (the first course they completed), employed and stable per person."""
        sessions_by_course: Counter[str] = Counter()
        sessions_by_estate: Counter[str] = Counter()
        for course in self.courses.values():
            if course.held:
                sessions_by_course[course.code] += len(course.held)
                sessions_by_estate[course.estate] += len(course.held)
        trained_by_course: Counter[str] = Counter()
        trained_by_estate: Counter[str] = Counter()
        employed_by_estate: Counter[str] = Counter()
        stable_by_course: Counter[str] = Counter()
        stable_by_estate: Counter[str] = Counter()
        referrals_by_state: Counter[str] = Counter()
        employed = stable = 0
        for referral in self.referrals.values():
            referrals_by_state[referral.state] += 1
            trained = self.courses.get(referral.trained_on) if referral.trained_on else None
            if trained is not None:
                trained_by_course[trained.code] += 1
                trained_by_estate[referral.estate] += 1
            if referral.employment is not None:
                employed += 1
                employed_by_estate[referral.estate] += 1
            if referral.stable is not None:
                stable += 1
                stable_by_estate[referral.estate] += 1
                stable_by_course[trained.code if trained else "(not completed)"] += 1
        return {
            "courses": len(self.courses),
            "sessions_held": sum(sessions_by_course.values()),
            "sessions_held_by_course": dict(sorted(sessions_by_course.items())),
            "sessions_held_by_estate": dict(sorted(sessions_by_estate.items())),
            "referrals_by_state": dict(sorted(referrals_by_state.items())),
            "people_trained": sum(trained_by_course.values()),
            "people_trained_by_course": dict(sorted(trained_by_course.items())),
            "people_trained_by_estate": dict(sorted(trained_by_estate.items())),
            "people_employed": employed,
            "people_employed_by_estate": dict(sorted(employed_by_estate.items())),
            "people_in_stable_work": stable,
            "people_in_stable_work_by_course": dict(sorted(stable_by_course.items())),
            "people_in_stable_work_by_estate": dict(sorted(stable_by_estate.items())),
            "employment_evidence_unmatched": sum(1 for v in self.evidence.values() if v.state == "unmatched"),
        }
