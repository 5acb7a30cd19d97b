"""`make demo`: a few Foshan households through the automated first review, in one command.

It starts the stack exactly as `make run` does (in-process, through `infra.stack.start_stack`), then acts
as the housing bureau and the departments would, through the public APIs only:
1. registers four households in two estates (eligibility `POST /households`; the ID numbers are
   synthetic and never leave eligibility: the answer carries each member's `person_hash`);
2. posts one batch of department facts (`POST /facts`, a JSON array of `housing.department.fact-reported`
   payloads): per-capita incomes from civil affairs, financial assets from finance, a flat from the
   real-estate registry, plus one line a careless department sends with money as a float (refused,
   named by line and field) and one fact sent twice (acknowledged as a duplicate);
3. waits for the automated decisions and prints each with the rule that decided it, then the review
   cases opened and the readiness of every service as the gateway sees it; then stops the stack.

Each household is built to meet one of Foshan's exit triggers (per-capita monthly income above 3,960
yuan, family housing above 60 m², financial assets above 200,000 yuan; seed/BRIEF.md) or none of them.
The synthetic population of the whole city is the demo of a later issue ("A Foshan-sized city").
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from infra.stack import StackError, plan_stack, start_stack

TIMEOUT_S = 10.0
DECISION_WAIT_S = 30.0
# Facts describe the first of the current month (Foshan time), so they are never stale.
DESCRIBED_ON = datetime.now(timezone(timedelta(hours=8))).date().replace(day=1).isoformat()


@dataclass(frozen=True)
class DemoHousehold:
    """A household, its per-capita monthly income (as civil affairs reports it) and its assets, and what
    the demo expects of it."""

    label: str
    estate: str
    unit: str
    income_per_capita: str
    members: int
    assets: str
    flat_m2: str | None
    expected: str


HOUSEHOLDS = (
    DemoHousehold("Chen", "Chancheng Garden", "3-201", "4550.00", 2, "48000.00", None, "exit_triggered"),
    DemoHousehold("Li", "Nanhai Court", "7-502", "1950.00", 2, "35000.00", "72.50", "exit_triggered"),
    DemoHousehold("Wang", "Chancheng Garden", "5-1103", "2450.00", 2, "260000.00", None, "exit_triggered"),
    DemoHousehold("Zhao", "Nanhai Court", "2-303", "1850.00", 2, "18000.00", None, "qualifies"),
)


def synthetic_id_number(n: int, member: int) -> str:
    """The shape of a PRC ID number (Foshan area code, a birth date), never a real person's."""
    return f"440604{1970 + n:04d}0{member + 1}01{n:02d}{member}X"


