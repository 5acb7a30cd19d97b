"""`make demo`: department facts in, the platform's answer out, in one command.

It starts the stack exactly as `make run` does (in-process, through `infra.stack.start_stack`), waits
until every process answers /readyz, posts a few department facts about Foshan households to
eligibility's HTTP intake, prints what came back, and stops the stack. Logs stay under var/log.

The facts exercise Foshan's three exit triggers (per-capita monthly income above 3,960 yuan, family
housing above 60 m², financial assets above 200,000 yuan; seed/BRIEF.md) from the departments that
hold them, plus one household that stays within all three. Households are named by their household
id: the demo never sends an ID number.

Still to come (a later issue): the shape of the intake must follow contracts/ once eligibility
exists, and the report should add the review outcomes read through the gateway and the trace id of
each flow to look up in Jaeger.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from infra.stack import StackError, plan_stack, start_stack

INTAKE_PATH = "/facts"
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DemoFact:
    """A fact as a department reports it, and why it is in the demo (printed, not sent)."""

    body: dict[str, Any]
    why: str


FACTS: list[DemoFact] = [
    DemoFact(
        body={
            "household_id": "FS-CC-000101",
            "department": "civil-affairs",
            "kind": "per-capita-monthly-income",
            "value": 4350,
            "unit": "CNY/month",
            "observed_on": "2025-06-30",
        },
        why="income above the 3,960 yuan trigger",
    ),
    DemoFact(
        body={
            "household_id": "FS-NH-000202",
            "department": "real-estate-registry",
            "kind": "family-owned-housing-area",
            "value": 72.5,
            "unit": "m2",
            "observed_on": "2025-06-30",
        },
        why="owns housing above the 60 m² trigger",
    ),
    DemoFact(
        body={
            "household_id": "FS-CC-000303",
            "department": "finance",
            "kind": "financial-assets",
            "value": 260000,
            "unit": "CNY",
            "observed_on": "2025-06-30",
        },
        why="financial assets above the 200,000 yuan trigger",
    ),
    DemoFact(
        body={
            "household_id": "FS-NH-000404",
            "department": "tax",
            "kind": "per-capita-monthly-income",
            "value": 3100,
            "unit": "CNY/month",
            "observed_on": "2025-06-30",
        },
        why="within every trigger: stays",
    ),
]


@dataclass(frozen=True)
class Outcome:
    """What eligibility answered to one fact."""

    fact: DemoFact
    status: int | None
    answer: str

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def what_it_would_do(intake_url: str) -> str:
    """Shown when eligibility does not exist yet, so that `make demo` still explains itself."""
    lines = [
        "It would: start the stack as `make run` does, wait until every service answers /readyz,",
        f"POST these department facts to {intake_url}, print eligibility's answers, stop the stack:",
    ]
    for fact in FACTS:
        lines.append(f"  {json.dumps(fact.body, ensure_ascii=False)}  # {fact.why}")
    return "\n".join(lines)


def post_facts(base_url: str) -> list[Outcome]:
    """One POST per fact, in order; a refused or failed POST is reported, not raised."""
    outcomes: list[Outcome] = []
    with httpx.Client(base_url=base_url, trust_env=False, timeout=REQUEST_TIMEOUT_S) as client:
        for fact in FACTS:
            try:
                response = client.post(INTAKE_PATH, json=fact.body)
            except httpx.HTTPError as exc:
                outcomes.append(Outcome(fact=fact, status=None, answer=f"request failed: {exc}"))
                continue
            outcomes.append(Outcome(fact=fact, status=response.status_code, answer=response.text[:300]))
    return outcomes


def report(outcomes: list[Outcome], intake_url: str) -> str:
    """One line per fact: household, department, why it is here, eligibility's status and answer."""
    lines = [f"Department facts posted to {intake_url}:"]
    for outcome in outcomes:
        body = outcome.fact.body
        status = "no answer" if outcome.status is None else f"HTTP {outcome.status}"
        lines.append(f"  {body['household_id']}  {body['department']:<21} {outcome.fact.why}")
        lines.append(f"      -> {status}: {outcome.answer}")
    accepted = sum(o.accepted for o in outcomes)
    lines.append(f"{accepted} of {len(outcomes)} facts accepted. Logs: var/log/<name>.log")
    if accepted < len(outcomes) and any(o.status == 404 for o in outcomes):
        lines.append(f"(HTTP 404: eligibility has no {INTAKE_PATH} intake yet.)")
    return "\n".join(lines)


def main() -> int:
    plan = plan_stack()
    runnable = {spec.name: spec for spec in plan.runnable}
    if "eligibility" not in runnable:
        print(
            "demo: eligibility has no code yet (services/eligibility), so there is nobody to send facts to."
        )
        intake = "http://127.0.0.1:8001" + INTAKE_PATH
        print(what_it_would_do(intake))
        return 1
    intake = runnable["eligibility"].base_url + INTAKE_PATH
    skipped = ", ".join(spec.name for spec in plan.skipped) or "none"
    print(f"demo: starting the stack ({', '.join(runnable)}; not written yet: {skipped}) ...", flush=True)
    try:
        with start_stack(echo=False) as stack:
            print("demo: every process answers /readyz", flush=True)
            outcomes = post_facts(stack.base_url("eligibility"))
    except StackError as exc:
        print(f"demo: the stack did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; the stack is stopped")
        return 130
    print(report(outcomes, intake))
    return 0 if all(o.accepted for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
