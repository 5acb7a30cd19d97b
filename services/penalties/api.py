"""Penalties' HTTP API: ledgers, sanctions, transitions, notices and appeals; operator commands.

Who acts is what the caller's verified service assertion names (`services.kit.identity`, minted per
call by the gateway): every call carries one, and a command is attributed to its subject. Amounts are
decimal strings (never JSON floats). Problems are RFC 9457 problem+json: 401 no valid assertion, 403 a
role that may not take the step, a second step by the same person (four eyes on appeals: the domain's
rule, on the verified subject, so a caller that bypasses the gateway meets it too) or a household
outside the caller's estates (the gateway's object-level rule again: penalties knows each tenancy's,
sanction's and appeal's estate; lists are filtered, the overdue sweep is city-wide), 404 unknown, 409
a step that does not follow from the current state, 422 a sanction without a basis penalties has
seen, an appeal outside its window, or a date a command cannot take.

When a command happens is the service's business: today, the city's date by its clock. A caller may
only say that a step happened earlier (`on`), within `late_recording_days`, never in the future, never
before what it depends on, and with `reason_late` (422 otherwise, `services.kit.dating`); the step is
then shown as recorded late (`recorded`). No date moves a deadline: the overdue check takes none, and a
repossession is executed only once its deadline has passed by the service's day (409 otherwise).
Irreversible steps need four eyes: a repossession is executed by a supervisor on another officer's
proposal, and a credit-list entry an officer proposes is entered by another supervisor (403 "Four-eyes
principle" for the same person, 403 for another role).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts.timeline import Timeline
from services.kit.http import IsoDate, Problem, problem_doc
from services.kit.identity import Authenticated, Caller
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response
from services.kit.timeline import Step, timeline
from services.penalties.application import MAX_STATEMENT_MONTHS, NotFound, OutsideWindow, PenaltiesApp
from services.penalties.domain import (
    SANCTION_KINDS,
    VIOLATION_WORDS,
    BasisError,
    NotPermitted,
    RuleError,
    months_between,
    parse_month,
)
from services.penalties.parameters import ParameterError

T = TypeVar("T")

WRITE_ROLES = ("reviewer", "supervisor", "inspector", "admin")
"""Roles that may record sanctions' steps. Who may lodge and decide an appeal is the domain's rule
(`APPEAL_LODGERS`, `APPEAL_DECIDERS`, four eyes)."""

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def officer(who: Authenticated) -> Caller:
    """The caller, if its role records sanctions' steps."""
    if who.role not in WRITE_ROLES:
        raise Problem(403, "Role not allowed", f"role {who.role!r} may not change sanctions")
    return who


Officer = Annotated[Caller, Depends(officer)]


ON = (
    "The day the step happened, if earlier than today: within `late_recording_days`, never in the "
    "future nor before what it depends on, and with `reason_late`. Default: today."
)
REASON_LATE = "Why the step is recorded after the day it happened (required with an earlier `on`)."


class DatedIn(BaseModel):
    on: IsoDate | None = Field(default=None, description=ON)
    reason_late: str | None = Field(default=None, max_length=2000, description=REASON_LATE)


class SanctionIn(DatedIn):
    kind: Literal["rent_surcharge", "credit_list", "repossession"]
    violation: Literal["sublet", "lend", "vacant", "concealed_income", "concealed_assets", "overstaying"]
    basis_id: UUID = Field(
        description=(
            "A confirmed violation's warning id, an exit decision's review id, or an overdue plan's id."
        )
    )
    note: str = Field(default="", max_length=2000)


class StepIn(DatedIn):
    reason: str = Field(default="", max_length=2000)


class AppealIn(DatedIn):
    grounds: str = Field(min_length=1, max_length=2000)


class RecordedOut(BaseModel):
    on: date
    recorded_on: date
    recorded_late: bool
    late_reason: str | None


class AppealOut(BaseModel):
    """One appeal against a sanction; `estate` is the household's (the gateway's object-level check)."""

    appeal_id: UUID
    household_id: UUID
    estate: str
    sanction_id: UUID
    state: Literal["open", "upheld", "dismissed"]
    lodged_on: date
    lodged_by: str = Field(description="The operator who recorded the appeal; never its decider.")
    grounds: str
    resolved_on: date | None
    resolved_by: str | None = Field(description="The supervisor who decided it (four eyes).")
    note: str
    recorded: dict[str, RecordedOut] = Field(
        description="`lodged`, `resolved`: the day each happened and the day it was recorded."
    )


