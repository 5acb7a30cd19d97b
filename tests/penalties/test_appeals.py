"""Appeals against sanctions: the single read the gateway checks estates with, and four eyes and roles
enforced by penalties itself (the domain refuses; the API answers 403), so that calling the service
directly, without the gateway, cannot get round them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.penalties.application import PenaltiesApp
from services.penalties.domain import Appeal, FourEyesViolation, RoleRefused, RuleError
from services.penalties.service import build
from services.penalties.settings import PenaltiesSettings
from tests.penalties.support import feed, make_app, move_to, registered_household, violation
from tests.support.identity import ANONYMOUS, OperatorAuth, as_operator

CLERK = as_operator("desk.clerk", "household", "penalties")
CHEN = as_operator("supervisor.chen", "supervisor", "penalties")
WANG = as_operator("supervisor.wang", "supervisor", "penalties")
ZHAO = as_operator("supervisor.zhao", "supervisor", "penalties")
REVIEWER = as_operator("reviewer.he", "reviewer", "penalties")
AUDITOR = as_operator("auditor.sun", "auditor", "penalties")
LIU = as_operator("supervisor.liu", "supervisor", "penalties")


# -- the domain: no I/O, the rule itself ------------------------------------------------------------


def appeal(lodged_by: str = "desk.clerk") -> Appeal:
    made = Appeal.lodge(uuid4(), uuid4(), date(2027, 3, 20), "away for work", lodged_by, "household", "E")
    made.collect_events()
    return made


def test_an_appeal_is_decided_by_a_supervisor_who_neither_recorded_it_nor_imposed_the_sanction() -> None:
    with pytest.raises(RoleRefused):
        Appeal.lodge(uuid4(), uuid4(), date(2027, 3, 20), "x", "auditor.sun", "auditor", "E")
    with pytest.raises(RoleRefused):
        Appeal.lodge(uuid4(), uuid4(), date(2027, 3, 20), "x", "system", "department", "E")

    refused: list[tuple[str, str, str | None, type[Exception]]] = [
        ("reviewer.he", "reviewer", None, RoleRefused),
        ("inspector.wu", "inspector", None, RoleRefused),
        ("auditor.sun", "auditor", None, RoleRefused),
        ("supervisor.wang", "", None, RoleRefused),
        ("desk.clerk", "supervisor", None, FourEyesViolation),  # recorded it
        ("supervisor.chen", "supervisor", "supervisor.chen", FourEyesViolation),  # imposed the sanction
        ("admin.lin", "admin", "admin.lin", FourEyesViolation),
    ]
    for by, role, imposed_by, error in refused:
        one = appeal()
        with pytest.raises(error):
            one.resolve("upheld", date(2027, 4, 1), by, role, "", imposed_by)
        assert one.state == "open" and not one.collect_events(), (by, role)

    decided = appeal()
    decided.resolve("dismissed", date(2027, 4, 1), "supervisor.wang", "supervisor", "", "supervisor.chen")
    assert (decided.state, decided.resolved_by, decided.resolved_role) == (
        "dismissed",
        "supervisor.wang",
        "supervisor",
    )
    (event,) = decided.collect_events()
    assert vars(event)["role"] == "supervisor"
    by_admin = appeal()
    by_admin.resolve("upheld", date(2027, 4, 1), "admin.lin", "admin", "", None)  # a system sanction
    assert by_admin.state == "upheld"
    with pytest.raises(RuleError):  # once decided, a second decision is a state error
        decided.resolve("upheld", date(2027, 4, 2), "supervisor.zhao", "supervisor", "", None)


# -- over HTTP, straight to penalties (no gateway in front) -----------------------------------------
READER = OperatorAuth("auditor.sun", "auditor", "penalties")
"""The clients' default operator: reads; every command names who takes it."""


@pytest.fixture
async def client_and_app(
    tmp_path: Path, persistence: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, PenaltiesApp]]:
    api, runtime = build(
        PenaltiesSettings(var_dir=tmp_path), persistence, app=make_app(tmp_path, persistence)
    )
    app = runtime.app
    assert isinstance(app, PenaltiesApp)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://penalties", auth=READER
    ) as client:
        yield client, app
    app.close()


async def sanction_imposed_by_chen(client: httpx.AsyncClient, app: PenaltiesApp) -> dict[str, Any]:
    household_id = registered_household(app)
    confirmed = violation(household_id, "sublet", date(2027, 3, 10))
    feed(app, "on_violation_confirmed", confirmed)
    move_to(app, date(2027, 3, 11))
    imposed = await client.post(
        f"/households/{household_id}/sanctions",
        json={"kind": "credit_list", "violation": "sublet", "basis_id": str(confirmed.warning_id)},
        headers=CHEN,
    )
    assert imposed.status_code == 201 and imposed.json()["imposed_by"] == "supervisor.chen"
    entered = await client.post(f"/sanctions/{imposed.json()['sanction_id']}/enter", headers=LIU)
    assert entered.status_code == 200 and entered.json()["state"] == "active"
    move_to(app, date(2027, 3, 20))
    return dict(entered.json())


