"""When a penalties command happens: the service's day (its injected clock), or an earlier day inside
`late_recording_days` with a reason, never in the future, never before what the step depends on, shown
as recorded late. No date moves a deadline. Irreversible steps need a supervisor and a second person.

Over HTTP, straight to penalties (no gateway in front): the status table is 422 for a refused date,
409 for a valid request the state does not allow, 403 for a role, 404 for an unknown id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from services.penalties.application import PenaltiesApp
from services.penalties.service import build
from services.penalties.settings import PenaltiesSettings
from tests.penalties.support import exit_decision, feed, make_app, move_to, registered_household, violation
from tests.support.identity import AssertionHeaders, OperatorAuth, as_operator

REVIEWER = as_operator("reviewer.he", "reviewer", "penalties")
INSPECTOR = as_operator("inspector.wu", "inspector", "penalties")
CHEN = as_operator("supervisor.chen", "supervisor", "penalties")
WANG = as_operator("supervisor.wang", "supervisor", "penalties")
ADMIN = as_operator("admin.lin", "admin", "penalties")
CLERK = as_operator("desk.clerk", "household", "penalties")
READER = OperatorAuth("auditor.sun", "auditor", "penalties")

DAY = date(2027, 3, 20)
"""The service's day in most probes (its clock is moved there)."""
WINDOW = 30


@pytest.fixture
async def client_and_app(
    tmp_path: Path, persistence: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, PenaltiesApp]]:
    app = make_app(tmp_path, persistence)
    api, _ = build(PenaltiesSettings(var_dir=tmp_path), persistence, app=app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://penalties", auth=READER
    ) as client:
        yield client, app
    app.close()


