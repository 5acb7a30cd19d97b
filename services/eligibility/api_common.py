"""Eligibility's HTTP API: what the capabilities' routes share (JSON-ready values, domain refusals as
problem+json, the acting caller, a batch's line problems, inline request schemas)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.eligibility import rules
from services.eligibility.application import Actor, EligibilityApp, NotFound, Refused
from services.eligibility.coordination import CoordinationError
from services.eligibility.domain import CaseError, ReviewCase
from services.eligibility.record_request import RequestError
from services.kit.http import PROBLEM_JSON, Problem
from services.kit.identity import Caller
from services.kit.lines import line_problem


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


@contextmanager
def problems() -> Iterator[None]:
    """Domain refusals as problem+json."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except (Refused, rules.ParameterError) as exc:
        raise Problem(409, "Refused", str(exc)) from None
    except (CaseError, RequestError, CoordinationError) as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None
    except IntegrityError:
        raise Problem(409, "Conflict", "a concurrent change got there first; retry") from None


def case_of(app: EligibilityApp, case_id: UUID, who: Caller) -> ReviewCase:
    """The case (404 unknown), refused to a caller outside its estate (403)."""
    with problems():
        case = app.case(case_id)
    who.check_estate(case.estate)
    return case


CASE_ROLES = ("reviewer", "supervisor", "assessor", "household")


def actor(who: Caller) -> Actor:
    """The verified caller as the case's actor; only the roles that take part in a review act."""
    if who.role not in CASE_ROLES:
        raise Problem(403, "Role not allowed", f"the role {who.role!r} takes no part in a review")
    return Actor(who.subject, who.role)


# -- a batch's lines ------------------------------------------------------------------------------------


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


def line_errors(number: int, exc: ValidationError, title: str = "Invalid fact") -> list[dict[str, Any]]:
    return [line_problem(number, *_error_text(error), title) for error in exc.errors()]


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
