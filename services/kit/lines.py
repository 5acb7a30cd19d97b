"""Batches of lines, as the bulk routes take them (department facts, registrations, door-access
readings): a JSON array or NDJSON, each line numbered so that an answer can name the line it is about.

One reading of a batch for every service and the gateway, so that "line 7" means the same line to the
gateway that authorises it, the service that validates it and the client that sent it.
"""

from __future__ import annotations

import json
from typing import Any

from services.kit.problems import Problem

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


def is_ndjson(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in NDJSON_TYPES


def line_problem(line: int, field: str, detail: str, title: str = "Invalid line") -> dict[str, Any]:
    """A problem entry of a batch's answer: which line, which field, what is wrong."""
    return {
        "type": "about:blank",
        "title": title,
        "status": 422,
        "line": line,
        "field": field,
        "detail": detail,
    }


def parse_batch(
    body: bytes, content_type: str, title: str = "Invalid line"
) -> tuple[list[tuple[int, Any]], list[dict[str, Any]]]:
    """Lines of a JSON array or NDJSON body as (line number, decoded value), and a problem entry for
    each NDJSON line that is not JSON at all (an array that is not JSON is 400: there are no lines).
    Line numbers are 1-based: the array index + 1, or the NDJSON line; blank NDJSON lines are skipped
    but counted."""
    problems: list[dict[str, Any]] = []
    if is_ndjson(content_type):
        lines: list[tuple[int, Any]] = []
        for number, raw in enumerate(body.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                lines.append((number, json.loads(raw)))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(line_problem(number, "(line)", f"not JSON: {exc}", title))
        return lines, problems
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(400, "Body is not JSON", str(exc)) from None
    items = decoded if isinstance(decoded, list) else [decoded]
    return list(enumerate(items, start=1)), problems