async def test_one_appeal_by_id(client_and_app: tuple[httpx.AsyncClient, PenaltiesApp]) -> None:
    client, app = client_and_app
    sanction = await sanction_imposed_by_chen(client, app)
    lodged = await client.post(
        f"/sanctions/{sanction['sanction_id']}/appeals",
        json={"grounds": "the lodger is my brother"},
        headers=CLERK,
    )
    assert lodged.status_code == 201 and lodged.json()["lodged_by"] == "desk.clerk"
    appeal_id = lodged.json()["appeal_id"]

    one = await client.get(f"/appeals/{appeal_id}")
    (listed,) = [a for a in (await client.get("/appeals")).json()["items"] if a["appeal_id"] == appeal_id]
    assert one.status_code == 200 and one.json() == listed == lodged.json()
    assert one.json()["estate"] == "Chancheng Garden" and one.json()["state"] == "open"
    for unknown in (uuid4(), sanction["sanction_id"], sanction["household_id"]):  # not appeals
        missing = await client.get(f"/appeals/{unknown}")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["status"] == 404
    assert (await client.get("/appeals/not-a-uuid")).status_code == 422

    operation = (await client.get("/openapi.json")).json()["paths"]["/appeals/{appeal_id}"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AppealOut"
    }
    assert "application/problem+json" in operation["responses"]["404"]["content"]


async def test_four_eyes_and_roles_hold_when_penalties_is_called_directly(
    client_and_app: tuple[httpx.AsyncClient, PenaltiesApp],
) -> None:
    client, app = client_and_app
    sanction = await sanction_imposed_by_chen(client, app)
    appeals_url = f"/sanctions/{sanction['sanction_id']}/appeals"
    grounds = {"grounds": "away for work"}

    assert (await client.post(appeals_url, json=grounds, auth=ANONYMOUS)).status_code == 401
    by_auditor = await client.post(appeals_url, json=grounds, headers=AUDITOR)
    assert by_auditor.status_code == 403 and by_auditor.json()["title"] == "Role not allowed"
    assert (await client.get("/appeals")).json()["items"] == []  # nothing recorded

    lodged = await client.post(appeals_url, json=grounds, headers=WANG)  # on the household's behalf
    assert lodged.status_code == 201
    resolve_url = f"/appeals/{lodged.json()['appeal_id']}/resolve"
    decision = {"outcome": "upheld"}
    move_to(app, date(2027, 4, 1))
    before = (await client.get(f"/households/{sanction['household_id']}/timeline")).json()["entries"]

    refusals = [
        ({}, 401, "Caller not authenticated"),
        (
            {"X-Operator-Id": "supervisor.zhao", "X-Operator-Role": "supervisor"},
            401,
            "Caller not authenticated",
        ),
        (REVIEWER, 403, "Role not allowed"),
        (AUDITOR, 403, "Role not allowed"),
        (
            as_operator("supervisor.zhao", "reviewer", "penalties"),
            403,
            "Role not allowed",
        ),  # her id, wrong role
        (WANG, 403, "Four-eyes principle"),  # recorded the appeal
        (CHEN, 403, "Four-eyes principle"),  # imposed the sanction
        (LIU, 403, "Four-eyes principle"),  # entered the credit-list entry
    ]
    for headers, status, title in refusals:
        refused = await client.post(resolve_url, json=decision, headers=headers, auth=ANONYMOUS)
        assert (refused.status_code, refused.json()["title"]) == (status, title), headers
        assert refused.headers["content-type"].startswith("application/problem+json")

    after = (await client.get(f"/households/{sanction['household_id']}/timeline")).json()["entries"]
    assert after == before  # the refusals changed nothing
    assert (await client.get(f"/appeals/{lodged.json()['appeal_id']}")).json()["state"] == "open"
    assert (await client.get(f"/sanctions/{sanction['sanction_id']}")).json()["suspended_by_appeal"]

    decided = await client.post(resolve_url, json=decision, headers=ZHAO)
    assert decided.status_code == 200
    assert (decided.json()["state"], decided.json()["resolved_by"]) == ("upheld", "supervisor.zhao")
    assert (await client.get(f"/sanctions/{sanction['sanction_id']}")).json()["state"] == "withdrawn"
    again = await client.post(resolve_url, json=decision, headers=ZHAO)
    assert again.status_code == 409
