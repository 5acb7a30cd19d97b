"""Eligibility's HTTP API: department-fact intake (a JSON array, one object or NDJSON)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.department import DepartmentFactReported
from services.eligibility import rules
from services.eligibility.api_common import inline_schema, line_errors, no_valid_line
from services.eligibility.application import EligibilityApp
from services.eligibility.intake import future_fact
from services.kit.http import Problem
from services.kit.identity import Authenticated, Caller
from services.kit.lines import line_problem, parse_batch


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
            invalid += line_errors(number, exc)
            continue
        if report.described_on > today:
            detail = future_fact(report, today)
            invalid.append(line_problem(number, "described_on", detail, "Date not allowed"))
        else:
            valid.append((number, report))
    return valid, invalid


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


FACT_SCHEMA = inline_schema(DepartmentFactReported.model_json_schema())


def add_fact_routes(api: APIRouter, app: EligibilityApp) -> None:
    """`POST /facts`."""

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
