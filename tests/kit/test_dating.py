"""The server's clock decides when a step happens: properties of `services.kit.dating`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kit.clock import SimulatedClock
from services.kit.dating import DateRefused, happened, not_in_future
from services.kit.settings import ServiceSettings

TODAY = date(2026, 12, 7)
days = st.integers(min_value=-400, max_value=400)


def test_no_date_means_today() -> None:
    step = happened(None, TODAY, window_days=30)
    assert step.on == TODAY and not step.late


@given(days)
def test_a_step_is_never_in_the_future_or_outside_the_window(offset: int) -> None:
    requested = TODAY + timedelta(days=offset)
    try:
        step = happened(requested, TODAY, window_days=30, reason="filed on return from the estate")
    except DateRefused as refused:
        assert offset > 0 or offset < -30
        assert refused.field == "on" and requested.isoformat() in str(refused)
    else:
        assert -30 <= offset <= 0
        assert step.on == requested and step.recorded_on == TODAY and step.late == (offset < 0)


def test_a_late_step_needs_a_reason() -> None:
    with pytest.raises(DateRefused, match="say why"):
        happened(TODAY - timedelta(days=1), TODAY, window_days=30)
    with pytest.raises(DateRefused, match="say why"):
        happened(TODAY - timedelta(days=1), TODAY, window_days=30, reason="   ")


@given(days)
def test_a_step_never_precedes_what_it_depends_on(offset: int) -> None:
    decided = TODAY - timedelta(days=10)
    requested = TODAY + timedelta(days=offset)
    try:
        step = happened(
            requested,
            TODAY,
            window_days=30,
            not_before=decided,
            depends_on="the exit decision",
            reason="late",
        )
    except DateRefused:
        assert requested < decided or requested > TODAY
    else:
        assert decided <= step.on <= TODAY


def test_the_refusal_names_the_precondition_and_the_field() -> None:
    with pytest.raises(DateRefused, match="before the tenancy's start \\(2027-01-01\\)") as refused:
        happened(
            None,
            TODAY,
            window_days=30,
            not_before=date(2027, 1, 1),
            depends_on="the tenancy's start",
            field="returned_on",
        )
    assert refused.value.field == "returned_on"


def test_world_dates_are_not_in_the_future() -> None:
    assert not_in_future(TODAY, TODAY, "birth_date", "a birth") == TODAY
    with pytest.raises(DateRefused, match="birth_date 2030-01-01: a birth cannot lie in the future"):
        not_in_future(date(2030, 1, 1), TODAY, "birth_date", "a birth")


def test_a_simulation_moves_the_clock_through_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SIMULATED_CLOCK_FILE`: every process of a simulated stack adds the file's offset to the machine's
    clock, read again once REREAD_S has passed (here: at once)."""
    machine = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    monkeypatch.setattr("services.kit.clock.system_clock", lambda: machine)
    monkeypatch.setattr(SimulatedClock, "REREAD_S", 0.0)
    path = tmp_path / "simulated-clock"
    simulated = SimulatedClock(path)
    assert simulated() == machine  # no file yet: the machine's time
    SimulatedClock.move(path, timedelta(days=3))
    assert simulated() == machine + timedelta(days=3)
    assert ServiceSettings(simulated_clock_file=path).simulated_clock_file == path
