"""The operator API's lists, a page at a time: the services page (`services.kit.paging`) and the
gateway passes each page through with its cursor, naming its own route in the `Link` header (the
client's query kept, the cursor replaced), so a client walks `/api/...` exactly as it would a service.

The states a list takes are the service's own (tests/gateway/test_declarations.py holds the two
documents side by side): a value the gateway allows must not be refused behind it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.kit.paging import Page, page_response

CaseStatus = Literal["open", "proposed", "assessment", "decided", "appealed"]
CaseStatuses = Annotated[
    list[CaseStatus] | None,
    Query(description="One or more (`?status=open&status=proposed`): cases in any of them"),
]
WarningState = Literal["raised", "assigned", "confirmed", "dismissed", "rectified", "withdrawn"]


class HouseholdSearchIn(BaseModel):
    """A member's ID number, in a body: a URL's query would carry it into access logs and traces."""

    model_config = ConfigDict(extra="forbid")

    id_number: Annotated[str, StringConstraints(min_length=15, max_length=24)] = Field(
        description="Resident ID number of a member; hashed by eligibility, never kept or logged."
    )


def paged(request: Request, page: Page[Any], *, link: bool = True) -> JSONResponse:
    """`{"items", "next"}` with `Link: </api/...?...&cursor=...>; rel="next"`: the gateway's own path,
    which is the request's (never the service's, which a client cannot reach)."""
    return page_response(request, page, link=link)
