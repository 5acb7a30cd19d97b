"""What the operator API's route modules share: the dependencies (operations, the bulk intake), the
answers' shapes and the statuses every route may answer (gateway/routes.py assembles the modules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.intake import Intake
from gateway.operations import Forwarded, Operations


def operations(request: Request) -> Operations:
    ops: Operations = request.app.state.operations
    return ops


def answered(forwarded: Forwarded) -> JSONResponse:
    """A command's answer with its service's status (201 created, 200 already there)."""
    return JSONResponse(forwarded.body, status_code=forwarded.status)


def sent(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


Ops = Annotated[Operations, Depends(operations)]
Bulk = Annotated[Intake, Depends(intake_of)]

BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}
"""The request body of a bulk route (`/api/facts`, `/api/registrations`, `/api/credentials`): the route
reads it raw, line by line, so FastAPI cannot describe it from a parameter."""

UNAUTH = {401: {"description": "no valid bearer token (problem+json, WWW-Authenticate)"}}
REFUSED = {
    **UNAUTH,
    403: {"description": "role lacks the scope, or the object is outside the caller's estates"},
    502: {"description": "the service behind is unreachable or failed"},
    504: {"description": "the service behind did not answer in time"},
}
