"""The one error type of every API in the platform: an RFC 9457 problem an API user can act on.

Its own module so that what the HTTP kit is built from (identity checks) can raise and render it
without importing the app factory; `services.kit.http` re-exports both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from services.kit.tracing import trace_id_of

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error an API user can act on, rendered as RFC 9457 problem+json; `headers` go on the answer
    (a 401's `WWW-Authenticate`), `extra` into its body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        type_: str = "about:blank",
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type, self.extra = status, title, detail, type_, extra
        self.headers = dict(headers) if headers else None


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    trace_id = trace_id_of()
    if trace_id:
        body["trace_id"] = trace_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