class ResolveIn(DatedIn):
    outcome: Literal["upheld", "dismissed"]
    note: str = Field(default="", max_length=2000)


def late(v: dict[str, Any], day: str = "on") -> str:
    """ " (recorded late on D: why)" for a step recorded after the day it happened, else ""."""
    recorded = v.get("recorded_on")
    if recorded is None or recorded == v.get(day):
        return ""
    return f" (happened {v.get(day)}, recorded late on {recorded}: {v.get('late_reason', '')})"


def describe(e: DomainEventProtocol[UUID]) -> Step | None:
    """A domain event in words for the household's timeline (no names, no ID numbers)."""
    kind = type(e).__qualname__
    v: dict[str, Any] = vars(e)
    words: dict[str, Callable[[], Step]] = {
        "Tenancy.Registered": lambda: Step(f"Tenancy recorded: base rent {v['base_rent']:.2f} yuan"),
        "Tenancy.ExitDecisionRecorded": lambda: Step(
            f"Exit decision received: route {v['route']}", reason=f"review {v['review_id']}"
        ),
        "Tenancy.ViolationRecorded": lambda: Step(
            f"Confirmed violation received: {v['violation']}", reason=f"warning {v['warning_id']}"
        ),
        "Tenancy.TransitionStarted": lambda: Step(
            f"{v['route'].capitalize()} plan started: {v['months']} months, exit due {v['exit_due_on']}",
            reason=f"review {v['review_id']}",
        ),
        "Tenancy.TransitionClosed": lambda: Step(f"Plan closed: {v['how']}"),
        "Tenancy.Adjusted": lambda: Step(v["explanation"], reason=f"cause {v['cause_id']}"),
        "Tenancy.AdjustmentEnded": lambda: Step(
            f"Rent adjustment ends after {v['last_month']:%Y-%m}", reason=v["reason"]
        ),
        "Tenancy.AdjustmentCancelled": lambda: Step(
            "Rent adjustment cancelled from its start", reason=v["reason"]
        ),
        "Tenancy.HoldPlaced": lambda: Step(
            "Rent adjustments suspended by an open appeal", reason=v["reason"]
        ),
        "Tenancy.HoldReleased": lambda: Step(f"Appeal closed ({v['outcome']}): suspension released"),
        "Tenancy.VoluntaryExitApplied": lambda: Step(
            "Voluntary exit applied for" + late(v, "applied_on"), actor=v["by"]
        ),
        "Tenancy.PurchaseHelpFlagged": lambda: Step("Flagged for purchase help"),
        "Tenancy.ExitCompleted": lambda: Step(f"Flat handed back ({v['how']}){late(v)}", actor=v["by"]),
        "Subsidy.Awarded": lambda: Step(f"Voluntary-exit subsidy awarded: {v['amount']:.2f} yuan"),
        "Sanction.Imposed": lambda: Step(
            ("Credit-list entry proposed" if v.get("awaiting_entry") else "Sanction imposed")
            + f": {v['kind']} for {v['violation']}{late(v, 'imposed_on')}",
            actor=v["imposed_by"],
            reason=f"{v['basis_kind']} {v['basis_id']}",
        ),
        "Sanction.Entered": lambda: Step(
            f"Credit-list entry entered until {v['ends_on']} (second pair of eyes)", actor=v["by"]
        ),
        "Sanction.ExecutionProposed": lambda: Step("Execution of the repossession proposed", actor=v["by"]),
        "Sanction.Changed": lambda: Step(
            f"Sanction {v['state']}{late(v)}", actor=v["by"], reason=v["reason"]
        ),
        "Appeal.Lodged": lambda: Step(
            "Appeal lodged against a sanction" + late(v, "lodged_on"), actor=v["lodged_by"]
        ),
        "Appeal.Resolved": lambda: Step(f"Appeal {v['outcome']}{late(v)}", actor=v["by"], reason=v["note"]),
        "Notice.Issued": lambda: Step(f"Notice issued: {v['title']}"),
        "Notice.Delivered": lambda: Step(f"Notice delivered ({v['channel']})"),
    }
    make = words.get(kind)
    return None if make is None else make()