def register(client: httpx.Client, n: int, household: DemoHousehold) -> dict[str, Any]:
    building, unit = household.unit.split("-")
    response = client.post(
        "/households",
        json={
            "region": "CN-FS",
            "estate": household.estate,
            "building": building,
            "unit": unit,
            "base_rent": "680.00",
            "tenancy_start": "2019-03-01",
            "members": [
                {"id_number": synthetic_id_number(n, m), "birth_date": f"{1970 + n}-0{m + 1}-01"}
                for m in range(household.members)
            ],
        },
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def facts_for(n: int, household: DemoHousehold, registered: dict[str, Any]) -> list[dict[str, Any]]:
    facts: list[dict[str, Any]] = [
        {
            "department": "civil_affairs",
            "reference": f"MZ-DEMO-{n}",
            "described_on": DESCRIBED_ON,
            "household_id": registered["household_id"],
            "person_hash": None,
            "fact": {"kind": "income", "monthly_income": household.income_per_capita},
        }
    ]
    facts.append(
        {
            "department": "finance",
            "reference": f"JR-DEMO-{n}",
            "described_on": DESCRIBED_ON,
            "household_id": registered["household_id"],
            "person_hash": None,
            "fact": {"kind": "financial_assets", "amount": household.assets},
        }
    )
    if household.flat_m2 is not None:
        facts.append(
            {
                "department": "real_estate",
                "reference": f"BDC-DEMO-{n}",
                "described_on": DESCRIBED_ON,
                "household_id": registered["household_id"],
                "person_hash": None,
                "fact": {
                    "kind": "property",
                    "area_m2": household.flat_m2,
                    "city": "CN-GZ",
                    "property_ref": f"GZ-{n}",
                },
            }
        )
    return facts


def careless_line(registered: dict[str, Any]) -> dict[str, Any]:
    """Money as a JSON float: the contract refuses it, and the answer names the line and the field."""
    return {
        "department": "finance",
        "reference": "JR-DEMO-FLOAT",
        "described_on": DESCRIBED_ON,
        "household_id": registered["household_id"],
        "person_hash": None,
        "fact": {"kind": "financial_assets", "amount": 1234.5},
    }


def wait_for_decisions(client: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + DECISION_WAIT_S
    views: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        views = {i: client.get(f"/households/{i}").json() for i in ids}
        if all(view.get("decision") for view in views.values()):
            break
        time.sleep(0.3)
    return views


def deciding_rule(decision: dict[str, Any]) -> str:
    """The first rule that decided, with its comparison as eligibility explains it."""
    for rule in decision.get("rules", []):
        if rule.get("status") == "exit":
            return f"{rule['rule']}: {rule.get('comparison', '')}"
    return "every rule clear" if decision.get("outcome") == "qualifies" else "see the explanation"


def run_demo(eligibility: str, gateway: str) -> bool:
    with httpx.Client(base_url=eligibility, timeout=TIMEOUT_S, trust_env=False) as client:
        registered = [register(client, n, h) for n, h in enumerate(HOUSEHOLDS)]
        print(
            f"registered {len(registered)} households "
            "(ID numbers stay in eligibility; events carry member ids)"
        )
        batch = [fact for n, h in enumerate(HOUSEHOLDS) for fact in facts_for(n, h, registered[n])]
        batch += [batch[0], careless_line(registered[0])]  # a fact sent twice, and a careless line
        answer = client.post("/facts", json=batch).json()
        print(
            f"posted {answer['received']} department facts: {answer['recorded']} recorded, "
            f"{answer['duplicates']} duplicate, {answer['rejected']} rejected"
        )
        for problem in answer["problems"]:
            print(
                f"  refused line {problem['line']}, field {problem.get('field')}: {problem.get('detail', '')}"
            )

        views = wait_for_decisions(client, [r["household_id"] for r in registered])
        correct = 0
        print("automated first review (a proposal; a person re-reviews every exit):")
        for household, registered_one in zip(HOUSEHOLDS, registered, strict=True):
            decision = views[registered_one["household_id"]].get("decision") or {}
            outcome = decision.get("outcome", "undecided")
            correct += outcome == household.expected
            print(f"  {household.label:<5} {household.estate:<17} {outcome:<15} {deciding_rule(decision)}")
        cases = client.get("/cases", params={"status": "open"}).json()
        print(f"review cases open: {len(cases)}")
    with httpx.Client(base_url=gateway, timeout=TIMEOUT_S, trust_env=False) as client:
        states = ", ".join(f"{s['name']} {s['state']}" for s in client.get("/api/status").json())
        print(f"gateway sees: {states}")
    print(f"{correct} of {len(HOUSEHOLDS)} decisions as expected")
    return correct == len(HOUSEHOLDS)


def main() -> int:
    plan = plan_stack()
    runnable = {spec.name for spec in plan.runnable}
    if not {"eligibility", "gateway"} <= runnable:
        print("demo: needs eligibility and the gateway (infra/local/Procfile)", file=sys.stderr)
        return 1
    print(f"demo: starting the stack ({', '.join(sorted(runnable))}); logs under var/log ...", flush=True)
    try:
        with start_stack(echo=False) as stack:
            ok = run_demo(stack.base_url("eligibility"), stack.base_url("gateway"))
    except StackError as exc:
        print(f"demo: the stack did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; the stack is stopped")
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