def refused_date(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["title"] == "Date not allowed" and response.json()["errors"][0]["location"] == (
        "body.on"
    )


@dataclass
class Probe:
    """One dated command: how to set it up (returns the URL and its body) and what it depends on."""

    name: str
    setup: Callable[[httpx.AsyncClient, PenaltiesApp], Awaitable[tuple[str, dict[str, Any], date]]]
    headers: AssertionHeaders


async def _household_with_violation(app: PenaltiesApp, on: date = date(2027, 3, 10)) -> tuple[UUID, UUID]:
    household_id = registered_household(app)
    confirmed = violation(household_id, "sublet", on)
    feed(app, "on_violation_confirmed", confirmed)
    return household_id, confirmed.warning_id


async def _surcharge(app: PenaltiesApp) -> dict[str, Any]:
    household_id, _ = await _household_with_violation(app)
    (surcharge,) = app.household_sanctions(household_id)
    return surcharge


async def voluntary_exit(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    household_id = registered_household(app)
    return f"/households/{household_id}/voluntary-exit", {}, date(2020, 1, 1)  # the tenancy's start


async def impose(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    household_id, warning_id = await _household_with_violation(app, DAY - timedelta(days=5))
    body = {"kind": "repossession", "violation": "sublet", "basis_id": str(warning_id)}
    return f"/households/{household_id}/sanctions", body, DAY - timedelta(days=5)  # its basis


async def keys_returned(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    household_id = registered_household(app)
    decided = DAY - timedelta(days=10)
    feed(app, "on_exit_decided", exit_decision(household_id, "exit", decided_on=decided))
    return f"/households/{household_id}/keys-returned", {}, decided  # the exit decision


async def serve(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    household_id, warning_id = await _household_with_violation(app, DAY - timedelta(days=8))
    order, _ = app.impose(household_id, "repossession", "sublet", warning_id, "reviewer.he")
    return f"/sanctions/{order['sanction_id']}/serve-notice", {}, DAY  # imposed today


async def lift(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    surcharge = await _surcharge(app)
    return f"/sanctions/{surcharge['sanction_id']}/lift", {"reason": "moved out"}, date(2027, 3, 10)


async def withdraw(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    surcharge = await _surcharge(app)
    return f"/sanctions/{surcharge['sanction_id']}/withdraw", {"reason": "in error"}, date(2027, 3, 10)


async def lodge(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    surcharge = await _surcharge(app)  # imposed 2027-03-10, appealable until 2027-04-09
    return f"/sanctions/{surcharge['sanction_id']}/appeals", {"grounds": "away"}, date(2027, 3, 10)


async def resolve(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, dict[str, Any], date]:
    surcharge = await _surcharge(app)
    lodged_on = DAY - timedelta(days=3)
    move_to(app, lodged_on)
    appeal = app.lodge_appeal(UUID(surcharge["sanction_id"]), "away", "desk.clerk", role="household")
    move_to(app, DAY)
    return f"/appeals/{appeal['appeal_id']}/resolve", {"outcome": "dismissed"}, lodged_on


PROBES = [
    Probe("voluntary-exit", voluntary_exit, CLERK),
    Probe("impose", impose, REVIEWER),
    Probe("keys-returned", keys_returned, REVIEWER),
    Probe("serve-notice", serve, REVIEWER),
    Probe("lift", lift, INSPECTOR),
    Probe("withdraw", withdraw, INSPECTOR),
    Probe("lodge", lodge, CLERK),
    Probe("resolve", resolve, CHEN),
]


STEP = {
    "impose": "imposed",
    "serve-notice": "notice_served",
    "lift": "lifted",
    "withdraw": "withdrawn",
    "lodge": "lodged",
    "resolve": "resolved",
}
"""Where a sanction's or an appeal's view shows the step (`recorded`); the others show it directly."""


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
async def test_every_dated_command_takes_today_or_a_late_day_with_a_reason(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp], probe: Probe
) -> None:
    client, app = client_and_app
    move_to(app, DAY)

    async def post(extra: dict[str, Any]) -> httpx.Response:
        url, body, _ = await probe.setup(client, app)
        move_to(app, DAY)
        return await client.post(url, json={**body, **extra}, headers=probe.headers)

    # a day that has not come cannot have happened
    refused_date(await post({"on": (DAY + timedelta(days=1)).isoformat(), "reason_late": "x"}))
    # more than the window ago
    too_old = DAY - timedelta(days=WINDOW + 1)
    refused_date(await post({"on": too_old.isoformat(), "reason_late": "found in a drawer"}))
    # before what it depends on
    url, body, depends_on = await probe.setup(client, app)
    move_to(app, DAY)
    before = depends_on - timedelta(days=1)
    early = await client.post(
        url, json={**body, "on": before.isoformat(), "reason_late": "x"}, headers=probe.headers
    )
    refused_date(early)
    # earlier without a reason
    yesterday = (DAY - timedelta(days=1)).isoformat()
    url, body, depends_on = await probe.setup(client, app)
    move_to(app, DAY)
    if depends_on < DAY:  # (a step that depends on today's imposition cannot be dated yesterday at all)
        silent = await client.post(url, json={**body, "on": yesterday}, headers=probe.headers)
        refused_date(silent)
        assert "reason" in silent.json()["detail"]
        # inside the window, with a reason: taken, and shown as recorded late
        taken = await client.post(
            url, json={**body, "on": yesterday, "reason_late": "filed on return"}, headers=probe.headers
        )
        assert taken.status_code in (200, 201), taken.text
        shown = taken.json()["recorded"]
        step = shown[STEP[probe.name]] if probe.name in STEP else shown
        assert step == {
            "on": yesterday,
            "recorded_on": DAY.isoformat(),
            "recorded_late": True,
            "late_reason": "filed on return",
        }, shown
    # today, without a date: taken, not late
    url, body, _ = await probe.setup(client, app)
    move_to(app, DAY)
    today = await client.post(url, json=body, headers=probe.headers)
    assert today.status_code in (200, 201), today.text


async def test_a_late_step_keeps_the_households_periods_counted_from_the_day_it_is_recorded(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    household_id, warning_id = await _household_with_violation(app, date(2027, 3, 1))
    move_to(app, DAY)
    order = await client.post(
        f"/households/{household_id}/sanctions",
        json={
            "kind": "repossession",
            "violation": "sublet",
            "basis_id": str(warning_id),
            "on": "2027-03-05",
            "reason_late": "decided at the estate office, filed on return",
        },
        headers=CHEN,
    )
    assert order.status_code == 201, order.text
    # imposed on the 5th, recorded on the 20th: the household may appeal for 30 days from the 20th
    assert (order.json()["imposed_on"], order.json()["appeal_until"]) == ("2027-03-05", "2027-04-19")
    served = await client.post(
        f"/sanctions/{order.json()['sanction_id']}/serve-notice",
        json={"on": "2027-03-19", "reason_late": "served in person yesterday"},
        headers=REVIEWER,
    )
    assert served.status_code == 200 and served.json()["deadline"] == "2027-04-19"  # from the 20th
    timeline = (await client.get(f"/households/{household_id}/timeline")).json()["entries"]
    assert any("recorded late on 2027-03-20: served in person yesterday" in e["summary"] for e in timeline)


async def test_keys_returned_needs_an_exit_decision_and_cannot_predate_it(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    move_to(app, DAY)
    household_id = registered_household(app)
    url = f"/households/{household_id}/keys-returned"
    # the case: 1999-01-01 for a household with no exit decision, before its tenancy began
    no_decision = await client.post(url, json={"on": "1999-01-01"}, headers=REVIEWER)
    assert no_decision.status_code == 409 and "exit decision" in no_decision.json()["detail"]
    assert (await client.post(url, json={}, headers=REVIEWER)).status_code == 409
    feed(app, "on_exit_decided", exit_decision(household_id, "exit", decided_on=date(2027, 3, 15)))
    ancient = await client.post(url, json={"on": "1999-01-01", "reason_late": "x"}, headers=REVIEWER)
    refused_date(ancient)
    assert "exit decision" in ancient.json()["detail"]
    assert (
        await client.post(f"/households/{uuid4()}/keys-returned", json={}, headers=REVIEWER)
    ).status_code == (404)
    done = await client.post(
        url, json={"on": "2027-03-18", "reason_late": "keys at the desk"}, headers=REVIEWER
    )
    assert done.status_code == 200 and done.json()["recorded"]["recorded_late"], done.text
    ledger = (await client.get(f"/households/{household_id}/ledger")).json()
    assert ledger["exited"]["on"] == "2027-03-18" and ledger["exited"]["recorded_on"] == "2027-03-20"
    assert ledger["exited"]["late_reason"] == "keys at the desk"
    assert (await client.post(url, json={}, headers=REVIEWER)).status_code == 409  # already left


async def served_order(client: httpx.AsyncClient, app: PenaltiesApp) -> tuple[str, str]:
    """(sanction id, deadline) of a repossession served on 2027-03-12 (deadline 2027-04-11)."""
    household_id, warning_id = await _household_with_violation(app)
    move_to(app, date(2027, 3, 12))
    order, _ = app.impose(household_id, "repossession", "sublet", warning_id, "reviewer.he")
    served = app.serve_repossession(UUID(order["sanction_id"]), "reviewer.he")
    assert served["deadline"] == "2027-04-11"
    return order["sanction_id"], served["deadline"]


async def test_no_date_moves_a_repossessions_deadline(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    sanction_id, _ = await served_order(client, app)
    # The case: refused today, then executed today with a date after the deadline.
    move_to(app, date(2027, 4, 6))
    for body in ({}, {"on": "2027-05-01"}, {"on": "2027-04-12", "reason_late": "x"}):
        early = await client.post(f"/sanctions/{sanction_id}/execute", json=body, headers=WANG)
        assert early.status_code == 409 and "until 2027-04-11" in early.json()["detail"], early.text
    too_soon = await client.post(f"/sanctions/{sanction_id}/propose-execution", headers=REVIEWER)
    assert too_soon.status_code == 409
    assert (
        await client.post(f"/sanctions/{sanction_id}/execute", json={}, headers=REVIEWER)
    ).status_code == 403
    # The overdue check takes no date: one sent is not read.
    checked = await client.post("/transitions/overdue-check", json={"on": "2099-01-01"}, headers=REVIEWER)
    assert checked.status_code == 200 and checked.json() == {"sanctioned": []}

    move_to(app, date(2027, 4, 13))
    proposed = await client.post(f"/sanctions/{sanction_id}/propose-execution", headers=REVIEWER)
    assert proposed.status_code == 200 and proposed.json()["execution_proposed"]["by"] == "reviewer.he"
    on_deadline = await client.post(
        f"/sanctions/{sanction_id}/execute", json={"on": "2027-04-11", "reason_late": "x"}, headers=WANG
    )
    refused_date(on_deadline)  # the deadline day is still the household's
    executed = await client.post(
        f"/sanctions/{sanction_id}/execute",
        json={"on": "2027-04-12", "reason_late": "done yesterday"},
        headers=WANG,
    )
    assert executed.status_code == 200 and executed.json()["state"] == "executed", executed.text
    assert executed.json()["recorded"]["executed"]["recorded_late"]
    assert (await client.get(f"/sanctions/{uuid4()}")).status_code == 404


async def test_four_eyes_on_a_repossessions_execution(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    sanction_id, _ = await served_order(client, app)
    move_to(app, date(2027, 4, 20))
    execute = f"/sanctions/{sanction_id}/execute"
    unproposed = await client.post(execute, json={}, headers=CHEN)
    assert unproposed.status_code == 409 and "four-eyes" in unproposed.json()["detail"]
    for role in (REVIEWER, INSPECTOR, ADMIN):  # only a supervisor carries it out
        refused = await client.post(execute, json={}, headers=role)
        assert (refused.status_code, refused.json()["title"]) == (403, "Role not allowed")
    assert (
        await client.post(f"/sanctions/{sanction_id}/propose-execution", headers=CLERK)
    ).status_code == 403
    assert (await client.post(f"/sanctions/{sanction_id}/propose-execution", headers=CHEN)).status_code == 200
    again = await client.post(f"/sanctions/{sanction_id}/propose-execution", headers=WANG)
    assert again.status_code == 409  # proposed once
    own = await client.post(execute, json={}, headers=CHEN)
    assert (own.status_code, own.json()["title"]) == (403, "Four-eyes principle")
    assert (await client.get(f"/sanctions/{sanction_id}")).json()["state"] == "notice_served"
    done = await client.post(execute, json={}, headers=WANG)
    assert done.status_code == 200 and done.json()["state"] == "executed"
    assert (await client.post(execute, json={}, headers=WANG)).status_code == 409


async def test_four_eyes_on_a_credit_list_entry(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    household_id, warning_id = await _household_with_violation(app)
    move_to(app, date(2027, 3, 12))
    body = {"kind": "credit_list", "violation": "sublet", "basis_id": str(warning_id)}
    proposed = await client.post(f"/households/{household_id}/sanctions", json=body, headers=CHEN)
    assert proposed.status_code == 201 and proposed.json()["state"] == "proposed"
    assert not proposed.json()["in_force"] and proposed.json()["awaiting_entry"]
    sanction_id = proposed.json()["sanction_id"]
    notices = (await client.get(f"/households/{household_id}/notices")).json()
    assert [n["kind"] for n in notices] == ["sanction_imposed"]  # the surcharge's only: nothing entered yet
    appeal = await client.post(f"/sanctions/{sanction_id}/appeals", json={"grounds": "x"}, headers=CLERK)
    assert appeal.status_code == 409  # nothing to appeal yet
    enter = f"/sanctions/{sanction_id}/enter"
    for role in (REVIEWER, INSPECTOR, ADMIN):
        assert (await client.post(enter, headers=role)).status_code == 403
    own = await client.post(enter, headers=CHEN)
    assert (own.status_code, own.json()["title"]) == (403, "Four-eyes principle")
    move_to(app, date(2027, 3, 14))
    entered = await client.post(enter, headers=WANG)
    assert entered.status_code == 200, entered.text
    entry = entered.json()
    assert (entry["state"], entry["in_force"], entry["effective_from"]) == ("active", True, "2027-03-14")
    assert entry["entered"]["by"] == "supervisor.wang" and entry["appeal_until"] == "2027-04-13"
    assert (await client.post(enter, headers=WANG)).status_code == 409
    notices = (await client.get(f"/households/{household_id}/notices")).json()
    assert [n["title"] for n in notices][-1] == "Entry in the credit list"
    assert app.figures()["credit_list_entries_open"] == 1
