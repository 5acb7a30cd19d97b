"""Training's HTTP API: the course catalogue, referrals, enrolment, attendance, completion, employment,
unmatched employment evidence, a household's training, its timeline and the bureau's figures.

Every call carries the caller's service assertion (`services.kit.identity`, minted per call by the
gateway); who acts on a command is its verified subject, and the `household` and `auditor` roles may
only read. Dates in bodies default to today. Lists about households carry `household_id` and `estate`
so the gateway can filter by an operator's estates; one referral, course or employment fact is read by
its id, so the gateway checks one object without fetching a list. The same estate rules hold here from
the assertion's claims: an estate-scoped caller reads and acts on referrals, employment facts and
households of its estates, schedules courses and records attendance in its estates only (403
otherwise; lists filtered). The course catalogue is read by every caller, as at the gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from contracts.identifiers import Label, Text
from contracts.timeline import Timeline
from services.kit.http import IsoDate, Problem, problem_doc
from services.kit.identity import Authenticated, Caller
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response, paginate, time_key
from services.kit.timeline import Step, timeline
from services.training.application import CourseSpec, NotFound, TrainingApp
from services.training.domain import ReferralState, TrainingError
from services.training.rules import ParameterError

Employer = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LateReason = Annotated[
    Text | None,
    Field(
        description=(
            "Why the step is recorded after the day it happened: required when the day given is "
            "before today (at most `late_recording_days` back); the step is then shown as recorded late."
        )
    ),
]
OnDay = Annotated[
    IsoDate | None,
    Field(description="The day it happened: today when omitted; earlier only with `reason_late`."),
]
READ_ONLY_ROLES = ("household", "auditor")


class SessionIn(BaseModel):
    on: IsoDate
    topic: Text = ""


class CourseIn(BaseModel):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    title: Label
    provider: Label
    estate: Label = Field(description="Estate (or district venue) where the course is held.")
    capacity: int = Field(ge=1, le=10_000)
    sessions: list[SessionIn] = Field(min_length=1, max_length=500)


class EnrolIn(BaseModel):
    referral_id: UUID
    on: OnDay = None
    reason_late: LateReason = None


class LeaveIn(BaseModel):
    reason: Text
    on: OnDay = None
    reason_late: LateReason = None


class AttendanceIn(BaseModel):
    held_on: IsoDate | None = Field(
        default=None,
        description=(
            "The day the session was held: today when omitted; earlier only with `reason_late`, never "
            "before the session's scheduled day (a session scheduled after today: 422)."
        ),
    )
    attendees: list[UUID] = Field(
        max_length=10_000, description="Member ids of the trainees present (at most a course's capacity)."
    )
    reason_late: LateReason = None


class FinishIn(BaseModel):
    referral_id: UUID
    on: OnDay = None
    reason_late: LateReason = None


class ReferIn(BaseModel):
    household_id: UUID
    member_id: UUID
    note: Text = ""
    on: OnDay = None
    reason_late: LateReason = None


class WithdrawIn(BaseModel):
    reason: Text
    on: OnDay = None
    reason_late: LateReason = None


class EmploymentIn(BaseModel):
    employer: Employer
    start_date: IsoDate = Field(description="The job's first day: not after today (422).")


class StableIn(BaseModel):
    on: IsoDate | None = Field(
        default=None,
        description=(
            "Day the operator checked the trainee still works there: today when omitted; earlier only "
            "with `reason_late`. The 6 months are counted from the recorded start to this day."
        ),
    )
    basis: Text = Field(min_length=1, description="How it was checked (call to employer, contract, ...).")
    reason_late: LateReason = None


class AttributeIn(BaseModel):
    referral_id: UUID


class DismissIn(BaseModel):
    reason: Text = Field(min_length=1)


class EvidenceOut(BaseModel):
    """An employment fact a department reported that matched no trainee by itself; `estate` is the
    household's when the fact names one (None otherwise: only an every-estate operator sees it)."""

    evidence_id: UUID
    department: str
    reference: str
    household_id: UUID | None
    estate: str | None
    employer: str
    start_date: date
    described_on: date
    reason: str = Field(description="Why it was not attributed automatically.")
    state: Literal["unmatched", "attributed", "dismissed"]
    referral_id: UUID | None = Field(description="The referral it was attributed to.")


