"""Resettlement on the server's clock (issue 23): a move-in is dated today or, recorded late, on an
earlier day inside `late_recording_days` with a reason, never in the future and never before the
acceptance or the hand-back; offers expire by the service's date only (no caller moves a deadline)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.resettlement.application import ResettlementApp
from tests.resettlement.support import Clock, decision, small_pool
from tests.resettlement.support import settings as resettlement_settings
from tests.resettlement.test_lifecycle import exit_completed, feed


async def test_a_move_in_recorded_late_inside_the_window_with_a_reason_never_before_its_facts(
    resettlement: ResettlementApp, client: httpx.AsyncClient, clock: Clock
) -> None:
    app = resettlement
    app.add_units(small_pool("transitional", 1))
    household = uuid4()
    feed(app, app.on_exit_decided, decision(household, low_income=True))
    case_id = app.placement(household)["case_id"]
    assert (await client.post(f"/cases/{case_id}/accept")).status_code == 200  # 27 November
    url = f"/cases/{case_id}/move-in"
    assert (await client.post(url)).status_code == 409  # the flat is not handed back yet
    feed(app, app.on_exit_completed, exit_completed(household, date(2026, 11, 27)))

    clock.advance(days=13)  # 10 December
    ahead = await client.post(url, json={"on": "2026-12-11", "reason_late": "x"})
    assert ahead.status_code == 422 and "future" in ahead.json()["detail"]
    before = await client.post(url, json={"on": "2026-11-26", "reason_late": "x"})
    assert before.status_code == 422 and "before" in before.json()["detail"]
    silent = await client.post(url, json={"on": "2026-12-01"})
    assert silent.status_code == 422 and "reason" in silent.json()["detail"]

    clock.advance(days=26)  # 5 January
    stale = await client.post(url, json={"on": "2026-12-05", "reason_late": "keys given on site"})
    assert stale.status_code == 422 and "more than 30 days" in stale.json()["detail"]
    late = await client.post(url, json={"on": "2026-12-06", "reason_late": "keys given on site"})
    assert late.status_code == 200, late.text
    assert app.placement(household)["state"] == "moved_in"
    entries = (await client.get(f"/households/{household}/timeline")).json()["entries"]
    assert any(
        e["summary"] == "Moved in (or purchase completed) on 2026-12-06 (recorded late on 2027-01-05: "
        "keys given on site)"
        for e in entries
    )


async def test_a_move_in_recorded_on_its_day_needs_no_reason(
    resettlement: ResettlementApp, client: httpx.AsyncClient
) -> None:
    app = resettlement
    app.add_units(small_pool("affordable", 1))
    buyer = uuid4()
    feed(app, app.on_exit_decided, decision(buyer, wants_to_buy=True))
    case_id = app.placement(buyer)["case_id"]
    assert (await client.post(f"/cases/{case_id}/accept")).status_code == 200
    today = app.today().isoformat()
    assert (await client.post(f"/cases/{case_id}/move-in", json={"on": today})).status_code == 200
    entries = (await client.get(f"/households/{buyer}/timeline")).json()["entries"]
    assert "Moved in (or purchase completed)" in [e["summary"] for e in entries]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.integers(0, 40))
def test_an_offer_expires_iff_today_is_past_its_last_day(tmp_path: Path, days: int) -> None:
    clock = Clock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / f"{uuid4().hex}.db")}
    app = ResettlementApp(resettlement_settings(tmp_path), env, clock=clock)
    try:
        app.add_units(small_pool("transitional", 1))
        household = uuid4()
        feed(app, app.on_exit_decided, decision(household, low_income=True))
        respond_by = date.fromisoformat(app.placement(household)["respond_by"])
        assert respond_by == app.today() + timedelta(days=14)  # offer_days, counted from the offer
        clock.advance(days=days)
        expired = app.sweep()["expired"]
        assert expired == (1 if app.today() > respond_by else 0)
        state = app.placement(household)["state"]
        assert (state != "offered") == (app.today() > respond_by)
        assert UUID(app.placement(household)["case_id"])
    finally:
        app.close()
