"""Integration events of the training context: payloads and their catalogue entries.

Training runs the skills courses offered to members of exiting households (with the human-resources
department): referrals, enrolment within a course's capacity, attendance, completion and the employment
that follows. A person is an opaque member id issued by eligibility: never a name or an ID number.
Events about a person carry the household id (the envelope's `subject`) and the household's estate, so
followers can count by estate; course events have the course id as subject.

The catalogue (`contracts.catalogue`) gathers `EVENTS` from here; nothing else in this module is
code, only data.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from contracts.base import Contract
from contracts.identifiers import Label, OperatorId, Text
from contracts.spec import EventSpec
from contracts.times import Day

__all__ = [
    "EVENTS",
    "CourseScheduled",
    "CourseSession",
    "EmploymentRecorded",
    "EnrolmentEnded",
    "ReferralMade",
    "ReferralSource",
    "ReferralWithdrawn",
    "SessionHeld",
    "StableEmploymentConfirmed",
    "TraineeEnrolled",
    "TraineeWaitListed",
    "TrainingFinished",
    "Verifier",
]

Employer = Annotated[str, StringConstraints(min_length=1, max_length=200)]

ReferralSource = Literal["exit_decision", "operator"]
"""Who referred: automatically from an exit decision (members of working age), or an operator."""

Verifier = Literal["human_resources", "social_insurance", "operator"]
"""Who verified an employment or its continuation: the human-resources department's report, a
social-insurance contribution from the employer, or an operator."""


class CourseSession(Contract):
    """One scheduled session of a course."""

    on: Day = Field(description="Day of the session.")
    topic: Text = Field(default="", description="What the session covers.")


class CourseScheduled(Contract):
    """A course was put on the catalogue: schedule, capacity, provider (subject: the course id)."""

    course_id: UUID = Field(description="The course.")
    code: Label = Field(description="Short code, e.g. `electrician-2027-1`.")
    title: Label = Field(description="What is taught, e.g. `Electrician`.")
    provider: Label = Field(description="Training provider (an organisation).")
    estate: Label = Field(description="Estate (or district venue) where the course is held.")
    capacity: int = Field(ge=1, le=10_000, description="Seats; enrolment never goes beyond it.")
    sessions: list[CourseSession] = Field(min_length=1, description="The schedule, in order.")


class ReferralMade(Contract):
    """A household member was referred to training (or referred again after a withdrawal)."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="The household's estate.")
    referral_id: UUID = Field(description="The referral (one per member).")
    member_id: UUID = Field(description="Opaque member id issued by eligibility.")
    source: ReferralSource
    referred_on: Day = Field(description="Date of the referral (the exit decision's date when automatic).")
    referred_by: OperatorId | None = Field(
        default=None, description="Operator who referred; none if automatic."
    )


class ReferralWithdrawn(Contract):
    """A referral not yet in a course was withdrawn (e.g. the exit decision was overturned on appeal)."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    referral_id: UUID
    member_id: UUID
    withdrawn_on: Day
    reason: Text = Field(description="Why, e.g. `exit decision overturned on appeal`.")


class TraineeEnrolled(Contract):
    """A referred member took a seat on a course (directly, or promoted from the waiting list)."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="The household's estate.")
    referral_id: UUID
    member_id: UUID
    course_id: UUID
    course_code: Label
    enrolled_on: Day
    promoted: bool = Field(description="Whether the seat came from the waiting list.")


class TraineeWaitListed(Contract):
    """The course was full: the member is on its waiting list, in order."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    referral_id: UUID
    member_id: UUID
    course_id: UUID
    course_code: Label
    wait_listed_on: Day
    position: int = Field(ge=1, description="Place on the waiting list when added.")


class EnrolmentEnded(Contract):
    """A member left a course (or its waiting list) before it finished; the referral is open again."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    referral_id: UUID
    member_id: UUID
    course_id: UUID
    ended_on: Day
    reason: Text


class SessionHeld(Contract):
    """A session of a course took place, with who attended (subject: the course id)."""

    course_id: UUID
    course_code: Label
    estate: Label = Field(description="Where the course is held.")
    session: int = Field(ge=1, description="Number of the session in the schedule (1-based).")
    held_on: Day
    attendees: list[UUID] = Field(description="Member ids of the enrolled trainees who attended.")


class TrainingFinished(Contract):
    """A trainee's course ended: completed (counts as trained), or not completed."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="The household's estate.")
    referral_id: UUID
    member_id: UUID
    course_id: UUID
    course_code: Label
    outcome: Literal["completed", "not_completed"]
    finished_on: Day
    sessions_attended: int = Field(ge=0)
    sessions_held: int = Field(ge=0)


class EmploymentRecorded(Contract):
    """A trainee started a job, verified by the human-resources department or by an operator."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="The household's estate.")
    referral_id: UUID
    member_id: UUID
    employer: Employer = Field(description="Employer (an organisation, not a person).")
    start_date: Day
    verified_by: Verifier
    reference: Annotated[str, StringConstraints(max_length=128)] = Field(
        default="", description="The department's reference of its record, when it verified."
    )
    operator_id: OperatorId | None = Field(
        default=None, description="Operator who recorded or attributed it."
    )


class StableEmploymentConfirmed(Contract):
    """The trainee is in stable work: still employed after the stated number of months."""

    household_id: UUID = Field(description="The household's id; also the envelope's `subject`.")
    estate: Label = Field(description="The household's estate.")
    referral_id: UUID
    member_id: UUID
    employer: Employer
    start_date: Day
    confirmed_on: Day = Field(description="The date the evidence describes (still employed then).")
    months: int = Field(ge=0, description="Whole months employed at `confirmed_on`.")
    verified_by: Verifier
    basis: Text = Field(description="The evidence: a department's record, or an operator's check.")


def _training(name: str, payload: type[Contract], summary: str) -> EventSpec:
    return EventSpec("training", name, 1, payload, summary, "training", ())


EVENTS: Final[tuple[EventSpec, ...]] = (
    _training("course-scheduled", CourseScheduled, "A course with its schedule, capacity and provider."),
    _training("referral-made", ReferralMade, "A household member was referred to training."),
    _training("referral-withdrawn", ReferralWithdrawn, "A referral not yet in a course was withdrawn."),
    _training("trainee-enrolled", TraineeEnrolled, "A referred member took a seat on a course."),
    _training("trainee-wait-listed", TraineeWaitListed, "The course was full: the member waits."),
    _training("enrolment-ended", EnrolmentEnded, "A member left a course or its waiting list early."),
    _training("session-held", SessionHeld, "A course session took place, with its attendance."),
    _training("training-finished", TrainingFinished, "A trainee completed a course, or did not."),
    _training("employment-recorded", EmploymentRecorded, "A trainee started a job (verified)."),
    _training(
        "stable-employment-confirmed",
        StableEmploymentConfirmed,
        "A trainee is still employed after the stated number of months: stable work.",
    ),
)
"""Every event the training service publishes, every version."""
