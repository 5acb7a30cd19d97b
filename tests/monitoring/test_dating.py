"""Monitoring's warning steps on the server's clock (issue 23): assign, confirm, dismiss and rectify
happen today or, recorded late, on an earlier day inside `LATE_RECORDING_DAYS` with a reason; never
in the future, never before the warning was raised or its previous step; detection judges no day
that has not come."""

from __future__ import annotations

import json
from datetime import timedelta

from services.monitoring.handlers import DOOR_ACCESS
from tests.monitoring.support import START, UNIT, door_signal, local
from tests.monitoring.test_api import Api, api

__all__ = ["api"]


async def test_warning_steps_are_dated_today_or_late_inside_the_window_with_a_reason(api: Api) -> None:
    api.app.catch_up()
    api.intake.fold_many(
        [(DOOR_ACCESS.subject, 1, json.dumps(door_signal(UNIT, "other", local(START, 9))).encode())]
    )
    raised_on = START + timedelta(days=30)
    (raised,) = (await api.client.post("/detection/run", params={"as_of": str(raised_on)})).json()["raised"]
    today = api.app.today()
    ahead = await api.client.post("/detection/run", params={"as_of": str(today + timedelta(days=1))})
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["location"] == "body.as_of"

    url = f"/warnings/{raised}"

    async def step(path: str, **body: str) -> tuple[int, str]:
        answer = await api.client.post(f"{url}/{path}", json={"inspector_id": "inspector.wu", **body})
        return answer.status_code, str(answer.json().get("detail", ""))

    future = await step("assign", on=str(today + timedelta(days=1)), reason_late="x")
    assert future[0] == 422 and "future" in future[1]
    before = await step("assign", on=str(raised_on - timedelta(days=1)), reason_late="x")
    assert before[0] == 422 and "before the warning being raised" in before[1]
    stale = await step("assign", on=str(today - timedelta(days=31)), reason_late="x")
    assert stale[0] == 422 and "more than 30 days" in stale[1]
    silent = await step("assign", on=str(today - timedelta(days=3)))
    assert silent[0] == 422 and "reason" in silent[1]
    assigned_on = today - timedelta(days=3)
    assert await step("assign", on=str(assigned_on), reason_late="visit filed on return") == (200, "")
    earlier = await step(
        "dismiss", reason="tenant abroad", on=str(assigned_on - timedelta(days=1)), reason_late="x"
    )
    assert earlier[0] == 422 and "before the warning's previous step" in earlier[1]
    assert await step("dismiss", reason="tenant abroad for surgery") == (200, "")

    detail = (await api.client.get(url)).json()
    assert detail["status"] == "dismissed" and detail["closed_on"] == today.isoformat()
    entries = (await api.client.get(f"/households/{api.household}/timeline")).json()["entries"]
    summaries = [e["summary"] for e in entries]
    assert (
        f"Occupancy warning assigned to an inspector on {assigned_on.isoformat()} (recorded late on "
        f"{today.isoformat()}: visit filed on return)"
    ) in summaries
    assert "Occupancy warning dismissed" in summaries