class Figures(BaseModel):
    """Counts for the bureau's dashboard (Foshan's: 16 sessions held, 210 trained, 156 in stable work)."""

    courses: int
    sessions_held: int
    sessions_held_by_course: dict[str, int]
    sessions_held_by_estate: dict[str, int]
    referrals_by_state: dict[str, int]
    people_trained: int
    people_trained_by_course: dict[str, int]
    people_trained_by_estate: dict[str, int]
    people_employed: int
    people_employed_by_estate: dict[str, int]
    people_in_stable_work: int
    people_in_stable_work_by_course: dict[str, int]
    people_in_stable_work_by_estate: dict[str, int]
    employment_evidence_unmatched: int


@contextmanager
def problems() -> Iterator[None]:
    """Domain refusals as problem+json."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except TrainingError as exc:
        raise Problem(exc.status, "Refused", str(exc)) from None
    except ParameterError as exc:
        raise Problem(409, "No rule in force", str(exc)) from None
    except IntegrityError:
        raise Problem(409, "Conflict", "concurrent changes kept winning; retry") from None


def operator(who: Caller) -> str:
    """Who acts on a command: the verified subject, if its role acts at all."""
    if who.role in READ_ONLY_ROLES:
        raise Problem(403, "Role not allowed", f"the {who.role} role may read, not act")
    return who.subject


def late(e: Any) -> str:
    """`" (recorded late on …: reason)"` for a step dated before the day it was recorded."""
    recorded_on = getattr(e, "recorded_on", None)
    if recorded_on is None:
        return ""
    return f" (recorded late on {recorded_on.isoformat()}: {getattr(e, 'late_reason', '') or ''})"


def describe(event: DomainEventProtocol[UUID]) -> Step | None:
    step = _describe(event)
    suffix = late(event)
    if step is None or not suffix:
        return step
    return Step(step.summary + suffix, step.actor, step.reason)


def _describe(event: DomainEventProtocol[UUID]) -> Step | None:
    kind = type(event).__qualname__
    e: Any = event
    by = getattr(e, "by", None) or getattr(e, "operator_id", None) or getattr(e, "referred_by", None)
    if kind == "Household.ExitDecided":
        count = len(e.referred)
        return Step(f"exit decided ({e.route}): {count} member(s) of working age referred to training")
    if kind == "Household.ExitOverturned":
        return Step(f"exit overturned on appeal: {len(e.withdrawn)} open referral(s) withdrawn")
    if kind in ("Referral.Made", "Referral.Reopened"):
        how = "automatically on the exit decision" if e.source == "exit_decision" else "by an operator"
        again = "" if kind == "Referral.Made" else " again"
        return Step(f"member referred to training{again} {how}", by, e.basis)
    if kind == "Referral.Withdrawn":
        return Step("referral withdrawn", by, e.reason)
    if kind == "Referral.Enrolled":
        return Step("enrolled on a course" + (" (from the waiting list)" if e.promoted else ""))
    if kind == "Referral.WaitListed":
        return Step(f"course full: waiting list, position {e.position}")
    if kind == "Referral.Left":
        return Step("left the course", None, e.reason)
    if kind == "Referral.Finished":
        return Step(f"course {e.outcome.replace('_', ' ')}: {e.attended} of {e.held} sessions attended")
    if kind == "Referral.EmploymentRecorded":
        return Step(
            f"employment from {e.start_date.isoformat()} verified by {e.verified_by}", by, e.reference
        )
    if kind == "Referral.StableWorkConfirmed":
        return Step(f"stable work: employed {e.months} months on {e.on.isoformat()}", by, e.basis)
    if kind == "EmploymentEvidence.Received":
        return Step("employment fact kept for an operator to attribute", None, e.reason)
    if kind == "EmploymentEvidence.Attributed":
        return Step("employment fact attributed to a trainee", by)
    if kind == "EmploymentEvidence.Dismissed":
        return Step("employment fact dismissed", by, e.reason)
    return None


def router(app: TrainingApp) -> APIRouter:
    api = APIRouter()

    def in_scope(who: Caller, kind: Literal["referral", "course", "evidence"], object_id: UUID) -> None:
        """403 when the referral, course or employment fact is outside an estate-scoped caller's
        estates; an unknown one is left to the command's own 404."""
        if who.estates is None:
            return
        views = app.catch_up()
        with app.lock:
            found: Any
            if kind == "referral":
                found = views.referrals.get(object_id)
            elif kind == "course":
                found = views.courses.get(object_id)
            else:
                found = views.evidence.get(object_id)
            if found is not None:
                who.check_estate(found.estate)

    # -- courses ----------------------------------------------------------------------------------

    @api.get("/courses", tags=["courses"], summary="The catalogue, with seats and sessions held")
    def list_courses(estate: str | None = None) -> list[dict[str, Any]]:
        views = app.catch_up()
        with app.lock:
            return [
                c.summary()
                for c in sorted(views.courses.values(), key=lambda c: (c.sessions[0]["on"], c.code))
                if estate is None or c.estate == estate
            ]

    @api.get("/courses/{course_id}", tags=["courses"], summary="A course: schedule, trainees, waiting list")
    def get_course(course_id: UUID) -> dict[str, Any]:
        views = app.catch_up()
        with app.lock:
            course = views.courses.get(course_id)
            if course is None:
                raise Problem(404, "Not found", f"course {course_id} is not known here")
            return course.detail(views.referrals)

    @api.post("/courses", tags=["courses"], status_code=201, summary="Schedule a course")
    def post_course(body: CourseIn, caller: Authenticated) -> dict[str, Any]:
        who = operator(caller)
        caller.check_estate(body.estate)
        spec = CourseSpec(
            body.code,
            body.title,
            body.provider,
            body.estate,
            body.capacity,
            [(s.on, s.topic) for s in body.sessions],
        )
        with problems():
            course_id = app.schedule_course(spec, who)
        return {"course_id": str(course_id), "code": body.code}

    @api.post(
        "/courses/{course_id}/enrolments",
        tags=["courses"],
        status_code=201,
        summary="Enrol a referred member: a seat, or the waiting list when the course is full",
    )
    def enrol(course_id: UUID, body: EnrolIn, caller: Authenticated) -> dict[str, Any]:
        who = operator(caller)
        in_scope(caller, "referral", body.referral_id)
        with problems():
            status = app.enrol(course_id, body.referral_id, body.on, who, body.reason_late)
        return {"course_id": str(course_id), "referral_id": str(body.referral_id), "status": status}

    @api.post(
        "/courses/{course_id}/enrolments/{referral_id}/leave",
        tags=["courses"],
        summary="Leave a course or its waiting list early (the seat goes to the first waiting)",
    )
    def leave(
        course_id: UUID,
        referral_id: UUID,
        body: LeaveIn,
        caller: Authenticated,
    ) -> dict[str, Any]:
        who = operator(caller)
        in_scope(caller, "referral", referral_id)
        with problems():
            promoted = app.leave(course_id, referral_id, body.on, body.reason, who, body.reason_late)
        return {"promoted_referral_id": str(promoted) if promoted else None}

    @api.post(
        "/courses/{course_id}/sessions/{session}/attendance",
        tags=["courses"],
        summary="A session was held: who attended (not before its scheduled day; late with a reason)",
    )
    def attendance(
        course_id: UUID,
        session: int,
        body: AttendanceIn,
        caller: Authenticated,
    ) -> dict[str, Any]:
        who = operator(caller)
        in_scope(caller, "course", course_id)
        with problems():
            held = app.hold_session(course_id, session, body.held_on, body.attendees, who, body.reason_late)
        return {
            "course_id": str(course_id),
            "session": session,
            "attendees": len(set(body.attendees)),
            "held_on": held.on.isoformat(),
            "recorded_late": held.late,
        }

    @api.post(
        "/courses/{course_id}/completions",
        tags=["courses"],
        summary=(
            "The course ends for a trainee: completed when the required sessions were attended, not "
            "completed once they no longer can be (409 while the course runs and they still can)"
        ),
    )
    def complete(course_id: UUID, body: FinishIn, caller: Authenticated) -> dict[str, Any]:
        who = operator(caller)
        in_scope(caller, "referral", body.referral_id)
        with problems():
            return app.finish(course_id, body.referral_id, body.on, who, body.reason_late)

    # -- referrals --------------------------------------------------------------------------------

    @api.get("/referrals", tags=["referrals"], summary="Referrals by state, estate or household, a page")
    def list_referrals(
        request: Request,
        who: Authenticated,
        state: ReferralState | None = None,
        estate: str | None = None,
        household_id: UUID | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """In the order they were made; an estate-scoped caller's estates only."""
        views = app.catch_up()
        with app.lock:
            chosen = (
                r
                for r in views.referrals.values()
                if (state is None or r.state == state)
                and (estate is None or r.estate == estate)
                and (household_id is None or r.household_id == household_id)
                and who.sees_estate(r.estate)
            )
            page = paginate(
                chosen, lambda r: time_key(r.referred_on, r.referral_id), limit=limit, cursor=cursor
            )
            return page_response(request, page.map(lambda r: r.as_dict(views.courses)))

    @api.get("/referrals/{referral_id}", tags=["referrals"], summary="One referral")
    def get_referral(referral_id: UUID, who: Authenticated) -> dict[str, Any]:
        views = app.catch_up()
        with app.lock:
            referral = views.referrals.get(referral_id)
            if referral is None:
                raise Problem(404, "Not found", f"referral {referral_id} is not known here")
            who.check_estate(referral.estate)
            return referral.as_dict(views.courses)

    @api.post(
        "/referrals",
        tags=["referrals"],
        status_code=201,
        summary="Refer a member of working age of a household (200 when the member is already referred)",
    )
    def refer(body: ReferIn, response: Response, caller: Authenticated) -> dict[str, Any]:
        who = operator(caller)
        if caller.estates is not None:
            with app.lock:
                caller.check_estate(app.catch_up().estates.get(body.household_id))
        with problems():
            referral_id, created = app.refer(
                body.household_id, body.member_id, body.on, who, body.note, body.reason_late
            )
        if not created:
            response.status_code = 200
        return {"referral_id": str(referral_id), "created": created}

    @api.post("/referrals/{referral_id}/withdraw", tags=["referrals"], summary="Withdraw a referral")
    def withdraw(referral_id: UUID, body: WithdrawIn, caller: Authenticated) -> dict[str, str]:
        who = operator(caller)
        in_scope(caller, "referral", referral_id)
        with problems():
            app.withdraw_referral(referral_id, body.on, body.reason, who, body.reason_late)
        return {"referral_id": str(referral_id), "state": "withdrawn"}

    @api.post(
        "/referrals/{referral_id}/employment",
        tags=["employment"],
        status_code=201,
        summary="An operator verified a trainee's new job",
    )
    def employment(referral_id: UUID, body: EmploymentIn, caller: Authenticated) -> dict[str, Any]:
        who = operator(caller)
        in_scope(caller, "referral", referral_id)
        with problems():
            recorded = app.record_employment(referral_id, body.employer, body.start_date, who)
        return {"referral_id": str(referral_id), "recorded": recorded}

    @api.post(
        "/referrals/{referral_id}/employment/stable",
        tags=["employment"],
        summary="An operator checked the trainee still works there (stable once the months are reached)",
    )
    def stable(referral_id: UUID, body: StableIn, caller: Authenticated) -> dict[str, Any]:
        who = operator(caller)
        in_scope(caller, "referral", referral_id)
        with problems():
            return app.confirm_stable(referral_id, body.on, body.basis, who, body.reason_late)

    # -- unmatched employment facts ---------------------------------------------------------------

    @api.get(
        "/employment-evidence", tags=["employment"], summary="Employment facts matched to no trainee, a page"
    )
    def list_evidence(
        request: Request,
        who: Authenticated,
        state: Literal["unmatched", "attributed", "dismissed"] | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """By the day they describe; an estate-scoped caller's estates only (a fact naming no
        household, hence no estate, is for every-estate callers)."""
        views = app.catch_up()
        with app.lock:
            chosen = (
                v
                for v in views.evidence.values()
                if (state is None or v.state == state)
                and (estate is None or v.estate == estate)
                and who.sees_estate(v.estate)
            )
            page = paginate(
                chosen,
                lambda v: (v.described_on.isoformat(), v.reference, str(v.evidence_id)),
                limit=limit,
                cursor=cursor,
            )
            return page_response(request, page.map(lambda v: v.as_dict()))

    @api.get(
        "/employment-evidence/{evidence_id}",
        tags=["employment"],
        summary="One employment fact",
        response_model=EvidenceOut,
        responses={404: problem_doc("No employment fact has this id")},
    )
    def get_evidence(evidence_id: UUID, who: Authenticated) -> dict[str, Any]:
        views = app.catch_up()
        with app.lock:
            found = views.evidence.get(evidence_id)
            if found is None:
                raise Problem(404, "Not found", f"employment fact {evidence_id} is not known here")
            who.check_estate(found.estate)
            return found.as_dict()

    @api.post(
        "/employment-evidence/{evidence_id}/attribute",
        tags=["employment"],
        summary="Attribute an unmatched employment fact to a trainee",
    )
    def attribute(evidence_id: UUID, body: AttributeIn, caller: Authenticated) -> dict[str, str]:
        who = operator(caller)
        in_scope(caller, "evidence", evidence_id)
        in_scope(caller, "referral", body.referral_id)
        with problems():
            app.attribute_evidence(evidence_id, body.referral_id, who)
        return {"evidence_id": str(evidence_id), "state": "attributed"}

    @api.post(
        "/employment-evidence/{evidence_id}/dismiss",
        tags=["employment"],
        summary="Dismiss an employment fact",
    )
    def dismiss(evidence_id: UUID, body: DismissIn, caller: Authenticated) -> dict[str, str]:
        who = operator(caller)
        in_scope(caller, "evidence", evidence_id)
        with problems():
            app.dismiss_evidence(evidence_id, body.reason, who)
        return {"evidence_id": str(evidence_id), "state": "dismissed"}

    # -- households, figures, parameters ----------------------------------------------------------

    @api.get("/households/{household_id}/training", tags=["households"], summary="A household's training")
    def household_training(household_id: UUID, who: Authenticated) -> dict[str, Any]:
        views = app.catch_up()
        with app.lock:
            estate = views.estates.get(household_id)
            referrals = [views.referrals[r] for r in views.by_household.get(household_id, [])]
            if estate is None and not referrals:
                raise Problem(404, "Not found", f"household {household_id} is not known here")
            who.check_estate(estate if estate is not None else referrals[0].estate)
            return {
                "household_id": str(household_id),
                "estate": estate,
                "referrals": [r.as_dict(views.courses) for r in referrals],
                "employment_evidence": [
                    v.as_dict() for v in views.evidence.values() if v.household_id == household_id
                ],
            }

    @api.get(
        "/households/{household_id}/timeline",
        tags=["households"],
        summary="What training did about a household, with trace ids",
        response_model=Timeline,
    )
    def household_timeline(household_id: UUID, who: Authenticated) -> Timeline:
        """Empty for a household training has not heard of; refused outside the caller's estates."""
        if who.estates is not None:
            with app.lock:
                estate = app.catch_up().estates.get(household_id)
            if estate is not None:
                who.check_estate(estate)
        entries = timeline(app, app.household_aggregates(household_id), describe)
        return Timeline(household_id=household_id, entries=entries)

    @api.get(
        "/figures",
        tags=["figures"],
        summary="Sessions held, people trained, in stable work",
        response_model=Figures,
    )
    def figures() -> Figures:
        views = app.catch_up()
        with app.lock:
            return Figures(**views.figures())

    @api.get("/parameters", tags=["figures"], summary="The dated rules in force on a day")
    def parameters(on: IsoDate | None = None) -> dict[str, Any]:
        day = on or app.today()
        return {"on": day.isoformat(), "rules": app.params.in_force(day)}

    return api
