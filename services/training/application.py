"""Training's Application: commands (HTTP and inbox), the read model, the seed catalogue.

Concurrency: a command reads its aggregates, decides, and saves them in one transaction. When another
writer (a thread, or a replica on the same store) saved one of them first, the save fails on the event
store's version check, the kit evicts the stale copies from the cache, and the command runs again on
fresh state (`_retrying`). This is what keeps a course within capacity with any number of replicas.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import yaml
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts.department import Department, DepartmentFactReported, EmploymentFact, SocialInsuranceFact
from contracts.eligibility import AppealResolved, ExitDecided, HouseholdMembersChanged, HouseholdRegistered
from services.kit.clock import Clock
from services.kit.dating import Dated, DateRefused, happened
from services.kit.store import ServiceApplication
from services.kit.uow import UnitOfWork
from services.kit.views import Tail
from services.training import rules
from services.training.domain import (
    EMPLOYABLE_STATES,
    Course,
    EmploymentEvidence,
    Household,
    Referral,
    TrainingError,
)
from services.training.projection import Views
from services.training.settings import TrainingSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")

OVERTURN_REASON = "exit decision overturned on appeal"


class NotFound(LookupError):
    """The named course, referral, household, member or evidence is unknown here."""


@dataclass(frozen=True)
class CourseSpec:
    code: str
    title: str
    provider: str
    estate: str
    capacity: int
    sessions: list[tuple[date, str]]


def _members(payload: HouseholdRegistered | HouseholdMembersChanged) -> list[dict[str, Any]]:
    return [{"member_id": m.member_id, "birth_date": m.birth_date} for m in payload.members]


class TrainingApp(ServiceApplication):
    def __init__(
        self,
        settings: TrainingSettings,
        env: dict[str, str] | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, env, clock)
        self.config = settings
        self.params = rules.load(settings.training_parameters_dir)
        self.lock = threading.RLock()
        self.views = Views()
        self._seen = 0
        self._tail = Tail(self)
        self._attempt = threading.local()  # aggregates a command read, to refresh before a refusal

    # -- read model ------------------------------------------------------------------------------

    def catch_up(self) -> Views:
        """Fold what any writer stored since the last call; returns the views (read under `lock`)."""
        with self.lock:
            self._seen = self._tail.follow(self._seen, self.views.apply)
            return self.views

    # -- helpers ---------------------------------------------------------------------------------

    def _get(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} {aggregate_id} is not known here") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{aggregate_id} is not a {what}")
        loaded: list[Any] | None = getattr(self._attempt, "loaded", None)
        if loaded is not None:
            loaded.append(aggregate)
        return aggregate

    def _retrying(self, command: Callable[[], T]) -> T:
        """Run `command` again on fresh state while it loses version conflicts to other writers."""
        attempts = self.config.command_attempts
        refreshed = False
        for attempt in range(1, attempts + 1):
            self._attempt.loaded = []
            try:
                return command()
            except IntegrityError:
                if attempt == attempts:
                    raise
                time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # noqa: S311 (jitter, not crypto)
            except TrainingError:
                # The cache is not fast-forwarded (see `services.kit.store`): a refusal may rest on a
                # copy another replica has moved past. Decide once more on what the store holds.
                if refreshed or attempt == attempts:
                    raise
                refreshed = True
                self.evict(self._attempt.loaded)
            finally:
                self._attempt.loaded = None
        raise AssertionError("unreachable")

    def dated(
        self,
        requested: date | None,
        *,
        not_before: date | None = None,
        depends_on: str = "",
        reason: str | None = None,
        field: str = "on",
    ) -> Dated:
        """The day a command's step happened: today, or an earlier day inside the late-recording
        window (`late_recording_days`, dated parameter) with a reason, never before `not_before`."""
        today = self.today()
        return happened(
            requested,
            today,
            window_days=self.params.late_recording_days(today),
            not_before=not_before,
            depends_on=depends_on,
            reason=reason,
            field=field,
        )

    def scheduled_on(self, course: Course) -> date:
        """The city's date on which the course was scheduled (created here)."""
        return self.settings.local_date(course.created_on)

    # -- catalogue -------------------------------------------------------------------------------

    def schedule_course(self, spec: CourseSpec, by: str | None) -> UUID:
        course_id = Course.create_id(spec.code)
        try:
            self.repository.get(course_id)
        except AggregateNotFoundError:
            pass
        else:
            raise TrainingError(f"a course with code {spec.code!r} exists")
        sessions = sorted(spec.sessions)
        course = Course(
            spec.code,
            spec.title,
            spec.provider,
            spec.estate,
            spec.capacity,
            [{"on": on, "topic": topic} for on, topic in sessions],
            by,
        )
        try:
            self.save(course)
        except IntegrityError:
            raise TrainingError(f"a course with code {spec.code!r} exists") from None
        return course.id

    def seed_courses(self, path: Path | None) -> int:
        """Schedule the seed catalogue when no course exists yet; returns how many were scheduled."""
        if path is None or self.catch_up().courses:
            return 0
        if not path.is_file():
            log.warning("seed catalogue %s not found: no course scheduled", path)
            return 0
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        scheduled = 0
        for item in raw.get("courses", []):
            spec = CourseSpec(
                code=str(item["code"]),
                title=str(item["title"]),
                provider=str(item["provider"]),
                estate=str(item["estate"]),
                capacity=int(item["capacity"]),
                sessions=[(_as_date(s["day"]), str(s.get("topic", ""))) for s in item["sessions"]],
            )
            try:
                self.schedule_course(spec, None)
            except TrainingError:
                continue  # another replica seeded it first
            scheduled += 1
        if scheduled:
            log.info("seed catalogue: %s courses scheduled from %s", scheduled, path)
        return scheduled

    # -- referrals -------------------------------------------------------------------------------

    def refer(
        self,
        household_id: UUID,
        member_id: UUID,
        on: date | None,
        by: str,
        note: str,
        late_reason: str | None = None,
    ) -> tuple[UUID, bool]:
        """An operator refers a member of a known household; returns (referral id, newly referred).
        Only a member of working age (`working_age`, dated) on the referral's day is referred (422)."""

        def attempt() -> tuple[UUID, bool]:
            day = self.dated(on, reason=late_reason)
            household = self._get(household_id, Household, "household")
            if member_id not in household.member_ids():
                raise NotFound(f"member {member_id} is not in household {household_id}")
            referral_id = Referral.create_id(member_id)
            try:
                referral: Referral | None = self.repository.get(referral_id)
            except AggregateNotFoundError:
                referral = None
            if referral is not None and referral.state != "withdrawn":
                return referral.id, False
            self._check_working_age(household, member_id, day.on)
            recorded_on, reason = (day.recorded_on, day.reason) if day.late else (None, None)
            if referral is None:
                referral = Referral(
                    member_id,
                    household_id,
                    household.estate,
                    "operator",
                    day.on,
                    by,
                    note,
                    recorded_on,
                    reason,
                )
            else:
                referral.reopen("operator", day.on, by, note, recorded_on, reason)
            self.save(referral)
            return referral.id, True

        return self._retrying(attempt)

    def _check_working_age(self, household: Household, member_id: UUID, on: date) -> None:
        birth = household.birth_date(member_id)
        if birth is None:
            raise NotFound(f"member {member_id} is not in household {household.household_id}")
        if birth > self.today():
            raise TrainingError(
                f"the member's recorded birth date {birth.isoformat()} lies in the future: "
                "eligibility must correct it before a referral",
                422,
            )
        low, high = self.params.working_age(on)
        if not rules.of_working_age(birth, on, (low, high)):
            age = rules.age_on(birth, on)
            raise TrainingError(
                f"the member is {age} on {on.isoformat()}: referrals are for members of working age "
                f"({low} to {high}, parameter working_age)",
                422,
            )

    def withdraw_referral(
        self,
        referral_id: UUID,
        on: date | None,
        reason: str,
        by: str | None,
        late_reason: str | None = None,
    ) -> None:
        """Withdraw a referral not (yet) on a course; a waiting place is given up with it."""

        def attempt() -> None:
            referral = self._get(referral_id, Referral, "referral")
            day = self.dated(
                on, not_before=referral.referred_on, depends_on="the referral", reason=late_reason
            )
            changed: list[Any] = []
            if referral.state == "wait_listed" and referral.course_id is not None:
                course = self._get(referral.course_id, Course, "course")
                course.leave(referral.id, day.on, reason, by)
                changed.append(course)
            referral.withdraw(day.on, reason, by, day)
            self.save(*changed, referral)

        self._retrying(attempt)

    # -- enrolment, attendance, completion ----------------------------------------------------------

    def enrol(
        self,
        course_id: UUID,
        referral_id: UUID,
        on: date | None,
        by: str | None,
        late_reason: str | None = None,
    ) -> str:
        """A seat on the course, or its waiting list when full: `enrolled` or `wait_listed`. Dated
        today, or earlier (late) but never before the referral nor before the course was scheduled."""

        def attempt() -> str:
            course = self._get(course_id, Course, "course")
            referral = self._get(referral_id, Referral, "referral")
            referral.check_can_enrol()
            referred, scheduled = referral.referred_on, self.scheduled_on(course)
            day = self.dated(
                on,
                not_before=max(referred, scheduled),
                depends_on="the referral" if referred >= scheduled else "the course's scheduling",
                reason=late_reason,
            )
            status = course.enrol(
                referral.id, referral.member_id, referral.household_id, referral.estate, day.on, by
            )
            recorded_on, reason = (day.recorded_on, day.reason) if day.late else (None, None)
            if status == "enrolled":
                referral.enrolled(course.id, day.on, False, recorded_on, reason)
            else:
                referral.wait_listed(course.id, day.on, course.position(referral.id), recorded_on, reason)
            self.save(course, referral)
            return status

        return self._retrying(attempt)

    def leave(
        self,
        course_id: UUID,
        referral_id: UUID,
        on: date | None,
        reason: str,
        by: str | None,
        late_reason: str | None = None,
    ) -> UUID | None:
        """The person leaves the course (or its waiting list); returns the referral promoted to the seat.
        Dated today or, late, not before the day they joined (the promoted takes the seat that day)."""

        def attempt() -> UUID | None:
            course = self._get(course_id, Course, "course")
            referral = self._get(referral_id, Referral, "referral")
            place = course.seats.get(referral.id) or course.waiting_info.get(referral.id) or {}
            day = self.dated(
                on, not_before=place.get("since"), depends_on="joining the course", reason=late_reason
            )
            promoted_id = course.leave(referral.id, day.on, reason, by)
            recorded_on, late = (day.recorded_on, day.reason) if day.late else (None, None)
            referral.left(course.id, day.on, reason, recorded_on, late)
            changed: list[Any] = [course, referral]
            if promoted_id is not None:
                promoted = self._get(promoted_id, Referral, "referral")
                promoted.enrolled(course.id, day.on, True, recorded_on, late)
                changed.append(promoted)
            self.save(*changed)
            return promoted_id

        return self._retrying(attempt)

    def hold_session(
        self,
        course_id: UUID,
        session: int,
        held_on: date | None,
        attendees: list[UUID],
        by: str | None,
        late_reason: str | None = None,
    ) -> Dated:
        """Session `session` was held (default: today) with `attendees`. Refused (422) before its
        scheduled day has come; recorded late (earlier than today, with a reason) only inside the
        window and never before the scheduled day nor before the course was scheduled."""

        def attempt() -> Dated:
            course = self._get(course_id, Course, "course")
            planned, today = course.scheduled_day(session), self.today()
            if planned > today:
                raise DateRefused(
                    f"session {session} of {course.code} is scheduled for {planned.isoformat()}: "
                    f"its attendance cannot be recorded before that day (today is {today.isoformat()})",
                    "held_on",
                )
            scheduled = self.scheduled_on(course)
            held = self.dated(
                held_on,
                not_before=max(planned, scheduled),
                depends_on=(
                    f"session {session}'s scheduled day"
                    if planned >= scheduled
                    else "the course's scheduling"
                ),
                reason=late_reason,
                field="held_on",
            )
            course.hold_session(session, held, attendees, by)
            self.save(course)
            return held

        return self._retrying(attempt)

    def finish(
        self,
        course_id: UUID,
        referral_id: UUID,
        on: date | None,
        by: str | None,
        late_reason: str | None = None,
    ) -> dict[str, Any]:
        """The course ends for a trainee: `completed` only when they attended the sessions the
        completion rule requires of the course's scheduled sessions; `not_completed` once that can
        no longer happen; refused (409) while the course runs and they may still meet it."""

        def attempt() -> dict[str, Any]:
            course = self._get(course_id, Course, "course")
            referral = self._get(referral_id, Referral, "referral")
            if referral_id not in course.seats:
                raise TrainingError(f"the referral has no seat on course {course.code}", 404)
            since = course.seat_since(referral_id)
            last_held = max(course.held.values(), default=None)
            bounds = [
                (d, w) for d, w in ((since, "joining the course"), (last_held, "the last session held")) if d
            ]
            not_before, depends_on = max(bounds) if bounds else (None, "")
            day = self.dated(on, not_before=not_before, depends_on=depends_on, reason=late_reason)
            share = self.params.min_attendance_share(day.on)
            scheduled, held = len(course.sessions), len(course.held)
            attended, required = course.attended(referral_id), rules.required_sessions(scheduled, share)
            if rules.completed(attended, scheduled, share):
                outcome = "completed"
            elif rules.still_reachable(attended, held, scheduled, share):
                raise TrainingError(
                    f"course {course.code} is still running: {attended} of the {required} sessions "
                    f"required attended, {scheduled - held} of {scheduled} still to be held; the outcome "
                    "is decided once the requirement is met or can no longer be"
                )
            else:
                outcome = "not_completed"
            course.finish(referral_id, outcome, day, by)
            recorded_on, reason = (day.recorded_on, day.reason) if day.late else (None, None)
            referral.finished(course.id, outcome, day.on, attended, held, scheduled, recorded_on, reason)
            self.save(course, referral)
            return {
                "outcome": outcome,
                "sessions_attended": attended,
                "sessions_held": held,
                "sessions_scheduled": scheduled,
                "sessions_required": required,
                "min_attendance_share": str(share),
                "on": day.on.isoformat(),
                "recorded_late": day.late,
            }

        return self._retrying(attempt)

    # -- employment (operator) -------------------------------------------------------------------

    def record_employment(self, referral_id: UUID, employer: str, start_date: date, by: str) -> bool:
        """An operator verified a job; its start may not lie in the future (422)."""

        def attempt() -> bool:
            referral = self._get(referral_id, Referral, "referral")
            recorded = referral.record_employment(employer, start_date, "operator", "", by, self.today())
            self.save(referral)
            return recorded

        return self._retrying(attempt)

    def confirm_stable(
        self, referral_id: UUID, on: date | None, basis: str, by: str, late_reason: str | None = None
    ) -> dict[str, Any]:
        """An operator checked that the trainee is still employed on `on` (default today; earlier
        only inside the late-recording window, with a reason, never before the job's start). The
        6-month condition is counted from the recorded start to that day: refused (409) before."""

        def attempt() -> dict[str, Any]:
            referral = self._get(referral_id, Referral, "referral")
            if referral.employment is None:
                raise TrainingError("no employment is recorded for this trainee")
            start: date = referral.employment["start_date"]
            day = self.dated(on, not_before=start, depends_on="the job's start", reason=late_reason)
            required = self.params.stable_months(day.on)
            months = rules.whole_months(start, day.on)
            if months < required and referral.stable is None:
                raise TrainingError(
                    f"employed {months} whole months on {day.on.isoformat()}; stable work needs "
                    f"{required}, reached on {rules.stable_from(start, required).isoformat()}"
                )
            referral.confirm_stable(day.on, months, required, "operator", basis, by, day)
            self.save(referral)
            return {
                "months": months,
                "required_months": required,
                "on": day.on.isoformat(),
                "recorded_late": day.late,
            }

        return self._retrying(attempt)

    def attribute_evidence(self, evidence_id: UUID, referral_id: UUID, by: str) -> None:
        def attempt() -> None:
            evidence = self._get(evidence_id, EmploymentEvidence, "employment evidence")
            referral = self._get(referral_id, Referral, "referral")
            if evidence.household_id is not None and evidence.household_id != referral.household_id:
                raise TrainingError("the evidence names another household than the referral's", 422)
            evidence.attribute(referral.id, by)
            referral.record_employment(
                evidence.employer,
                evidence.start_date,
                "human_resources",
                evidence.reference,
                by,
                self.today(),
            )
            self._maybe_stable(referral, evidence.described_on, "human_resources", _basis(evidence))
            self.save(evidence, referral)

        self._retrying(attempt)

    def dismiss_evidence(self, evidence_id: UUID, reason: str, by: str) -> None:
        def attempt() -> None:
            evidence = self._get(evidence_id, EmploymentEvidence, "employment evidence")
            evidence.dismiss(reason, by)
            self.save(evidence)

        self._retrying(attempt)

    def _maybe_stable(self, referral: Referral, on: date, verified_by: str, basis: str) -> bool:
        """Confirm stable work when evidence dated `on` shows the current job held long enough."""
        employment = referral.employment
        if employment is None or referral.stable is not None:
            return False
        if on > self.today():
            return False  # evidence dated after today shows nothing yet: the months are not reached
        months = rules.whole_months(employment["start_date"], on)
        required = self.params.stable_months(on)
        if months < required:
            return False
        referral.confirm_stable(on, months, required, verified_by, basis, None)
        return True

    # -- inbox handlers --------------------------------------------------------------------------

    def on_household_registered(self, uow: UnitOfWork, payload: HouseholdRegistered) -> None:
        household = uow.find(payload.household_id, Household)
        if household is None:
            uow.add(Household(payload.household_id, payload.estate, _members(payload)))
        elif household.members != _members(payload):
            household.change_members(_members(payload))

    def on_members_changed(self, uow: UnitOfWork, payload: HouseholdMembersChanged) -> bool:
        household = uow.find(payload.household_id, Household)
        if household is None:
            return False
        if household.members != _members(payload):
            household.change_members(_members(payload))
        return True

    def on_exit_decided(self, uow: UnitOfWork, payload: ExitDecided) -> list[UUID] | None:
        """Refer every member of working age on the decision's date; returns the members referred."""
        household = uow.find(payload.household_id, Household)
        if household is None:
            return None
        if household.has_exit(payload.review_id):
            return []
        bounds = self.params.working_age(payload.decided_on)
        basis = f"exit decision of review {payload.review_id} ({payload.route})"
        to_refer: list[tuple[UUID, Referral | None]] = []
        for member in household.members:
            if not rules.of_working_age(member["birth_date"], payload.decided_on, bounds):
                continue
            member_id: UUID = member["member_id"]
            referral = uow.find(Referral.create_id(member_id), Referral)
            if referral is None or referral.state == "withdrawn":
                to_refer.append((member_id, referral))
        referred = [member_id for member_id, _ in to_refer]
        # The decision first, then what it caused (the timeline reads in that order).
        household.decide_exit(payload.review_id, payload.route, payload.decided_on, referred)
        for member_id, existing in to_refer:
            if existing is not None:
                existing.reopen("exit_decision", payload.decided_on, None, basis)
                continue
            uow.add(
                Referral(
                    member_id,
                    household.household_id,
                    household.estate,
                    "exit_decision",
                    payload.decided_on,
                    None,
                    basis,
                )
            )
        return referred

    def on_appeal_resolved(self, uow: UnitOfWork, payload: AppealResolved) -> list[UUID] | None:
        """An appeal that overturned the decision and keeps the household (`retain`) withdraws the
        referrals its exit decision made that are not yet in a course (open or waiting). Trainees
        already on a course keep their seat."""
        if not payload.overturned or payload.outcome != "retain":
            return []
        household = uow.find(payload.household_id, Household)
        if household is None:
            return None
        pending: list[Referral] = []
        for member_id in household.member_ids():
            referral = uow.find(Referral.create_id(member_id), Referral)
            if (
                referral is not None
                and referral.source == "exit_decision"
                and referral.state in ("open", "wait_listed")
            ):
                pending.append(referral)
        withdrawn = [referral.id for referral in pending]
        household.overturn_exit(payload.case_id, payload.resolved_on, withdrawn)
        for referral in pending:
            if referral.state == "wait_listed" and referral.course_id is not None:
                course = uow.get(referral.course_id, Course)
                course.leave(referral.id, payload.resolved_on, OVERTURN_REASON, None)
            referral.withdraw(payload.resolved_on, OVERTURN_REASON, None)
        return withdrawn

    def on_fact_reported(self, uow: UnitOfWork, report: DepartmentFactReported) -> str:
        """An employment (human resources) or social-insurance fact: `matched`, `continuing`,
        `unmatched`, `duplicate` or `ignored`."""
        fact = report.fact
        if isinstance(fact, EmploymentFact) and report.department == Department.HUMAN_RESOURCES:
            return self._employment_fact(uow, report, fact)
        if isinstance(fact, SocialInsuranceFact) and report.department == Department.SOCIAL_INSURANCE:
            return self._contribution_fact(uow, report, fact)
        return "ignored"

    def _trainees(self, uow: UnitOfWork, household: Household) -> tuple[list[Referral], bool]:
        """The household's referrals of people who are or were on a course, and whether it has any."""
        trainees: list[Referral] = []
        any_referral = False
        for member_id in household.member_ids():
            referral = uow.find(Referral.create_id(member_id), Referral)
            if referral is None:
                continue
            any_referral = True
            if referral.state in EMPLOYABLE_STATES:
                trainees.append(referral)
        return trainees, any_referral

    def _employment_fact(self, uow: UnitOfWork, report: DepartmentFactReported, fact: EmploymentFact) -> str:
        evidence_id = EmploymentEvidence.create_id(report.department.value, report.reference)
        if uow.find(evidence_id, EmploymentEvidence) is not None:
            return "duplicate"
        basis = f"{report.department.value} record {report.reference} of {report.described_on.isoformat()}"
        reason: str
        if report.household_id is None:
            reason = "names a person only; training matches by household"
        else:
            household = uow.find(report.household_id, Household)
            if household is None:
                return "ignored"
            trainees, any_referral = self._trainees(uow, household)
            starts_later = fact.start_date > self.today()
            if len(trainees) == 1 and not starts_later:
                referral = trainees[0]
                job = referral.employment
                if job is not None and job.get("reference") == report.reference:
                    return "duplicate"
                if job is not None and (job["employer"], job["start_date"]) == (
                    fact.employer,
                    fact.start_date,
                ):
                    self._maybe_stable(referral, report.described_on, "human_resources", basis)
                    return "continuing"
                referral.record_employment(
                    fact.employer, fact.start_date, "human_resources", report.reference, None
                )
                self._maybe_stable(referral, report.described_on, "human_resources", basis)
                return "matched"
            if not any_referral:
                return "ignored"  # nobody of this household is in the programme
            if starts_later and trainees:
                reason = (
                    f"the job starts on {fact.start_date.isoformat()}, after today: "
                    "attribute it once it has begun"
                )
            else:
                reason = (
                    f"{len(trainees)} trainees in the household"
                    if trainees
                    else "nobody of the household is or was on a course"
                )
        uow.add(
            EmploymentEvidence(
                report.department.value,
                report.reference,
                report.household_id,
                fact.employer,
                fact.start_date,
                report.described_on,
                reason,
            )
        )
        return "unmatched"

    def _contribution_fact(
        self, uow: UnitOfWork, report: DepartmentFactReported, fact: SocialInsuranceFact
    ) -> str:
        """A contribution from a trainee's employer, dated long enough after the start: stable work."""
        if report.household_id is None:
            return "ignored"
        household = uow.find(report.household_id, Household)
        if household is None:
            return "ignored"
        trainees, _ = self._trainees(uow, household)
        employed = [
            r for r in trainees if r.employment is not None and r.employment["employer"] == fact.employer
        ]
        if len(employed) != 1:
            return "ignored"  # no trainee, or several, with this employer: nothing certain to confirm
        basis = f"{report.department.value} record {report.reference} of {report.described_on.isoformat()}"
        return (
            "continuing"
            if self._maybe_stable(employed[0], report.described_on, "social_insurance", basis)
            else "ignored"
        )

    # -- timeline --------------------------------------------------------------------------------

    def household_aggregates(self, household_id: UUID) -> Iterable[UUID]:
        views = self.catch_up()
        with self.lock:
            ids = [household_id, *views.by_household.get(household_id, [])]
            ids += [e.evidence_id for e in views.evidence.values() if e.household_id == household_id]
        return ids


def _basis(evidence: EmploymentEvidence) -> str:
    return f"{evidence.department} record {evidence.reference} of {evidence.described_on.isoformat()}"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
