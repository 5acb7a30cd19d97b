"""Logs are one JSON object per line, carry the trace id, and never an ID number."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.trace import SpanKind

from services.kit.logs import get_logger, mask_id_numbers, setup_logging
from services.kit.tracing import setup_tracing, span, trace_id_of


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Give the test session its own logging back after a test configured it as a service does."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_trace_id_and_masked_id_numbers(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_tracing("log-test", None)
    setup_logging("log-test", "INFO")
    with span("work", SpanKind.INTERNAL) as s:
        get_logger("test").info("registered member 44010619900307123X of household", unit="3-201")
        logging.getLogger("stdlib").warning("stdlib path 11010519491231002x too")
        trace_id = trace_id_of(s)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    for line in lines:
        assert line["trace_id"] == trace_id
        assert line["service"] == "log-test"
        assert "[id-number]" in line["event"]
    assert "44010619900307123X" not in json.dumps(lines)
    assert "11010519491231002x" not in json.dumps(lines)


def test_masking_leaves_other_numbers_alone() -> None:
    assert mask_id_numbers("amount 3960.01, unit 12300, phone 13800138000") == (
        "amount 3960.01, unit 12300, phone 13800138000"
    )
    assert mask_id_numbers("id 440106199003071234.") == "id [id-number]."
