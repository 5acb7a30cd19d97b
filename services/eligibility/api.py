"""Eligibility's HTTP API: households, department-fact intake, parameters, review cases, what-if.

Who acts is what the caller's verified service assertion names (`services.kit.identity`, minted per
call by the gateway): its `sub` and `role` (`reviewer`, `supervisor`, `assessor`, `household` may act
on cases). Every step of a case is attributed to that subject, so four eyes hold here too: a
supervisor cannot approve her own proposal whatever the caller. The gateway's object-level rules are
applied again from the assertion's claims: an estate-scoped caller reads and acts only on households
and cases of its estates (403 otherwise; lists are filtered), orders sweeps only for an estate of its
own, and sees the what-if counts of its estates only; a department system posts only its own
department's facts.

Amounts are decimal strings in and out (never JSON floats), as in the contracts. ID numbers are taken
by the registration endpoints and never returned: answers show the member's `person_hash` and a mask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from contracts.department import DepartmentFactReported
from contracts.identifiers import CityCode, OperatorId
from contracts.timeline import Timeline
from services.eligibility import identity, rules
from services.eligibility.application import (
    Actor,
    EligibilityApp,
    MemberInput,
    NotFound,
    Refused,
    Registration,
    RegistrationStatus,
    TenancyInput,
)
from services.eligibility.domain import CaseError, Household, RentSubsidy, ReviewCase
from services.eligibility.intake import future_fact
from services.eligibility.queries import figures, reviewer_report, what_if
from services.eligibility.timeline import household_timeline
from services.kit.dating import InvalidField, not_in_future
from services.kit.http import PROBLEM_JSON, IsoDate, Problem
from services.kit.identity import Authenticated, Caller
from services.kit.lines import line_problem, parse_batch
from services.kit.paging import DEFAULT_LIMIT, Cursor, Key, Limit, page_response, paginate, time_key

Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Role = Literal["reviewer", "supervisor", "assessor", "household"]
CaseStatus = Literal["open", "proposed", "assessment", "decided", "appealed"]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]

_AMOUNT_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")


def _amount_text(value: object) -> object:
    """Only what the documented pattern says: a decimal string (a JSON number would be a float)."""
    if not isinstance(value, str) or _AMOUNT_TEXT.fullmatch(value) is None:
        raise ValueError('must be a decimal string such as "3960.00" (at most 12 digits and 2 decimals)')
    return value


DecimalText = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
            "description": "A non-negative decimal string, at most 12 digits and 2 decimals.",
            "examples": ["3960.00"],
        }
    ),
]
"""A parameter value (yuan or m², the rule's unit): documented as the string pattern it must match, so
a client (or a fuzzer) knows from the OpenAPI document alone what is accepted (`contracts.money.Yuan`
also takes a JSON integer its schema does not mention)."""

Money = Annotated[DecimalText, AfterValidator(lambda amount: amount.quantize(Decimal("0.01")))]
"""Yuan in a request: a decimal string, kept to the fen."""


class NotAnIdNumber(InvalidField):
    title = "Not a resident ID number"


class MemberIn(BaseModel):
    id_number: Annotated[str, StringConstraints(min_length=15, max_length=24)] = Field(
        description="Resident ID number (18 characters, the last a check digit or X; 422 otherwise); "
        "hashed and kept only in eligibility's store, never returned."
    )
    birth_date: IsoDate = Field(description="Date of birth; not after today (the city's date).")
    disabled: StrictBool = False


def born_by(members: list[MemberIn], today: date, prefix: str = "members") -> None:
    """Every member's ID number well formed (`identity.is_valid`) and birth on or before `today`; else
    422 naming the member's field. A malformed number is invalid input, not a state the household is
    in; the message never quotes it. (A domain check, not the schema's: the check digit is no pattern.)"""
    for index, member in enumerate(members):
        if not identity.is_valid(member.id_number):
            message = "not a resident ID number: 17 digits and a final digit or X, with a valid check digit"
            raise NotAnIdNumber(message, f"{prefix}.{index}.id_number")
        not_in_future(member.birth_date, today, f"{prefix}.{index}.birth_date", "a birth")


class TenancyHouseholdIn(BaseModel):
    """A household in a unit of a subsidised estate."""

    model_config = ConfigDict(extra="forbid", title="HouseholdInUnit")

    reference: Reference | None = Field(
        default=None,
        description="The registering office's own number: a registration sent again is a duplicate.",
    )
    region: CityCode
    estate: Label
    building: Label
    unit: Label
    base_rent: Money
    tenancy_start: IsoDate
    members: list[MemberIn] = Field(min_length=1)


class RentSubsidyHouseholdIn(BaseModel):
    """A household renting on the market with a monthly rent subsidy: no estate, building or unit."""

    model_config = ConfigDict(extra="forbid", title="HouseholdOnRentSubsidy")

    reference: Reference | None = Field(
        default=None,
        description="The registering office's own number: a registration sent again is a duplicate.",
    )
    region: CityCode
    district: Label | None = Field(default=None, description="District the household lives in, when known.")
    monthly_subsidy: Money
    subsidy_start: IsoDate
    members: list[MemberIn] = Field(min_length=1)


def _housing_of(body: Any) -> str:
    """Which kind of household a body describes: one naming a subsidy is on a rent subsidy (and is
    then refused if it also names a unit), any other is in a unit. Errors name one kind's fields."""
    if isinstance(body, dict):
        return "rent_subsidy" if {"monthly_subsidy", "subsidy_start"} & body.keys() else "tenancy"
    return "rent_subsidy" if isinstance(body, RentSubsidyHouseholdIn) else "tenancy"


HouseholdIn = Annotated[
    Annotated[TenancyHouseholdIn, Tag("tenancy")] | Annotated[RentSubsidyHouseholdIn, Tag("rent_subsidy")],
    Discriminator(_housing_of),
]
HOUSEHOLD_IN: TypeAdapter[TenancyHouseholdIn | RentSubsidyHouseholdIn] = TypeAdapter(HouseholdIn)  # type: ignore[arg-type]


def registration(body: TenancyHouseholdIn | RentSubsidyHouseholdIn) -> Registration:
    members = [MemberInput(m.id_number, m.birth_date, m.disabled) for m in body.members]
    if isinstance(body, RentSubsidyHouseholdIn):
        subsidy = RentSubsidy(body.monthly_subsidy, body.subsidy_start, body.district)
        return Registration(body.region, subsidy, members, body.reference)
    tenancy = TenancyInput(body.estate, body.building, body.unit, body.base_rent, body.tenancy_start)
    return Registration(body.region, tenancy, members, body.reference)


class MembersIn(BaseModel):
    members: list[MemberIn] = Field(min_length=1)


class SearchIn(BaseModel):
    """A member's ID number, in a body: a URL's query would carry it into access logs and traces."""

    model_config = ConfigDict(extra="forbid")

    id_number: Annotated[str, StringConstraints(min_length=15, max_length=24)] = Field(
        description="Resident ID number of a member; hashed to look the member up, never kept or logged."
    )


class ParameterValueIn(BaseModel):
    region: CityCode
    effective_from: IsoDate
    value: DecimalText
    legal_reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Text = ""


class FindingIn(BaseModel):
    findings: Text
    proposed_outcome: Literal["exit_required", "transition", "retain"]
    reason_code: Label
    low_income: bool = False
    wants_to_buy: bool = False


class DecisionIn(BaseModel):
    reason: Text = ""


class AssessmentRequestIn(BaseModel):
    assessor_id: OperatorId
    deadline: IsoDate
    reason: Text = ""


class AssessmentReportIn(BaseModel):
    report: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    recommendation: Literal["exit_required", "transition", "retain"]


class AppealIn(BaseModel):
    """An appeal against a final decision: its grounds, as the household gives them."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="The household's grounds."
    )


class AppealDecisionIn(BaseModel):
    decision: Literal["upheld", "overturned"] = Field(
        description="The exit decision appealed against is upheld (it stands) or overturned (the "
        "household keeps its home: the case's outcome becomes `retain`)."
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class CandidateValue(BaseModel):
    rule: Label
    region: CityCode
    value: DecimalText


class SweepOrderIn(BaseModel):
    region: CityCode | None = None
    estate: Label | None = None
    reason: Text = ""


class WhatIfIn(BaseModel):
    on: IsoDate = Field(description="Date the candidate parameters would be in force.")
    values: list[CandidateValue] = Field(min_length=1)
    list_households: bool = Field(default=True, description="List the ids of the households that flip.")


def plain(value: Any) -> Any:
    """JSON-ready copy: Decimals stay exact (as text), dates ISO, UUIDs text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def household_key(household: Household) -> Key:
    """Registration order: a household's key never changes, so a walk meets it once."""
    return time_key(household.created_on, household.id)


def household_row(household: Household) -> Any:
    """A household as a list shows it: where it lives and where its review stands."""
    return plain(
        {
            "household_id": household.id,
            "reference": household.reference,
            "region": household.region,
            "estate": household.estate,
            "building": household.building,
            "unit": household.unit,
            "outcome": household.outcome,
            "review_id": household.review_id,
            "open_case": household.open_case,
        }
    )


def household_view(household: Household) -> Any:
    """`estate` is None for a household on a rent subsidy, which the gateway then shows only to
    operators whose scope is the whole city (an estate-scoped operator sees only named estates)."""
    subsidy = household.rent_subsidy
    return plain(
        {
            "household_id": household.id,
            "reference": household.reference,
            "region": household.region,
            "housing": household.housing,
            "estate": household.estate,
            "building": household.building,
            "unit": household.unit,
            "base_rent": None if household.base_rent is None else f"{household.base_rent:.2f}",
            "tenancy_start": household.tenancy_start,
            "rent_subsidy": None
            if subsidy is None
            else {
                "monthly_subsidy": f"{subsidy.monthly_subsidy:.2f}",
                "start": subsidy.start,
                "district": subsidy.district,
            },
            "registered_by": household.registered_by,
            "occupancy": [dict(o.data) for o in getattr(household, "occupancy", ())],
            "members": [
                {
                    "member_id": m["member_id"],
                    "person_hash": m["person_hash"],
                    "id_number_masked": identity.mask(m["id_number"]),
                    "birth_date": m["birth_date"],
                    "disabled": m["disabled"],
                }
                for m in household.members
            ],
            "facts": {
                kind: {
                    scope: [
                        {
                            "value": o.value,
                            "department": o.source.department,
                            "reference": o.source.reference,
                            "described_on": o.source.described_on,
                        }
                        for o in observations
                    ]
                    for scope, observations in scopes.items()
                }
                for kind, scopes in household.facts.items()
            },
            "review_id": household.review_id,
            "decision": None if household.decision is None else household.decision.data,
            "open_case": household.open_case,
            "cross_region_check": household.check_id,
            "cross_region": household.cross_region,
            "cross_region_checked_at": household.checked_at,
            "cross_region_awaiting": sorted(set(household.check_cities) - set(household.check_answered)),
            "version": household.version,
        }
    )


def case_view(app: EligibilityApp, case: ReviewCase) -> Any:
    """A case with its trail; a pending third-party assessment past its deadline is marked overdue,
    an appeal carries the day it is to be decided by (`decide_by`, overdue while undecided after it),
    and `escalations` lists what waits past its day (the supervisors' queue shows them)."""
    today = app.today()
    assessments = [
        {**a, "overdue": a["received_at"] is None and a["deadline"] < today} for a in case.assessments
    ]
    appeals = []
    for a in case.appeals:
        due = app.appeal_due(case, a)
        appeals.append({**a, "decide_by": due, "overdue": a.get("outcome") is None and due < today})
    escalations = app.escalations(case, today)
    return plain(
        {
            "case_id": case.id,
            "household_id": case.household_id,
            "review_id": case.review_id,
            "region": case.region,
            "estate": case.estate,
            "reason": case.reason,
            "status": case.status,
            "opened_at": case.opened_at,
            "proposal": case.proposal,
            "final_outcome": case.final_outcome,
            "final_proposal": case.final_proposal,
            "decided_at": case.decided_at,
            "assessments": assessments,
            "appeals": appeals,
            "escalated": bool(escalations),
            "escalations": escalations,
            "trail": case.steps,
        }
    )


def value_view(value: rules.ParameterValue) -> Any:
    return plain(
        {
            "rule": value.rule,
            "region": value.region,
            "effective_from": value.effective_from,
            "value": value.value,
            "unit": value.unit,
            "legal_reference": value.legal_reference,
            "added_by": value.added_by,
        }
    )


@contextmanager
def problems() -> Iterator[None]:
    """Domain refusals as problem+json."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except (Refused, rules.ParameterError) as exc:
        raise Problem(409, "Refused", str(exc)) from None
    except CaseError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None
    except IntegrityError:
        raise Problem(409, "Conflict", "a concurrent change got there first; retry") from None


CASE_ROLES = ("reviewer", "supervisor", "assessor", "household")


def actor(who: Caller) -> Actor:
    """The verified caller as the case's actor; only the roles that take part in a review act."""
    if who.role not in CASE_ROLES:
        raise Problem(403, "Role not allowed", f"the role {who.role!r} takes no part in a review")
    return Actor(who.subject, who.role)


def scoped_what_if(who: Caller, result: dict[str, Any]) -> dict[str, Any]:
    """An estate-scoped caller's what-if: the counts of its estates, no household ids (as the gateway
    shows it)."""
    for flip in (result.get("flips") or {}).values():
        if isinstance(flip, dict):
            by_estate = {e: n for e, n in (flip.get("by_estate") or {}).items() if who.sees_estate(e)}
            flip["by_estate"] = by_estate
            flip["count"] = sum(int(n) for n in by_estate.values())
            flip.pop("households", None)
            flip.pop("by_region", None)
    result.pop("households", None)
    return result


def foreign_facts(who: Caller, valid: list[tuple[int, DepartmentFactReported]]) -> list[dict[str, Any]]:
    """Lines a department system may not post: it speaks for its own department only (the gateway's
    rule, again here). A caller that is no department system (the bureau's own intake tools, which
    carry records of several departments) is not limited to one; the gateway lets only department
    systems push facts."""
    if who.department is None:
        if who.role == "department":
            raise Problem(403, "Forbidden", "a department system's assertion must name its department")
        return []
    return [
        {"line": number, "detail": f"department must be {who.department}"}
        for number, report in valid
        if report.department.value != who.department
    ]


# -- intake parsing -----------------------------------------------------------------------------------


def _error_text(error: Any) -> tuple[str, str]:
    """(field, what is wrong) of one pydantic error, in words a sender can act on: a missing field is
    "fact is required" (pydantic's "Field required" named no field in the text), a fact without its
    `kind` "fact.kind is required"."""
    field = ".".join(str(p) for p in error["loc"]) or "(root)"
    if error["type"] == "missing":
        return field, f"{field} is required"
    if error["type"] == "union_tag_not_found":
        tag = str((error.get("ctx") or {}).get("discriminator", "kind")).strip("'")
        return f"{field}.{tag}", f"{field}.{tag} is required"
    return field, str(error["msg"])


def _line_errors(number: int, exc: ValidationError, title: str = "Invalid fact") -> list[dict[str, Any]]:
    return [line_problem(number, *_error_text(error), title) for error in exc.errors()]


def validate_lines(
    lines: list[tuple[int, Any]], today: date
) -> tuple[list[tuple[int, DepartmentFactReported]], list[dict[str, Any]]]:
    """Valid facts, and a problem entry per invalid line: the contract's own checks, and a fact
    describing a day after `today` (the city's date), which cannot have happened yet: recorded, it
    would set aside every fact of its kind described before it."""
    valid: list[tuple[int, DepartmentFactReported]] = []
    invalid: list[dict[str, Any]] = []
    for number, item in lines:
        try:
            report = DepartmentFactReported.model_validate(item)
        except ValidationError as exc:
            invalid += _line_errors(number, exc)
            continue
        if report.described_on > today:
            detail = future_fact(report, today)
            invalid.append(line_problem(number, "described_on", detail, "Date not allowed"))
        else:
            valid.append((number, report))
    return valid, invalid


def no_valid_line(
    entries: list[dict[str, Any]], title: str, received: int, counts: tuple[str, ...]
) -> JSONResponse:
    """422 when every line is bad: the same members as a batch's answer (`received`, the `counts` at
    zero, `rejected`, `results` empty, `problems` naming each line's field and reason), and a detail
    that says the reasons too."""
    ordered = sorted(entries, key=lambda p: p["line"])
    said = [
        f"line {p['line']}: {p['detail']}"
        if str(p["detail"]).startswith(str(p["field"]))
        else f"line {p['line']}: {p['field']}: {p['detail']}"
        for p in ordered
    ]
    detail = "; ".join(said[:10]) + (f"; and {len(said) - 10} more" if len(said) > 10 else "")
    return JSONResponse(
        {
            "type": "about:blank",
            "title": title,
            "status": 422,
            "detail": f"every line was rejected: {detail}",
            "received": received,
            **dict.fromkeys(counts, 0),
            "rejected": len({p["line"] for p in ordered}),
            "results": [],
            "problems": ordered,
        },
        status_code=422,
        media_type=PROBLEM_JSON,
    )


def fact_line(
    number: int, report: DepartmentFactReported, status: str, newer: rules.Source | None
) -> dict[str, Any]:
    """A fact line's answer; a fact older than the record on file for its kind names that record,
    which still decides (`superseded_by`): the fact is in the household's history, not its inputs."""
    line: dict[str, Any] = {
        "line": number,
        "department": report.department.value,
        "reference": report.reference,
        "status": status,
    }
    if newer is not None:
        line["superseded_by"] = {
            "department": newer.department,
            "reference": newer.reference,
            "described_on": newer.described_on.isoformat(),
        }
    return line


def registered_line(
    number: int, reference: str | None, status: RegistrationStatus, household: Household
) -> dict[str, Any]:
    """A batch line's answer: enough to go on (members' ids by person hash) without asking again."""
    line: dict[str, Any] = plain(
        {
            "line": number,
            "status": status,
            "reference": reference,
            "household_id": household.id,
            "housing": household.housing,
            "members": [
                {"member_id": m["member_id"], "person_hash": m["person_hash"], "birth_date": m["birth_date"]}
                for m in household.members
            ],
        }
    )
    return line


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its `$defs` written in place: a requestBody given through `openapi_extra` is
    not part of FastAPI's components, and `#/$defs/...` would point at the OpenAPI document's root."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return resolve({**definitions[ref.removeprefix("#/$defs/")], **rest})
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


FACT_SCHEMA = inline_schema(DepartmentFactReported.model_json_schema())


# -- routes --------------------------------------------------------------------------------------------


def router(app: EligibilityApp) -> APIRouter:
    api = APIRouter()

    def case_of(case_id: UUID, who: Caller) -> ReviewCase:
        """The case (404 unknown), refused to a caller outside its estate (403)."""
        with problems():
            case = app.case(case_id)
        who.check_estate(case.estate)
        return case

    @api.post(
        "/households",
        status_code=201,
        tags=["households"],
        summary="Register a household: in a unit, or on a rent subsidy",
        responses={200: {"description": "The reference was registered before: that household."}},
    )
    def register(body: HouseholdIn, who: Authenticated) -> JSONResponse:
        """The caller (the assertion's subject) is recorded as the one who registered. A household on
        a rent subsidy has no estate: only city-wide callers register or see it."""
        who.check_estate(getattr(body, "estate", None))
        born_by(body.members, app.today())
        with problems():
            status, household = app.register(registration(body), registered_by=who.subject)
        return JSONResponse(household_view(household), status_code=201 if status == "registered" else 200)

    @api.post(
        "/registrations",
        tags=["households"],
        summary="Register many households: a JSON array or NDJSON, thousands per request",
        description=(
            "Each line is a `POST /households` body (in a unit, or on a rent subsidy). Valid lines are "
            "registered, a few dozen per transaction; a line whose `reference` was registered before is "
            "answered `duplicate` with that household; an invalid line gets a problem entry naming its "
            "line and field, and a refused one (an ID number already in another household) a 409 entry, "
            "without costing the others. 422 when no line is valid."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": inline_schema(HOUSEHOLD_IN.json_schema()),
                            "minItems": 1,
                        }
                    },
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def register_batch(request: Request, who: Authenticated) -> JSONResponse:
        body = await request.body()
        lines, not_json = parse_batch(
            body, request.headers.get("content-type", "application/json"), "Invalid registration"
        )
        if len(lines) + len(not_json) > app.config.intake_max_lines:
            raise Problem(413, "Too many households", f"at most {app.config.intake_max_lines} per request")
        today = app.today()
        valid: list[tuple[int, TenancyHouseholdIn | RentSubsidyHouseholdIn]] = []
        invalid: list[dict[str, Any]] = []
        for number, item in lines:
            try:
                household = HOUSEHOLD_IN.validate_python(item)
                born_by(household.members, today)
            except ValidationError as exc:
                invalid += _line_errors(number, exc, "Invalid registration")
                continue
            except InvalidField as exc:
                invalid.append(line_problem(number, exc.field, str(exc), exc.title))
                continue
            if who.sees_estate(getattr(household, "estate", None)):
                valid.append((number, household))
            else:
                problem = line_problem(number, "estate", "outside the estates you are assigned", "Forbidden")
                invalid.append({**problem, "status": 403})
        if not valid:
            received = len(lines) + len(not_json)
            return no_valid_line(
                [*not_json, *invalid], "No valid registration", received, ("registered", "duplicates")
            )
        batch = [registration(b) for _, b in valid]
        answers = await run_in_threadpool(app.register_batch, batch, who.subject)
        results: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for (number, item), answer in zip(valid, answers, strict=True):
            if isinstance(answer, Refused):
                refused.append({**line_problem(number, "members", str(answer), "Refused"), "status": 409})
            else:
                results.append(registered_line(number, item.reference, *answer))
        entries = sorted([*not_json, *invalid, *refused], key=lambda p: p["line"])
        statuses = [r["status"] for r in results]
        return JSONResponse(
            {
                "received": len(lines) + len(not_json),
                "registered": statuses.count("registered"),
                "duplicates": statuses.count("duplicate"),
                "rejected": len({p["line"] for p in entries}),
                "results": results,
                "problems": entries,
            }
        )

    @api.get("/households", tags=["households"], summary="Households by latest automated decision, a page")
    def list_households(
        request: Request,
        who: Authenticated,
        outcome: Literal["qualifies", "exit_triggered", "needs_manual", "none"] | None = None,
        estate: str | None = None,
        building: str | None = None,
        unit: str | None = None,
        reference: Reference | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """The manual-review queue is `?outcome=needs_manual`; `none` lists households not yet decided.
        `unit` (with `estate` and `building` when known) finds a flat's household, `reference` the
        registering office's number. Registration order (`next` walks the whole city); an
        estate-scoped caller lists its estates' households only (another estate named: 403)."""
        if estate is not None:
            who.check_estate(estate)
        app.population.catch_up()
        found = (
            h
            for h in list(app.population.households.values())  # a snapshot: catch-up may add meanwhile
            if (outcome is None or (h.outcome or "none") == outcome)
            and (estate is None or h.estate == estate)
            and (building is None or h.building == building)
            and (unit is None or h.unit == unit)
            and (reference is None or h.reference == reference)
            and who.sees_estate(h.estate)
        )
        page = paginate(found, household_key, limit=limit, cursor=cursor)
        return page_response(request, page, household_row)

    @api.post(
        "/households/search",
        tags=["households"],
        summary="Households with a member of this ID number, a page (the number in the body, never a URL)",
    )
    def search_households(
        request: Request,
        body: SearchIn,
        who: Authenticated,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Found by the member's `person_hash` (the number is hashed here and goes no further: not in
        a URL, where access logs and traces would keep it, nor in a log); each household as `GET
        /households/{id}` shows it, ID numbers masked. An estate-scoped caller finds its estates'
        households only. The next page: the same body posted again with `?cursor=`."""
        hashed = identity.person_hash(body.id_number, app.config.person_hash_key)
        app.population.catch_up()
        found = (
            h
            for h in list(app.population.households.values())
            if h.member_of(hashed) is not None and who.sees_estate(h.estate)
        )
        page = paginate(found, household_key, limit=limit, cursor=cursor)
        return page_response(request, page, household_view, link=False)

    # `:uuid` in the path: `/households/search` (a POST) is not a household, so a GET there is no
    # route (405 naming POST only), not this route's 422
    @api.get(
        "/households/{household_id:uuid}", tags=["households"], summary="A household, its facts and decision"
    )
    def get_household(household_id: UUID, who: Authenticated) -> JSONResponse:
        with problems():
            household = app.household(household_id)
        who.check_estate(household.estate)
        return JSONResponse(household_view(household))

    @api.get(
        "/households/{household_id}/timeline",
        tags=["households"],
        summary="The household's steps in eligibility, oldest first",
        response_model=Timeline,
    )
    def get_timeline(household_id: UUID, who: Authenticated) -> Timeline:
        """Empty for a household not known here; an estate-scoped caller's household must be of its
        estates."""
        if who.estates is not None:
            with suppress(NotFound):
                who.check_estate(app.household(household_id).estate)
        return Timeline(household_id=household_id, entries=household_timeline(app, household_id))

    @api.get("/figures", tags=["figures"], summary="Counts for the bureau's dashboard")
    def get_figures() -> JSONResponse:
        """Households by latest automated outcome, cases by status, final outcomes, proposals sent
        back on approval and appeals overturned (the review overturn rate's numerator and denominator)."""
        app.population.catch_up()
        return JSONResponse(
            figures(list(app.population.households.values()), list(app.population.cases.values()))
        )

    @api.put("/households/{household_id}/members", tags=["households"], summary="Replace the members")
    def put_members(household_id: UUID, body: MembersIn, who: Authenticated) -> JSONResponse:
        born_by(body.members, app.today())
        with problems():
            who.check_estate(app.household(household_id).estate)
            household = app.change_members(
                household_id, [MemberInput(m.id_number, m.birth_date, m.disabled) for m in body.members]
            )
        return JSONResponse(household_view(household))

    @api.post(
        "/facts",
        tags=["intake"],
        summary="Department facts: a JSON array (or one object) or NDJSON, thousands per request",
        description=(
            "Each line is a `housing.department.fact-reported` payload. Valid lines are recorded in one "
            "transaction; a fact already received (same department and reference) is acknowledged as "
            "`duplicate`; an invalid line gets a problem entry naming its line and field. 422 when no "
            "line is valid."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"type": "array", "items": FACT_SCHEMA, "minItems": 1},
                                FACT_SCHEMA,
                            ]
                        }
                    },
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def post_facts(request: Request, who: Authenticated) -> JSONResponse:
        """One line speaking for another department than the caller's refuses the whole batch (403
        naming the lines), as at the gateway."""
        body = await request.body()
        lines, not_json = parse_batch(
            body, request.headers.get("content-type", "application/json"), "Invalid fact"
        )
        if len(lines) + len(not_json) > app.config.intake_max_lines:
            raise Problem(413, "Too many facts", f"at most {app.config.intake_max_lines} per request")
        valid, invalid = validate_lines(lines, app.today())
        refused = foreign_facts(who, valid)
        if refused:
            raise Problem(403, "Forbidden", "some lines speak for another department", lines=refused[:100])
        entries = sorted([*not_json, *invalid], key=lambda p: p["line"])
        if not valid:
            counts = ("recorded", "duplicates", "parked", "unmatched")
            return no_valid_line(entries, "No valid fact", len(lines) + len(not_json), counts)
        answers = await run_in_threadpool(app.ingest_noting, [report for _, report in valid])
        statuses = [status for status, _ in answers]
        results = [
            fact_line(number, r, status, newer)
            for (number, r), (status, newer) in zip(valid, answers, strict=True)
        ]
        return JSONResponse(
            {
                "received": len(lines) + len(not_json),
                "recorded": statuses.count("recorded"),
                "duplicates": statuses.count("duplicate"),
                "parked": statuses.count("parked"),
                "unmatched": statuses.count("unmatched"),
                "rejected": len({p["line"] for p in entries}),
                "results": results,
                "problems": entries,
            }
        )

    @api.get("/parameters", tags=["parameters"], summary="Values in force in a region on a date")
    def in_force(region: CityCode = "CN-FS", on: IsoDate | None = None) -> JSONResponse:
        day = on or app.today()
        values = rules.parameters_at(app.current_table(), region, day)
        return JSONResponse(
            {
                "region": region,
                "on": day.isoformat(),
                "values": {rule: value_view(v) for rule, v in values.values.items()},
            }
        )

    @api.get("/parameters/history", tags=["parameters"], summary="Every dated value, oldest first")
    def history(rule: str | None = None, region: str | None = None) -> JSONResponse:
        return JSONResponse([value_view(v) for v in app.current_table().history(rule, region)])

    @api.post(
        "/parameters/{rule}/values",
        status_code=201,
        tags=["parameters"],
        summary="Add a dated value (supervisors); history is never overwritten",
    )
    def add_value(rule: str, body: ParameterValueIn, caller: Authenticated) -> JSONResponse:
        who = actor(caller)
        spec = app.defaults.specs.get(rule)
        if spec is None:
            raise Problem(404, "Unknown rule", f"known rules: {', '.join(sorted(app.defaults.specs))}")
        value = rules.ParameterValue(
            rule=rule,
            region=body.region,
            effective_from=body.effective_from,
            value=body.value,
            unit=spec.unit,
            legal_reference=body.legal_reference,
            added_by=who.operator_id,
        )
        with problems():
            app.add_parameter_value(value, who, body.reason)
        return JSONResponse(value_view(value), status_code=201)

    @api.get("/cases", tags=["review"], summary="Review cases, optionally by status and estate, a page")
    def list_cases(
        request: Request,
        who: Authenticated,
        status: Annotated[
            list[CaseStatus] | None,
            Query(description="One or more (`?status=open&status=proposed`): cases in any of them"),
        ] = None,
        estate: str | None = None,
        escalated: Annotated[
            bool | None,
            Query(description="Only cases with an assessment or appeal past its day (or only without)"),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """Oldest first (the review queue is the open states, `open`, `proposed`, `assessment`,
        `appealed`, in one walk); an estate-scoped caller lists its estates' cases only."""
        if estate is not None:
            who.check_estate(estate)
        app.population.catch_up()
        wanted = set(status or ())
        today = app.today()
        cases = (
            c
            for c in list(app.population.cases.values())
            if (not wanted or c.status in wanted)
            and (estate is None or c.estate == estate)
            and who.sees_estate(c.estate)
            and (escalated is None or bool(app.escalations(c, today)) == escalated)
        )
        page = paginate(cases, lambda c: time_key(c.opened_at, c.id), limit=limit, cursor=cursor)
        return page_response(request, page, lambda c: case_view(app, c))

    @api.get("/cases/{case_id}", tags=["review"], summary="A case with its accountability trail")
    def get_case(case_id: UUID, who: Authenticated) -> JSONResponse:
        return JSONResponse(case_view(app, case_of(case_id, who)))

    @api.post("/cases/{case_id}/findings", tags=["review"], summary="Reviewer: findings and proposed outcome")
    def findings(case_id: UUID, body: FindingIn, caller: Authenticated) -> JSONResponse:
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            case = app.record_finding(
                case_id,
                who,
                findings=body.findings,
                proposed_outcome=body.proposed_outcome,
                reason_code=body.reason_code,
                low_income=body.low_income,
                wants_to_buy=body.wants_to_buy,
            )
        return JSONResponse(case_view(app, case))

    @api.post("/cases/{case_id}/approval", tags=["review"], summary="Supervisor (not the reviewer): approve")
    def approve(case_id: UUID, body: DecisionIn, caller: Authenticated) -> JSONResponse:
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.approve(case_id, who, body.reason)))

    @api.post(
        "/cases/{case_id}/send-back", tags=["review"], summary="Supervisor (not the reviewer): send back"
    )
    def send_back(case_id: UUID, body: DecisionIn, caller: Authenticated) -> JSONResponse:
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.send_back(case_id, who, body.reason)))

    @api.post("/cases/{case_id}/assessment-requests", tags=["review"], summary="Ask a third-party assessor")
    def request_assessment(case_id: UUID, body: AssessmentRequestIn, caller: Authenticated) -> JSONResponse:
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            case = app.request_assessment(case_id, who, body.assessor_id, body.deadline, body.reason)
        return JSONResponse(case_view(app, case))

    @api.post("/cases/{case_id}/assessment-reports", tags=["review"], summary="The assessor's report")
    def assessment_report(case_id: UUID, body: AssessmentReportIn, caller: Authenticated) -> JSONResponse:
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            case = app.receive_assessment(case_id, who, body.report, body.recommendation)
        return JSONResponse(case_view(app, case))

    @api.post(
        "/cases/{case_id}/appeals", tags=["review"], summary="Appeal a final decision (within the window)"
    )
    def appeal(case_id: UUID, body: AppealIn, caller: Authenticated) -> JSONResponse:
        """By the household or an operator on its behalf, within `APPEAL_WINDOW_DAYS` of the decision
        by this service's clock; `reason` holds the grounds."""
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.lodge_appeal(case_id, who, body.reason)))

    @api.post(
        "/cases/{case_id}/appeal-decision",
        tags=["review"],
        summary="Supervisor: uphold or overturn the exit decision appealed against (four eyes)",
    )
    def appeal_decision(case_id: UUID, body: AppealDecisionIn, caller: Authenticated) -> JSONResponse:
        """Not by who approved the decision nor by who lodged the appeal: 403 naming the four-eyes
        rule. Overturned, the outcome becomes `retain` (`appeal-resolved`, `overturned: true`)."""
        case_of(case_id, caller)
        who = actor(caller)
        with problems():
            return JSONResponse(case_view(app, app.decide_appeal(case_id, who, body.decision, body.reason)))

    @api.get(
        "/assessments", tags=["review"], summary="Third-party assessments assigned to an assessor, a page"
    )
    def list_assessments(
        request: Request,
        who: Authenticated,
        assessor_id: Annotated[
            OperatorId | None,
            Query(description="Whose (reviewers and supervisors); an assessor lists only its own"),
        ] = None,
        state: Literal["pending", "reported", "all"] = "pending",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> JSONResponse:
        """An assessor's own assessments (`assessor_id` defaults to the caller; naming another is 403),
        each with its case's household, reference, estate, the question asked, deadline and whether it
        is overdue; oldest request first."""
        if who.role == "assessor":
            if assessor_id not in (None, who.subject):
                raise Problem(403, "Forbidden", "an assessor lists only the assessments assigned to it")
            assessor_id = who.subject
        elif who.role not in ("reviewer", "supervisor"):
            raise Problem(403, "Role not allowed", f"the role {who.role!r} is assigned no assessments")
        app.population.catch_up()
        today = app.today()
        found = [
            (case, index, a)
            for case in list(app.population.cases.values())
            if who.sees_estate(case.estate)
            for index, a in enumerate(case.assessments)
            if (assessor_id is None or a["assessor_id"] == assessor_id)
            and (state == "all" or (a["received_at"] is None) == (state == "pending"))
        ]

        def view(item: tuple[ReviewCase, int, dict[str, Any]]) -> Any:
            case, index, a = item
            household = app.population.households.get(case.household_id)
            pending = a["received_at"] is None
            return plain(
                {
                    "case_id": case.id,
                    "assessment": index,
                    "household_id": case.household_id,
                    "reference": household.reference if household is not None else None,
                    "estate": case.estate,
                    "building": household.building if household is not None else None,
                    "unit": household.unit if household is not None else None,
                    "case_status": case.status,
                    "case_reason": case.reason,
                    "question": a.get("reason", ""),
                    "assessor_id": a["assessor_id"],
                    "requested_by": a["requested_by"],
                    "requested_at": a["requested_at"],
                    "deadline": a["deadline"],
                    "overdue": pending and a["deadline"] < today,
                    "state": "pending" if pending else "reported",
                    "can_report": pending
                    and case.status == "assessment"
                    and index == len(case.assessments) - 1,
                    "recommendation": a["recommendation"],
                    "received_at": a["received_at"],
                }
            )

        page = paginate(
            found,
            lambda item: (*time_key(item[2]["requested_at"], item[0].id), item[1]),
            limit=limit,
            cursor=cursor,
        )
        return page_response(request, page, view)

    @api.get(
        "/reviewers/{operator_id}/report", tags=["review"], summary="Cases handled, overturned, time taken"
    )
    def report(operator_id: str) -> JSONResponse:
        """404 for an operator who has taken no step in any case (an unknown reviewer, or an id
        mistyped): zeros would read as a reviewer who handled nothing."""
        app.population.catch_up()
        cases = list(app.population.cases.values())
        if not any(step["actor"] == operator_id for case in cases for step in case.steps):
            raise Problem(404, "Unknown reviewer", f"no review step was taken by {operator_id}")
        return JSONResponse(plain(reviewer_report(cases, operator_id)))

    @api.post(
        "/what-if", tags=["parameters"], summary="Who would flip under candidate parameters (no writes)"
    )
    def post_what_if(body: WhatIfIn, who: Authenticated) -> JSONResponse:
        """An estate-scoped caller gets the counts of its estates only, without household ids."""
        unknown = sorted({v.rule for v in body.values} - set(app.defaults.specs))
        if unknown:
            raise Problem(422, "Unknown rule", f"unknown rules: {', '.join(unknown)}")
        candidate = [(v.rule, v.region, v.value) for v in body.values]
        listed = body.list_households and who.estates is None
        result = what_if(app, body.on, candidate, list_households=listed)
        return JSONResponse(plain(result if who.estates is None else scoped_what_if(who, result)))

    @api.post(
        "/cross-region/sweeps",
        status_code=202,
        tags=["cross-region"],
        summary="Order a cross-region check of every household of a region and/or estate (supervisors)",
    )
    def order_sweep(body: SweepOrderIn, caller: Authenticated) -> JSONResponse:
        """Recorded, then asked by the periodic sweep at its pace (the peers' rate limits): `requested`
        is how many households the order covers. An estate-scoped caller orders one for an estate of
        its own only: without an estate a sweep spans every estate."""
        if caller.estates is not None:
            if body.estate is None:
                raise Problem(
                    403, "Forbidden", "without an estate a sweep spans every estate; name one of yours"
                )
            caller.check_estate(body.estate)
        who = actor(caller)
        with problems():
            requested = app.order_cross_region_sweep(body.region, body.estate, who, body.reason)
        config = app.config
        return JSONResponse(
            {
                "region": body.region,
                "estate": body.estate,
                "requested": requested,
                "per_second": config.cross_region_sweep_batch / max(config.cross_region_sweep_pause_s, 1e-3),
            },
            status_code=202,
        )

    @api.get("/cross-region/status", tags=["cross-region"], summary="How far the cross-region checks are")
    def sweep_status() -> JSONResponse:
        """Households never checked, waiting for a peer's answer, due now; matched and unverified."""
        return JSONResponse(app.cross_region_status())

    return api