def router(app: PenaltiesApp) -> APIRouter:
    api = APIRouter()

    def call(command: Callable[[], T]) -> T:
        try:
            return command()
        except NotFound as exc:
            raise Problem(404, "Not found", str(exc)) from None
        except BasisError as exc:
            raise Problem(
                422, "No basis for the sanction", str(exc), type_="/problems/sanction-without-basis"
            ) from None
        except OutsideWindow as exc:
            raise Problem(422, "Outside the appeal window", str(exc)) from None
        except NotPermitted as exc:
            raise Problem(403, exc.title, str(exc)) from None
        except RuleError as exc:
            raise Problem(409, "Not allowed in this state", str(exc)) from None
        except ParameterError as exc:  # a date before the first dated value of a policy parameter
            raise Problem(409, "No rule in force", str(exc)) from None
        except IntegrityError:
            raise Problem(409, "Conflict", "concurrent changes kept getting there first; retry") from None

    def household_in_scope(who: Caller, household_id: UUID) -> None:
        """404 for a household penalties does not know; 403 outside an estate-scoped caller's estates."""
        if who.estates is not None:
            who.check_estate(call(lambda: app.load_tenancy(household_id)).estate)

    def sanction_in_scope(who: Caller, sanction_id: UUID) -> None:
        if who.estates is not None:
            who.check_estate(call(lambda: app.get_sanction(sanction_id)).get("estate"))

    def appeal_in_scope(who: Caller, appeal_id: UUID) -> None:
        if who.estates is not None:
            who.check_estate(call(lambda: app.get_appeal(appeal_id)).get("estate"))

    # -- reads -----------------------------------------------------------------------------------------

    @api.get("/households/{household_id}/ledger", tags=["households"])
    def ledger(
        household_id: UUID,
        who: Authenticated,
        from_: Annotated[str | None, Query(alias="from", pattern=MONTH, description="`YYYY-MM`")] = None,
        to: Annotated[str | None, Query(pattern=MONTH, description="`YYYY-MM`")] = None,
    ) -> dict[str, Any]:
        """The rent ledger: base rent, every adjustment with its cause, and the rent due month by month
        (`from`, `to` as `YYYY-MM`; by default the tenancy's adjusted months up to now)."""
        try:
            first = None if from_ is None else parse_month(from_)
            last = None if to is None else parse_month(to)
        except ValueError:  # the pattern lets year 0000 through; `date` starts at year 1
            raise Problem(422, "Invalid period", "months run from 0001-01 to 9999-12") from None
        if first is not None and last is not None and last < first:
            raise Problem(422, "Invalid period", "`to` is before `from`")
        if first is not None and last is not None and months_between(first, last) >= MAX_STATEMENT_MONTHS:
            raise Problem(422, "Invalid period", f"a statement covers at most {MAX_STATEMENT_MONTHS} months")
        household_in_scope(who, household_id)
        return call(lambda: app.ledger(household_id, first, last))

    @api.get("/households/{household_id}/sanctions", tags=["households"])
    def household_sanctions(household_id: UUID, who: Authenticated) -> list[dict[str, Any]]:
        household_in_scope(who, household_id)
        return call(lambda: app.household_sanctions(household_id))

    @api.get("/households/{household_id}/notices", tags=["households"])
    def household_notices(household_id: UUID, who: Authenticated) -> list[dict[str, Any]]:
        """Every notice to the household, with its text and delivery record."""
        household_in_scope(who, household_id)
        return call(lambda: app.household_notices(household_id))

    @api.get("/households/{household_id}/subsidy", tags=["households"])
    def household_subsidy(household_id: UUID, who: Authenticated) -> dict[str, Any]:
        household_in_scope(who, household_id)
        subsidy = call(lambda: (app.load_tenancy(household_id), app.household_subsidy(household_id))[1])
        if subsidy is None:
            raise Problem(404, "No subsidy", f"household {household_id} was awarded no subsidy")
        return {"household_id": str(household_id), **subsidy}

    @api.get("/households/{household_id}/timeline", tags=["households"], response_model=Timeline)
    def household_timeline(household_id: UUID, who: Authenticated) -> Timeline:
        household_in_scope(who, household_id)
        ids = call(lambda: app.timeline_ids(household_id))
        return Timeline(household_id=household_id, entries=timeline(app, ids, describe))

    @api.get("/sanctions", tags=["sanctions"], summary="Sanctions by state and estate, a page")
    def sanctions(
        request: Request,
        who: Authenticated,
        state: Literal["proposed", "active", "issued", "notice_served", "executed", "lifted", "withdrawn"]
        | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """In the order they were imposed; an estate-scoped caller's estates only."""
        if estate is not None:
            who.check_estate(estate)
        return page_response(request, app.sanctions_page(state, estate, who.sees_estate, limit, cursor))

    @api.get("/sanctions/{sanction_id}", tags=["sanctions"])
    def get_sanction(sanction_id: UUID, who: Authenticated) -> dict[str, Any]:
        sanction = call(lambda: app.get_sanction(sanction_id))
        who.check_estate(sanction.get("estate"))
        return sanction

    @api.get("/transitions", tags=["transitions"], summary="Transition plans by state and estate, a page")
    def transitions(
        request: Request,
        who: Authenticated,
        state: Literal["active", "overdue", "exited", "withdrawn"] | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """In the order they started; an estate-scoped caller's estates only."""
        if estate is not None:
            who.check_estate(estate)
        return page_response(request, app.transitions_page(state, estate, who.sees_estate, limit, cursor))

    @api.get("/appeals", tags=["appeals"], summary="Appeals against sanctions by state and estate, a page")
    def appeals(
        request: Request,
        who: Authenticated,
        state: Literal["open", "upheld", "dismissed"] | None = None,
        estate: str | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """In the order they were lodged; an estate-scoped caller's estates only."""
        if estate is not None:
            who.check_estate(estate)
        return page_response(request, app.appeals_page(state, estate, who.sees_estate, limit, cursor))

    @api.get(
        "/appeals/{appeal_id}",
        tags=["appeals"],
        summary="One appeal",
        response_model=AppealOut,
        responses={404: problem_doc("No appeal has this id")},
    )
    def get_appeal(appeal_id: UUID, who: Authenticated) -> dict[str, Any]:
        appeal = call(lambda: app.get_appeal(appeal_id))
        who.check_estate(appeal.get("estate"))
        return appeal

    @api.get(
        "/figures",
        tags=["figures"],
        summary="Counts for the bureau's dashboard",
        description=(
            "households, transitions_active, transitions_by_state, sanctions_by_kind, "
            "sanctions_open_by_kind, households_penalised, credit_list_entries_open, repossessions_executed, "
            "appeals_open, subsidies_awarded, subsidies_total_fen (integer fen), notices_issued, "
            "notices_undelivered, exits_completed (by how)."
        ),
    )
    def figures() -> dict[str, Any]:
        return app.figures()

    @api.get("/parameters", tags=["parameters"])
    def parameters() -> list[dict[str, Any]]:
        """Every dated policy value (transition, surcharge, subsidy, windows)."""
        return app.table.as_list()

    # -- commands --------------------------------------------------------------------------------------

    @api.post("/households/{household_id}/voluntary-exit", tags=["incentives"])
    def voluntary_exit(household_id: UUID, body: DatedIn, who: Authenticated) -> dict[str, Any]:
        """The household applies to leave voluntarily; a low-income household (as eligibility decided)
        is awarded the one-time subsidy, once, whatever is retried."""
        household_in_scope(who, household_id)
        return call(
            lambda: app.apply_voluntarily(household_id, who.subject, on=body.on, reason_late=body.reason_late)
        )

    @api.post("/households/{household_id}/sanctions", tags=["sanctions"], status_code=201)
    def impose(household_id: UUID, body: SanctionIn, response: Response, who: Officer) -> dict[str, Any]:
        """A sanction on a basis penalties has seen (otherwise 422); the same kind on the same basis
        again returns the existing sanction (200). A credit-list entry is `proposed`: a supervisor
        other than the proposer enters it (`POST /sanctions/{id}/enter`)."""
        assert body.kind in SANCTION_KINDS and body.violation in VIOLATION_WORDS
        household_in_scope(who, household_id)
        sanction, created = call(
            lambda: app.impose(
                household_id,
                body.kind,
                body.violation,
                body.basis_id,
                who.subject,
                body.note,
                on=body.on,
                reason_late=body.reason_late,
            )
        )
        if not created:
            response.status_code = 200
        return sanction

    @api.post("/sanctions/{sanction_id}/serve-notice", tags=["sanctions"])
    def serve(sanction_id: UUID, body: DatedIn, who: Officer) -> dict[str, Any]:
        """Serve a repossession order's notice; its deadline counts from the day it is recorded."""
        sanction_in_scope(who, sanction_id)
        return call(
            lambda: app.serve_repossession(sanction_id, who.subject, on=body.on, reason_late=body.reason_late)
        )

    @api.post("/sanctions/{sanction_id}/propose-execution", tags=["sanctions"])
    def propose_execution(sanction_id: UUID, who: Officer) -> dict[str, Any]:
        """The first pair of eyes: propose carrying out a served order whose deadline has passed (409
        before it); a second supervisor executes it."""
        sanction_in_scope(who, sanction_id)
        return call(lambda: app.propose_execution(sanction_id, who.subject, role=who.role))

    @api.post("/sanctions/{sanction_id}/execute", tags=["sanctions"])
    def execute(sanction_id: UUID, body: DatedIn, who: Officer) -> dict[str, Any]:
        """Carry out a proposed repossession after its deadline (409 before it, whatever `on` says):
        a supervisor who did not propose it (403 another role, 403 the proposer too); publishes
        exit-completed."""
        sanction_in_scope(who, sanction_id)
        return call(
            lambda: app.execute_repossession(
                sanction_id, who.subject, role=who.role, on=body.on, reason_late=body.reason_late
            )
        )

    @api.post("/sanctions/{sanction_id}/enter", tags=["sanctions"])
    def enter(sanction_id: UUID, who: Officer) -> dict[str, Any]:
        """Enter a proposed credit-list entry today: a supervisor who did not propose it (403 another
        role, 403 the proposer too); the household is told, the entry's length and appeal window count
        from today."""
        sanction_in_scope(who, sanction_id)
        return call(lambda: app.enter_credit_list(sanction_id, who.subject, role=who.role))

    @api.post("/sanctions/{sanction_id}/lift", tags=["sanctions"])
    def lift(sanction_id: UUID, body: StepIn, who: Officer) -> dict[str, Any]:
        """End a sanction from now on (rectified); a surcharge's current month is its last."""
        reason = body.reason or "the violation was put right"
        sanction_in_scope(who, sanction_id)
        return call(
            lambda: app.lift(sanction_id, who.subject, reason, on=body.on, reason_late=body.reason_late)
        )

    @api.post("/sanctions/{sanction_id}/withdraw", tags=["sanctions"])
    def withdraw(sanction_id: UUID, body: StepIn, who: Officer) -> dict[str, Any]:
        """Withdraw a sanction from its start (imposed in error; a repossession no longer needed)."""
        if not body.reason:
            raise Problem(422, "Reason required", "say why the sanction is withdrawn")
        sanction_in_scope(who, sanction_id)
        return call(
            lambda: app.withdraw(
                sanction_id, who.subject, body.reason, on=body.on, reason_late=body.reason_late
            )
        )

    @api.post("/households/{household_id}/keys-returned", tags=["households"])
    def keys_returned(household_id: UUID, body: DatedIn, who: Officer) -> dict[str, Any]:
        """The household handed the flat back (409 without an exit decision; `on` never before the
        decision or the tenancy's start): the ledger closes; publishes exit-completed."""
        household_in_scope(who, household_id)
        return call(
            lambda: app.record_keys_returned(
                household_id, who.subject, on=body.on, reason_late=body.reason_late
            )
        )

    @api.post("/transitions/overdue-check", tags=["transitions"])
    def overdue_check(who: Officer) -> dict[str, Any]:
        """Turn plans whose exit date passed before today (the service's day; it takes no date) into
        overstaying violations with a surcharge (the process also runs this periodically). City-wide:
        not for an estate-scoped caller."""
        who.city_wide("the overdue check")
        sanctioned = call(app.overdue_check)
        return {"sanctioned": [str(s) for s in sanctioned]}

    @api.post("/sanctions/{sanction_id}/appeals", tags=["appeals"], status_code=201)
    def lodge(sanction_id: UUID, body: AppealIn, who: Authenticated) -> dict[str, Any]:
        """Lodge the household's appeal within the window; the sanction is suspended meanwhile. The
        household itself or an officer on its behalf records it (another role: 403)."""
        sanction_in_scope(who, sanction_id)
        return call(
            lambda: app.lodge_appeal(
                sanction_id,
                body.grounds,
                who.subject,
                role=who.role,
                on=body.on,
                reason_late=body.reason_late,
            )
        )

    @api.post("/appeals/{appeal_id}/resolve", tags=["appeals"])
    def resolve(appeal_id: UUID, body: ResolveIn, who: Authenticated) -> dict[str, Any]:
        """`upheld` withdraws the sanction from its start; `dismissed` lets it run again (suspended
        months become due). Decided by a supervisor (or admin) who neither recorded the appeal nor
        imposed the sanction (403 otherwise, on the verified subject)."""
        appeal_in_scope(who, appeal_id)
        return call(
            lambda: app.resolve_appeal(
                appeal_id,
                body.outcome,
                who.subject,
                body.note,
                role=who.role,
                on=body.on,
                reason_late=body.reason_late,
            )
        )

    return api
