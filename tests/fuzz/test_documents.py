"""What the fuzzing relies on, checked directly (fast, no bus): every service's OpenAPI document says
that client errors are problem+json, a 405 names every method of its path, and request dates are
ISO days only."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from services.kit.http import PROBLEM_JSON, IsoDate
from tests.fuzz.conftest import SERVICES, penalties
from tests.support.identity import OperatorAuth

UNREACHABLE_BUS = "nats://127.0.0.1:1"  # the apps are built, not started


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_operation_documents_its_problems(name: str, tmp_path: Path) -> None:
    document = SERVICES[name](tmp_path, UNREACHABLE_BUS).openapi()
    operations = [
        (path, method, op) for path, item in document["paths"].items() for method, op in item.items()
    ]
    assert operations
    for path, method, operation in operations:
        problem = operation["responses"].get("4XX", {}).get("content", {})
        assert list(problem) == [PROBLEM_JSON], f"{method.upper()} {path}: {operation['responses']}"
    # FastAPI's default 422 (`{"detail": [...]}` as application/json) is not what the services send.
    assert "HTTPValidationError" not in json.dumps(document)
    ready = document["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert list(ready) == [PROBLEM_JSON]


async def test_a_405_names_every_method_of_the_path(tmp_path: Path) -> None:
    api = penalties(tmp_path, UNREACHABLE_BUS)
    transport = httpx.ASGITransport(app=api)
    auth = OperatorAuth("auditor.sun", "auditor", "penalties")  # past the service's guard
    async with httpx.AsyncClient(transport=transport, base_url="http://p", auth=auth) as client:
        # GET and POST are two routes of one path; Starlette alone would name only the first it tried.
        refused = await client.delete("/households/6f9619ff-8b86-4d11-b42d-00c04fc964ff/sanctions")
        unknown = await client.request("TRACE", "/healthz")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, POST"
    assert refused.headers["content-type"] == PROBLEM_JSON and refused.json()["status"] == 405
    assert unknown.status_code == 405 and unknown.headers["allow"] == "GET"


@pytest.mark.parametrize("text", ["0", "1700000000", "2026-01-01T00:00:00", "2026-1-1", "", "26-01-01"])
def test_a_request_date_is_an_iso_day_only(text: str) -> None:
    adapter: TypeAdapter[date] = TypeAdapter(IsoDate)
    with pytest.raises(ValidationError):
        adapter.validate_python(text)
    with pytest.raises(ValidationError):
        adapter.validate_json("0")
    assert adapter.validate_python("2026-02-28") == date(2026, 2, 28)
    assert adapter.validate_json('"2026-02-28"') == date(2026, 2, 28)
    with pytest.raises(ValidationError):
        adapter.validate_python("2026-02-30")  # the pattern is the form; the calendar still decides
