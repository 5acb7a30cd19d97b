"""A reviewer's request to a department for a record about a household under review (the seed's
mechanism 9: civil affairs verifies income and property, public security registration and actual
residence, finance and tax assets and tax data).

The automated first review cannot decide a household whose records are missing, stale or in conflict;
the manual re-review then asks the department that holds the record. The request names the department,
the kind of record (one of the facts that department reports, `contracts.department.REPORTS`) and the
persons it is about by person hash, never by ID number: the department matches the hash with the key it
shares with us. It is due a number of days after it was asked (the dated parameter of that department,
`record_answer_days_<department>`), and it ends once: answered with facts (their references are
recorded here; the facts themselves are recorded on the household as any department's are), or
declined with a reason ("no record", "cannot verify").

No I/O here: the capability that asks and answers is `services.eligibility.asking`.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import event

from services.kit.clock import Aggregate

REASONS = ("missing", "stale", "conflict", "doubt")
"""Why a reviewer asks: a rule said the record is missing, stale or in conflict, or the reviewer doubts it."""

DECLINED = ("no_record", "cannot_verify")
"""How a department answers without a record."""

FINDINGS = ("sublet", "lend", "vacant", "lives_there")
"""What public security finds when it verifies a household's actual residence (a verification task)."""

VERIFIER = "public_security"
"""The department that verifies actual residence (the seed's mechanism 9)."""


class RequestError(Exception):
    """A step the request's state refuses (answered twice, answered by another department)."""

    status = 409
    title = "Refused"


class NotYourRequest(RequestError):
    status = 403
    title = "Not addressed to you"


class RecordRequest(Aggregate):
    """One request for one kind of record from one department, about one household: from its review
    case, or (`case_id` None) from the household itself, when the automated review could not decide
    and so opened no case (`needs_manual`)."""

    class Asked(Aggregate.Created):
        case_id: UUID | None
        household_id: UUID
        region: str
        estate: str | None
        department: str
        kind: str
        persons: list[str]
        why: str
        rule: str | None
        note: str
        asked_by: str
        asked_at: datetime
        asked_on: date
        due_on: date
        warning_id: UUID | None = None
        """The occupancy warning a verification task for public security was raised from."""

    class Inspected(Aggregate.Event):
        household_id: UUID
        warning_id: UUID
        department: str
        finding: str
        note: str
        answered_by: str
        answered_at: datetime
        answered_on: date

    class Answered(Aggregate.Event):
        references: list[str]
        answered_by: str
        answered_at: datetime
        answered_on: date

    class Declined(Aggregate.Event):
        outcome: str
        reason: str
        answered_by: str
        answered_at: datetime
        answered_on: date

    @event(Asked)
    def __init__(
        self,
        case_id: UUID | None,
        household_id: UUID,
        region: str,
        estate: str | None,
        department: str,
        kind: str,
        persons: list[str],
        why: str,
        rule: str | None,
        note: str,
        asked_by: str,
        asked_at: datetime,
        asked_on: date,
        due_on: date,
        warning_id: UUID | None = None,
    ) -> None:
        self.case_id, self.household_id = case_id, household_id
        self.region, self.estate = region, estate
        self.department, self.kind = department, kind
        self.persons = tuple(persons)
        self.why, self.rule, self.note = why, rule, note
        self.asked_by, self.asked_at, self.asked_on, self.due_on = asked_by, asked_at, asked_on, due_on
        self.warning_id = warning_id
        self.finding: str | None = None
        self.outcome: str | None = None
        """None while open; `answered`, `inspected`, `no_record` or `cannot_verify` once it ended."""
        self.references: tuple[str, ...] = ()
        self.reason: str | None = None
        self.answered_by: str | None = None
        self.answered_at: datetime | None = None
        self.answered_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.outcome is None

    def overdue(self, today: date) -> bool:
        """Open past its due day."""
        return self.is_open and self.due_on < today

    def _answerable_by(self, department: str | None) -> None:
        if department != self.department:
            raise NotYourRequest(f"this request is addressed to {self.department}")
        if not self.is_open:
            raise RequestError(f"this request was answered already ({self.outcome})")

    def answer(self, department: str | None, references: list[str], by: str, at: datetime, on: date) -> None:
        """The department's facts (by their references) answer the request."""
        self._answerable_by(department)
        if not references:
            raise RequestError("an answer carries at least one fact")
        self._answered(references, by, at, on)

    @event(Answered)
    def _answered(
        self, references: list[str], answered_by: str, answered_at: datetime, answered_on: date
    ) -> None:
        self.outcome = "answered"
        self.references = tuple(references)
        self.answered_by, self.answered_at, self.answered_on = answered_by, answered_at, answered_on

    def decline(
        self, department: str | None, outcome: str, reason: str, by: str, at: datetime, on: date
    ) -> None:
        """No record to send, or the department cannot verify: said with a reason."""
        self._answerable_by(department)
        if outcome not in DECLINED:
            raise RequestError(f"a department answers without a record with one of {', '.join(DECLINED)}")
        if not reason.strip():
            raise RequestError("say why there is no record")
        self._declined(outcome, reason, by, at, on)

    @event(Declined)
    def _declined(
        self, outcome: str, reason: str, answered_by: str, answered_at: datetime, answered_on: date
    ) -> None:
        self.outcome, self.reason = outcome, reason
        self.answered_by, self.answered_at, self.answered_on = answered_by, answered_at, answered_on

    def inspect(
        self, department: str | None, finding: str, note: str, by: str, at: datetime, on: date
    ) -> None:
        """Public security's answer to a verification task: what it found at the flat."""
        self._answerable_by(department)
        if self.warning_id is None or self.department != VERIFIER:
            raise RequestError(
                "only a verification task from an occupancy warning is answered by an inspection"
            )
        if finding not in FINDINGS:
            raise RequestError(f"an inspection finds one of {', '.join(FINDINGS)}")
        self._inspected(self.household_id, self.warning_id, self.department, finding, note, by, at, on)

    @event(Inspected)
    def _inspected(
        self,
        household_id: UUID,
        warning_id: UUID,
        department: str,
        finding: str,
        note: str,
        answered_by: str,
        answered_at: datetime,
        answered_on: date,
    ) -> None:
        """The event names the household, the warning and who verified, so that the relay publishes
        `residence-verified` from it alone (services/eligibility/translate.py)."""
        self.outcome, self.finding, self.reason = "inspected", finding, note or None
        self.answered_by, self.answered_at, self.answered_on = answered_by, answered_at, answered_on
