"""Monitoring's HTTP API: signal batches in, credentials and excuses, warnings and their investigation.

Signals posted here take the same road as those published on NATS: they are validated, then published
on the SIGNALS stream (as JSON arrays of up to 500) and folded by the intake. One road means one set of
rules for unknown units, dead letters and checkpoints; the response says what was refused as malformed
at once. An `Idempotency-Key` header makes a retried batch publish once (JetStream's duplicate window).

Every call carries the caller's service assertion (`services.kit.identity`). An inspector's step on a
warning (assign, confirm, dismiss, rectify) is taken in the caller's own name: the body's
`inspector_id`/`operator_id` must be the assertion's subject (the gateway sets it so), else 403. An
estate-scoped caller reads and acts on warnings, households, credentials and units of its estates only
(403 otherwise; lists filtered) and does not run the city-wide detection. Signal batches (door readers,
meters) are taken from any authenticated caller: they carry their own units, which the intake checks.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from contracts.envelope import MSG_ID_HEADER
from contracts.identifiers import OperatorId
from contracts.monitoring import CredentialKind, DoorAccess, UtilityReading
from contracts.timeline import Timeline
from services.kit.dating import not_in_future
from services.kit.http import IsoDate, Problem, problem_doc
from services.kit.identity import Authenticated, Caller
from services.kit.lines import line_problem
from services.kit.lines import parse_batch as parse_lines
from services.kit.paging import DEFAULT_LIMIT, Cursor, Limit, page_response
from services.kit.runtime import Runtime
from services.kit.timeline import timeline
from services.monitoring.application import MonitoringApp
from services.monitoring.domain import TransitionError, UnitRef
from services.monitoring.enrolment import Enrolment
from services.monitoring.errors import NotFound
from services.monitoring.handlers import DOOR_ACCESS, UTILITY_READING
from services.monitoring.intake import SIGNALS, publishable
from services.monitoring.timeline import describe

_DOOR: TypeAdapter[DoorAccess] = TypeAdapter(DoorAccess)
_READING: TypeAdapter[UtilityReading] = TypeAdapter(UtilityReading)
ENROLMENTS_MAX = 20_000
"""Credentials per batch (`POST /enrolments`): a city's busiest day of issuing cards, in one request."""


class CredentialIn(BaseModel):
    kind: CredentialKind
    credential_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    member_id: UUID


_CREDENTIAL: TypeAdapter[CredentialIn] = TypeAdapter(CredentialIn)


class ExcuseIn(BaseModel):
    member_id: UUID
    start: IsoDate
    end: IsoDate
    reason: str = Field(min_length=1, max_length=500, description="e.g. `hospital stay`")


StepDay = Annotated[
    IsoDate | None,
    Field(
        description=(
            "The day the step happened: today when omitted; earlier only with `reason_late`, at most "
            "`LATE_RECORDING_DAYS` back, never before the warning was raised or its previous step."
        )
    ),
]
LateReason = Annotated[
    str | None,
    Field(max_length=2000, description="Why the step is recorded after the day it happened."),
]


class AssignIn(BaseModel):
    inspector_id: OperatorId
    on: StepDay = None
    reason_late: LateReason = None


class ConfirmIn(BaseModel):
    inspector_id: OperatorId
    finding: Literal["vacant", "sublet", "lend"]
    note: str = Field(default="", max_length=2000)
    on: StepDay = None
    reason_late: LateReason = None


class DismissIn(BaseModel):
    inspector_id: OperatorId
    reason: str = Field(min_length=1, max_length=2000)
    on: StepDay = None
    reason_late: LateReason = None


class RectifyIn(BaseModel):
    operator_id: OperatorId
    note: str = Field(default="", max_length=2000)
    on: StepDay = None
    reason_late: LateReason = None


class Figures(BaseModel):
    """Monitoring's counts for the bureau's dashboard (numbers only)."""

    warnings_by_state: dict[str, int] = Field(
        description="Every warning ever raised, by state: raised, assigned, confirmed, dismissed, "
        "rectified, withdrawn."
    )
    warnings_by_condition: dict[str, int] = Field(description="Every warning, by condition suspected.")
    warnings_by_state_and_condition: dict[str, dict[str, int]] = Field(
        description="Every warning, by state, then by condition (vacancy, sublet_or_lend)."
    )
    open_warnings_by_condition: dict[str, int] = Field(description="Open warnings, by condition.")
    violations_confirmed_by_kind: dict[str, int] = Field(
        description="Warnings an inspector confirmed, by finding (vacant, sublet, lend)."
    )
    flats_monitored: int = Field(description="Flats a registered household holds now.")
    flats_unlet: int = Field(description="Flats held before and by no household now (not judged).")
    households_exit_decided: int = Field(description="Households with an exit decided, still in the flat.")
    households_exited: int = Field(description="Households that handed their flat back.")
    credentials_enrolled: int = Field(description="Door credentials enrolled (kept as keyed digests).")
    signals_ingested: int = Field(description="Door and utility signals folded since the book began.")
    signals_refused: int = Field(description="Signals refused (malformed, future, unknown unit or estate).")


