"""Integration events in (eligibility's households, exit decisions and appeals; departments' employment
facts) and out (courses, referrals, enrolment, attendance, completion, employment).

In: the kit's inboxes on the ELIGIBILITY and DEPARTMENT streams; each batch's effects and its tracking
record are stored in one transaction, so a redelivered message changes nothing.
Out: the relay's translator, from the domain events of `services.training.domain`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from pydantic import BaseModel

from contracts import training as contract
from contracts.catalogue import EVENTS_BY_TYPE, EventSpec
from contracts.department import DepartmentFactReported
from contracts.eligibility import (
    AppealResolved,
    ExitDecided,
    HouseholdMembersChanged,
    HouseholdRegistered,
)
from services.kit.codec import Incoming, Outgoing
from services.kit.households import follow_rent_subsidy
from services.kit.inbox import Handler
from services.kit.runtime import Consumes, on
from services.kit.uow import UnitOfWork
from services.training.application import TrainingApp
from services.training.domain import Course, Referral

log = logging.getLogger(__name__)

REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.household-registered", 1)]
RENT_SUBSIDY_REGISTERED = EVENTS_BY_TYPE[("housing.eligibility.rent-subsidy-registered", 1)]
MEMBERS_CHANGED = EVENTS_BY_TYPE[("housing.eligibility.household-members-changed", 1)]
EXIT_DECIDED = EVENTS_BY_TYPE[("housing.eligibility.exit-decided", 1)]
APPEAL_RESOLVED = EVENTS_BY_TYPE[("housing.eligibility.appeal-resolved", 1)]
FACT_REPORTED = EVENTS_BY_TYPE[("housing.department.fact-reported", 1)]
OUT: dict[str, EventSpec] = {spec.name: spec for spec in contract.EVENTS}


def consumes(app: TrainingApp) -> tuple[Consumes, ...]:
    def fact_reported(incoming: Incoming, uow: UnitOfWork) -> None:
        report = incoming.payload
        assert isinstance(report, DepartmentFactReported)
        status = app.on_fact_reported(uow, report)
        if status == "unmatched":
            # Department and reference identify the record; never the person hash in a log line.
            log.info("employment fact %s/%s kept for an operator", report.department, report.reference)

    eligibility: dict[str, Handler] = {
        REGISTERED.type: on(HouseholdRegistered, app.on_household_registered),
        RENT_SUBSIDY_REGISTERED.type: follow_rent_subsidy(app.on_household_registered),
        MEMBERS_CHANGED.type: on(HouseholdMembersChanged, app.on_members_changed, unknown="ignore"),
        EXIT_DECIDED.type: on(ExitDecided, app.on_exit_decided, unknown="ignore"),
        APPEAL_RESOLVED.type: on(AppealResolved, app.on_appeal_resolved, unknown="ignore"),
    }
    return (
        Consumes("ELIGIBILITY", eligibility),
        Consumes("DEPARTMENT", {FACT_REPORTED.type: fact_reported}),
    )


Translator = Callable[[DomainEventProtocol[UUID]], list[Outgoing]]


def make_translator(app: TrainingApp) -> Translator:
    """Domain events → contract events. Attributes that never change (a course's code and estate, a
    referral's member, household and estate) are looked up once per aggregate and remembered."""
    courses: dict[UUID, tuple[str, str]] = {}
    people: dict[UUID, tuple[UUID, UUID, str]] = {}

    def course(course_id: UUID) -> tuple[str, str]:
        if course_id not in courses:
            aggregate: Any = app.repository.get(course_id)
            assert isinstance(aggregate, Course)
            courses[course_id] = (aggregate.code, aggregate.estate)
        return courses[course_id]

    def person(referral_id: UUID) -> tuple[UUID, UUID, str]:
        if referral_id not in people:
            aggregate: Any = app.repository.get(referral_id)
            assert isinstance(aggregate, Referral)
            people[referral_id] = (aggregate.member_id, aggregate.household_id, aggregate.estate)
        return people[referral_id]

    def out(name: str, subject: UUID, payload: BaseModel) -> list[Outgoing]:
        return [Outgoing(OUT[name], str(subject), payload)]

    def translate(domain_event: DomainEventProtocol[UUID]) -> list[Outgoing]:
        kind = type(domain_event).__qualname__
        e: Any = domain_event
        oid = domain_event.originator_id
        if kind == "Course.Scheduled":
            courses[oid] = (e.code, e.estate)
            sessions = [contract.CourseSession(on=s["on"], topic=s["topic"]) for s in e.sessions]
            return out(
                "course-scheduled",
                oid,
                contract.CourseScheduled(
                    course_id=oid,
                    code=e.code,
                    title=e.title,
                    provider=e.provider,
                    estate=e.estate,
                    capacity=e.capacity,
                    sessions=sessions,
                ),
            )
        if kind == "Referral.Made":
            people[oid] = (e.member_id, e.household_id, e.estate)
        if kind in ("Referral.Made", "Referral.Reopened"):
            member, household, estate = person(oid)
            return out(
                "referral-made",
                household,
                contract.ReferralMade(
                    household_id=household,
                    estate=estate,
                    referral_id=oid,
                    member_id=member,
                    source=e.source,
                    referred_on=e.referred_on,
                    referred_by=e.referred_by,
                ),
            )
        if kind == "Referral.Withdrawn":
            member, household, _ = person(oid)
            withdrawn = contract.ReferralWithdrawn(
                household_id=household, referral_id=oid, member_id=member, withdrawn_on=e.on, reason=e.reason
            )
            return out("referral-withdrawn", household, withdrawn)
        if kind in ("Course.Enrolled", "Course.Promoted"):
            member, household, estate = person(e.referral_id)
            code, _ = course(oid)
            enrolled = contract.TraineeEnrolled(
                household_id=household,
                estate=estate,
                referral_id=e.referral_id,
                member_id=member,
                course_id=oid,
                course_code=code,
                enrolled_on=e.on,
                promoted=kind == "Course.Promoted",
            )
            return out("trainee-enrolled", household, enrolled)
        if kind == "Referral.WaitListed":
            member, household, _ = person(oid)
            waiting = contract.TraineeWaitListed(
                household_id=household,
                referral_id=oid,
                member_id=member,
                course_id=e.course_id,
                course_code=course(e.course_id)[0],
                wait_listed_on=e.on,
                position=e.position,
            )
            return out("trainee-wait-listed", household, waiting)
        if kind == "Course.Left":
            member, household, _ = person(e.referral_id)
            ended = contract.EnrolmentEnded(
                household_id=household,
                referral_id=e.referral_id,
                member_id=member,
                course_id=oid,
                ended_on=e.on,
                reason=e.reason,
            )
            return out("enrolment-ended", household, ended)
        if kind == "Course.SessionHeld":
            code, estate = course(oid)
            held = contract.SessionHeld(
                course_id=oid,
                course_code=code,
                estate=estate,
                session=e.session,
                held_on=e.on,
                attendees=list(e.attendees),
            )
            return out("session-held", oid, held)
        if kind == "Referral.Finished":
            member, household, estate = person(oid)
            finished = contract.TrainingFinished(
                household_id=household,
                estate=estate,
                referral_id=oid,
                member_id=member,
                course_id=e.course_id,
                course_code=course(e.course_id)[0],
                outcome=e.outcome,
                finished_on=e.on,
                sessions_attended=e.attended,
                sessions_held=e.held,
            )
            return out("training-finished", household, finished)
        if kind == "Referral.EmploymentRecorded":
            member, household, estate = person(oid)
            employment = contract.EmploymentRecorded(
                household_id=household,
                estate=estate,
                referral_id=oid,
                member_id=member,
                employer=e.employer,
                start_date=e.start_date,
                verified_by=e.verified_by,
                reference=e.reference,
                operator_id=e.operator_id,
            )
            return out("employment-recorded", household, employment)
        if kind == "Referral.StableWorkConfirmed":
            member, household, estate = person(oid)
            stable = contract.StableEmploymentConfirmed(
                household_id=household,
                estate=estate,
                referral_id=oid,
                member_id=member,
                employer=e.employer,
                start_date=e.start_date,
                confirmed_on=e.on,
                months=e.months,
                verified_by=e.verified_by,
                basis=e.basis[:2000],
            )
            return out("stable-employment-confirmed", household, stable)
        return []

    return translate
