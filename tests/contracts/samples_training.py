"""One valid wire payload per event of this context, by CloudEvents type (merged into SAMPLES)."""

from __future__ import annotations

from typing import Any

_HOUSEHOLD = "6a2f41a3-c54b-4d8a-9a0f-1c2b3d4e5f60"
_MEMBER = "1d7c0b2f-3a4e-4f60-9b0c-1d2e3f4a5b6c"
_REFERRAL = "5e8d1c3a-4b5f-5a70-8c1d-2e3f4a5b6c7d"
_COURSE = "8f9e0d1c-2b3a-5c4d-9e8f-7a6b5c4d3e2f"

SAMPLES: dict[str, dict[str, Any]] = {
    "housing.training.course-scheduled": {
        "course_id": _COURSE,
        "code": "electrician-2027-1",
        "title": "Electrician",
        "provider": "Foshan Vocational Training Centre",
        "estate": "Chancheng Garden",
        "capacity": 15,
        "sessions": [
            {"on": "2027-03-01", "topic": "Safety and regulations"},
            {"on": "2027-03-08", "topic": "Domestic wiring"},
        ],
    },
    "housing.training.referral-made": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "source": "exit_decision",
        "referred_on": "2027-02-10",
        "referred_by": None,
    },
    "housing.training.referral-withdrawn": {
        "household_id": _HOUSEHOLD,
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "withdrawn_on": "2027-02-20",
        "reason": "exit decision overturned on appeal",
    },
    "housing.training.trainee-enrolled": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "course_id": _COURSE,
        "course_code": "electrician-2027-1",
        "enrolled_on": "2027-02-15",
        "promoted": False,
    },
    "housing.training.trainee-wait-listed": {
        "household_id": _HOUSEHOLD,
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "course_id": _COURSE,
        "course_code": "electrician-2027-1",
        "wait_listed_on": "2027-02-15",
        "position": 2,
    },
    "housing.training.enrolment-ended": {
        "household_id": _HOUSEHOLD,
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "course_id": _COURSE,
        "ended_on": "2027-03-02",
        "reason": "moved to another city",
    },
    "housing.training.session-held": {
        "course_id": _COURSE,
        "course_code": "electrician-2027-1",
        "estate": "Chancheng Garden",
        "session": 1,
        "held_on": "2027-03-01",
        "attendees": [_MEMBER],
    },
    "housing.training.training-finished": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "course_id": _COURSE,
        "course_code": "electrician-2027-1",
        "outcome": "completed",
        "finished_on": "2027-04-30",
        "sessions_attended": 8,
        "sessions_held": 8,
    },
    "housing.training.employment-recorded": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "employer": "Shunde Electrical Installations Co.",
        "start_date": "2027-05-15",
        "verified_by": "human_resources",
        "reference": "RS-2027-004512",
        "operator_id": None,
    },
    "housing.training.stable-employment-confirmed": {
        "household_id": _HOUSEHOLD,
        "estate": "Chancheng Garden",
        "referral_id": _REFERRAL,
        "member_id": _MEMBER,
        "employer": "Shunde Electrical Installations Co.",
        "start_date": "2027-05-15",
        "confirmed_on": "2027-11-20",
        "months": 6,
        "verified_by": "human_resources",
        "basis": "social_insurance record SI-2027-889 of 2027-11-20",
    },
}