def parse_batch(
    body: bytes, adapter: TypeAdapter[Any], limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A JSON array or NDJSON body → (valid signals in wire form, refusals with their index)."""
    text = body.strip()
    if text.startswith(b"["):
        try:
            raw_items: list[Any] = json.loads(text)
        except ValueError as exc:
            raise Problem(400, "Body is not JSON", str(exc)) from None
    else:
        raw_items = []
        for number, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    raw_items.append(json.loads(line))
                except ValueError:
                    raw_items.append({"__line__": number + 1})
    if len(raw_items) > limit:
        raise Problem(413, "Batch too large", f"at most {limit} signals per request")
    accepted: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(raw_items):
        try:
            accepted.append(adapter.validate_python(item).model_dump(mode="json"))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            rejected.append({"index": index, "reason": f"{where}: {first['msg']}"})
    return accepted, rejected


def in_own_name(who: Caller, named: str) -> None:
    """An inspector's step names the inspector who takes it: the verified caller, nobody else."""
    if named != who.subject:
        raise Problem(403, "Forbidden", "a step on a warning is taken in the caller's own name")


def router(app: MonitoringApp, runtime: Runtime) -> APIRouter:
    api = APIRouter()

    def household_in_scope(
        who: Caller, household_id: UUID | None = None, member_id: UUID | None = None
    ) -> None:
        """403 when the household (or the member's) is outside an estate-scoped caller's estates; one
        not registered here is left to the command's own 404."""
        if who.estates is None:
            return
        app.catch_up()
        with app.lock:
            if member_id is not None:
                household_id = app.register.member_household.get(member_id)
            view = None if household_id is None else app.register.households.get(household_id)
            if view is not None:
                who.check_estate(view.unit.estate)

    def warning_in_scope(who: Caller, warning_id: UUID) -> None:
        if who.estates is not None:
            try:
                who.check_estate(app.warning(warning_id).get("estate"))
            except NotFound as exc:
                raise Problem(404, "Unknown warning", str(exc)) from None

    async def take(
        request: Request, subject: str, adapter: TypeAdapter[Any], key: str | None
    ) -> dict[str, Any]:
        body = await request.body()
        limit = app.config.http_signals_max
        accepted, rejected = await asyncio.to_thread(parse_batch, body, adapter, limit)
        if rejected:
            SIGNALS.labels("malformed").inc(len(rejected))
            if not accepted:
                raise Problem(422, "No valid signal", "every signal was refused", rejected=rejected)
        if accepted:
            if runtime.nc is None or not runtime.nc.is_connected:
                raise Problem(503, "Bus unavailable", "NATS is not connected; retry the batch")
            js = runtime.nc.jetstream()
            batch = key or str(uuid4())
            acks = [
                await js.publish_async(subject, chunk, headers={MSG_ID_HEADER: f"http:{batch}:{i}"})
                for i, chunk in enumerate(publishable(accepted))
            ]
            # A PubAck has no deadline of its own (a connection lost after the publish leaves it
            # pending for ever): the caller gets a 503 to retry, which the message ids make harmless.
            try:
                await asyncio.wait_for(asyncio.gather(*acks), app.config.relay_publish_timeout_s)
            except TimeoutError:
                for ack in acks:
                    ack.cancel()
                raise Problem(
                    503,
                    "Bus unavailable",
                    "JetStream did not acknowledge the batch in time; send it again (same Idempotency-Key)",
                    headers={"Retry-After": "1"},
                ) from None
        return {"accepted": len(accepted), "rejected": rejected}

    def batch_of(adapter: TypeAdapter[Any]) -> dict[str, Any]:
        """The OpenAPI of a signal batch (read from the raw body, so FastAPI cannot say it)."""
        return {
            "requestBody": {
                "description": "A JSON array of signals, or NDJSON (`application/x-ndjson`, one per line).",
                "content": {
                    "application/json": {"schema": {"type": "array", "items": adapter.json_schema()}}
                },
            }
        }

    signal_responses: dict[int | str, dict[str, Any]] = {
        503: problem_doc("NATS is not connected: the batch was not taken; retry it")
    }

    @api.post(
        "/signals/door-access",
        status_code=202,
        tags=["signals"],
        openapi_extra=batch_of(_DOOR),
        responses=signal_responses,
    )
    async def post_door_access(
        request: Request, idempotency_key: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """Door openings as a JSON array or NDJSON; published to SIGNALS, folded by the intake. Signals
        that are malformed are listed in `rejected` and the others taken; 422 when none is valid."""
        return await take(request, DOOR_ACCESS.subject, _DOOR, idempotency_key)

    @api.post(
        "/signals/utility-readings",
        status_code=202,
        tags=["signals"],
        openapi_extra=batch_of(_READING),
        responses=signal_responses,
    )
    async def post_utility_readings(
        request: Request, idempotency_key: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """Monthly utility readings as a JSON array or NDJSON."""
        return await take(request, UTILITY_READING.subject, _READING, idempotency_key)

    @api.post("/credentials", status_code=201, tags=["register"])
    def enrol(body: CredentialIn, who: Authenticated) -> dict[str, str]:
        """Enrol a card or face credential to a registered member (person to flat)."""
        household_in_scope(who, member_id=body.member_id)
        try:
            unit = app.enrol_credential(body.kind, body.credential_id, body.member_id)
        except NotFound as exc:
            raise Problem(404, "Unknown member", str(exc)) from None
        return {"estate": unit.estate, "building": unit.building, "unit": unit.unit}

    @api.post(
        "/enrolments",
        tags=["register"],
        summary="Door credentials, many at once (JSON array or NDJSON), one commit",
        openapi_extra=batch_of(_CREDENTIAL),
    )
    async def enrol_many(request: Request, who: Authenticated) -> dict[str, Any]:
        """Each line a credential for a registered member, answered by line: `enrolled`, `moved` (it
        was another member's) or `unchanged`; an invalid line, an unknown member (404) or a flat outside
        an estate-scoped caller's estates (403) is a problem of its line and enrols nothing. Sent again,
        a batch changes nothing (every line `unchanged`). A batch without one valid line is 422."""
        lines, problems = parse_lines(await request.body(), request.headers.get("content-type", ""))
        if len(lines) + len(problems) > ENROLMENTS_MAX:
            raise Problem(413, "Batch too large", f"at most {ENROLMENTS_MAX} credentials per request")
        enrolments: list[Enrolment] = []
        for number, item in lines:
            try:
                body = CredentialIn.model_validate(item)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "(line)"
                problems.append(line_problem(number, where, first["msg"], "Invalid credential"))
                continue
            enrolments.append(Enrolment(number, body.kind, body.credential_id, body.member_id))
        if problems and not enrolments:  # nothing valid to enrol: the request itself is refused
            said = "; ".join(f"line {p['line']}: {p['field']}: {p['detail']}" for p in problems[:10])
            raise Problem(422, "Invalid credentials", said, problems=problems)
        results, refused = await asyncio.to_thread(app.enrol_credentials, enrolments, who.estates)
        statuses = Counter(r["status"] for r in results)
        return {
            **{status: statuses[status] for status in ("enrolled", "moved", "unchanged")},
            "results": results,
            "problems": sorted([*problems, *refused], key=lambda p: p["line"]),
        }

    @api.post("/households/{household_id}/excused-absences", status_code=201, tags=["register"])
    def excuse(household_id: UUID, body: ExcuseIn, who: Authenticated) -> dict[str, str]:
        """Record an accepted absence (hospital stay, care home) so vacancy does not count it."""
        household_in_scope(who, household_id)
        if body.end < body.start:
            raise Problem(422, "Invalid period", "end is before start")
        try:
            app.excuse_absence(household_id, body.member_id, body.start, body.end, body.reason)
        except NotFound as exc:
            raise Problem(404, "Unknown household or member", str(exc)) from None
        return {"status": "recorded"}

    @api.post("/detection/run", tags=["warnings"])
    def run_detection(who: Authenticated, as_of: IsoDate | None = None) -> dict[str, Any]:
        """Run every detector over every unit now (the intake also sweeps periodically)."""
        who.city_wide("detection")
        if as_of is not None:
            not_in_future(as_of, app.today(), "as_of", "a day detection judges")
        raised = app.detect(None, None if as_of is None else as_of.toordinal())
        return {"raised": [str(w) for w in raised]}

    @api.get("/warnings", tags=["warnings"], summary="Warnings by state and estate, riskiest first, a page")
    def open_warnings(
        request: Request,
        who: Authenticated,
        estate: str | None = None,
        state: Literal["raised", "assigned", "confirmed", "dismissed", "rectified", "withdrawn"]
        | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Open warnings (raised, assigned, confirmed), or those in `state`, highest risk first;
        optionally of one estate. Each carries its household's status and the exit decided, if any."""
        if estate is not None:
            who.check_estate(estate)
        return page_response(request, app.warnings_page(estate, state, who.sees_estate, limit, cursor))

    @api.get("/warnings/{warning_id}", tags=["warnings"])
    def get_warning(warning_id: UUID, who: Authenticated) -> dict[str, Any]:
        try:
            found = app.warning(warning_id)
        except NotFound as exc:
            raise Problem(404, "Unknown warning", str(exc)) from None
        who.check_estate(found.get("estate"))
        return found

    def step(call: Any) -> dict[str, str]:
        try:
            call()
        except NotFound as exc:
            raise Problem(404, "Unknown warning", str(exc)) from None
        except TransitionError as exc:
            raise Problem(409, "Not allowed in this state", str(exc)) from None
        return {"status": "ok"}

    @api.post("/warnings/{warning_id}/assign", tags=["warnings"])
    def assign(warning_id: UUID, body: AssignIn, who: Authenticated) -> dict[str, str]:
        in_own_name(who, body.inspector_id)
        warning_in_scope(who, warning_id)
        return step(lambda: app.assign(warning_id, body.inspector_id, body.on, body.reason_late))

    @api.post("/warnings/{warning_id}/confirm", tags=["warnings"])
    def confirm(warning_id: UUID, body: ConfirmIn, who: Authenticated) -> dict[str, str]:
        """Confirm on site; publishes the violation for penalties."""
        in_own_name(who, body.inspector_id)
        warning_in_scope(who, warning_id)
        return step(
            lambda: app.confirm(
                warning_id, body.inspector_id, body.finding, body.on, body.note, body.reason_late
            )
        )

    @api.post("/warnings/{warning_id}/dismiss", tags=["warnings"])
    def dismiss(warning_id: UUID, body: DismissIn, who: Authenticated) -> dict[str, str]:
        in_own_name(who, body.inspector_id)
        warning_in_scope(who, warning_id)
        return step(
            lambda: app.dismiss(warning_id, body.inspector_id, body.reason, body.on, body.reason_late)
        )

    @api.post("/warnings/{warning_id}/rectify", tags=["warnings"])
    def rectify(warning_id: UUID, body: RectifyIn, who: Authenticated) -> dict[str, str]:
        in_own_name(who, body.operator_id)
        warning_in_scope(who, warning_id)
        return step(lambda: app.rectify(warning_id, body.operator_id, body.on, body.note, body.reason_late))

    @api.get("/households/{household_id}", tags=["households"], summary="A household as monitoring sees it")
    def get_household(household_id: UUID, who: Authenticated) -> dict[str, Any]:
        """Its flat, status (`monitored`, `exit_decided`: still monitored during its transition, or
        `exited`), eligibility's decisions and department records noted, and its warnings."""
        try:
            found = app.household(household_id)
        except NotFound as exc:
            raise Problem(404, "Unknown household", str(exc)) from None
        who.check_estate(found.get("estate"))
        return found

    @api.get(
        "/households/{household_id}/timeline",
        tags=["households"],
        summary="The household's steps in monitoring, oldest first",
        response_model=Timeline,
    )
    def get_timeline(household_id: UUID, who: Authenticated) -> Timeline:
        """Register changes (registration, members, excused absences, credentials, decisions and
        records noted, the exit) and every warning's lifecycle; empty for a household unknown here."""
        household_in_scope(who, household_id)
        entries = timeline(app, app.household_aggregates(household_id), describe)
        return Timeline(household_id=household_id, entries=entries)

    @api.get(
        "/figures", tags=["figures"], summary="Counts for the bureau's dashboard", response_model=Figures
    )
    def get_figures() -> Figures:
        return Figures.model_validate(app.figures())

    @api.get("/units/occupancy", tags=["units"])
    def occupancy(
        estate: str,
        building: str,
        unit: str,
        who: Authenticated,
        days: Annotated[int, Query(ge=1, le=120)] = 30,
    ) -> dict[str, Any]:
        """A unit's occupancy history (daily openings, utilities) with its assessments and risk score;
        a flat no household holds now is `unlet` and not assessed."""
        who.check_estate(estate)
        try:
            return app.occupancy(UnitRef(estate, building, unit), days)
        except NotFound as exc:
            raise Problem(404, "Unknown unit", str(exc)) from None

    return api
