"""Queries over the population read model: what-if on candidate parameters, reviewer reports.

Nothing here writes: what-if evaluates every household twice (parameters in force, candidate
parameters) on the same date with the same pure `evaluate` that decides for real.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from services.eligibility import rules
from services.eligibility.domain import Household, ReviewCase
from services.eligibility.projection import Population
from services.kit.households import RENT_SUBSIDY_ESTATE


class WhatIfSource(Protocol):
    """What what-if reads of the application (`EligibilityApp` is one): its read model and the
    parameters in force. A protocol, so that this module does not import the application."""

    @property
    def population(self) -> Population: ...

    def current_table(self) -> rules.ParameterTable: ...


def candidate_table(
    table: rules.ParameterTable, on: date, values: Sequence[tuple[str, str, Decimal]]
) -> rules.ParameterTable:
    """`table` with each candidate value in force from `on` (it wins over a value of the same date)."""
    extra = [
        rules.ParameterValue(
            rule=rule,
            region=region,
            effective_from=on,
            value=value,
            unit=table.specs[rule].unit,
            legal_reference="what-if candidate",
            added_by="what-if",
        )
        for rule, region, value in values
    ]
    return table.with_values(extra)


def what_if(
    app: WhatIfSource, on: date, values: Sequence[tuple[str, str, Decimal]], *, list_households: bool = True
) -> dict[str, Any]:
    app.population.catch_up()
    current = app.current_table()
    candidate = candidate_table(current, on, values)
    in_force: dict[str, tuple[rules.InForce, rules.InForce]] = {}
    flips: dict[str, dict[str, Any]] = {}
    total = 0
    for household in list(app.population.households.values()):
        total += 1
        region = household.region
        if region not in in_force:
            in_force[region] = (
                rules.parameters_at(current, region, on),
                rules.parameters_at(candidate, region, on),
            )
        now_params, then_params = in_force[region]
        snapshot = app.population.snapshot(household)
        before = app.population.outcome(household, snapshot, now_params)
        after = rules.outcome(snapshot, then_params)
        if before == after:
            continue
        key = f"{before}->{after}"
        entry = flips.setdefault(
            key, {"count": 0, "by_region": Counter(), "by_estate": Counter(), "households": []}
        )
        entry["count"] += 1
        entry["by_region"][region] += 1
        # no estate: a household on a rent subsidy (the gateway shows this key to city-wide roles only)
        entry["by_estate"][household.estate or RENT_SUBSIDY_ESTATE] += 1
        if list_households:
            entry["households"].append(household.id)
    for entry in flips.values():
        entry["by_region"] = dict(entry["by_region"])
        entry["by_estate"] = dict(entry["by_estate"])
    return {
        "on": on,
        "households": total,
        "candidate": [{"rule": r, "region": g, "value": v} for r, g, v in values],
        "flips": dict(sorted(flips.items())),
    }


def reviewer_report(cases: Iterable[ReviewCase], operator_id: str) -> dict[str, Any]:
    """Cases handled, proposals overturned (sent back on approval, changed on appeal), time taken.

    Time taken is from the step before a finding (case opened, sent back, assessment received,
    appeal lodged) to the finding itself.
    """
    handled: set[Any] = set()
    approved: set[Any] = set()
    proposals = 0
    overturned_on_approval = 0
    overturned_on_appeal = 0
    seconds: list[float] = []
    outcomes: Counter[str] = Counter()
    for case in cases:
        last_at: datetime | None = None
        current_proposer: str | None = None
        for step in case.steps:
            action, actor = step["action"], step["actor"]
            if action == "finding":
                current_proposer = actor
                if actor == operator_id:
                    handled.add(case.id)
                    proposals += 1
                    outcomes[str(step["after"])] += 1
                    if last_at is not None:
                        seconds.append((step["at"] - last_at).total_seconds())
            elif action == "sent_back":
                if current_proposer == operator_id:
                    overturned_on_approval += 1
                current_proposer = None
            elif action == "approved" and actor == operator_id:
                approved.add(case.id)
            last_at = step["at"]
        overturned_on_appeal += _overturned_on_appeal(case, operator_id)
    return {
        "operator_id": operator_id,
        "cases_handled": len(handled),
        "proposals": proposals,
        "proposals_by_outcome": dict(outcomes),
        "cases_approved_or_sent_back": len(approved),
        "overturned_on_approval": overturned_on_approval,
        "overturned_on_appeal": overturned_on_appeal,
        "mean_seconds_to_finding": (sum(seconds) / len(seconds)) if seconds else None,
    }


def _overturned_on_appeal(case: ReviewCase, operator_id: str) -> int:
    """Approved proposals of `operator_id` that a later appeal changed."""
    count = 0
    approved_proposers: list[str] = []
    proposer: str | None = None
    for step in case.steps:
        if step["action"] == "finding":
            proposer = step["actor"]
        elif step["action"] == "approved" and proposer is not None:
            approved_proposers.append(proposer)
    resolved = [a for a in case.appeals if a.get("outcome") is not None]
    # appeal i re-decides the decision approved before it: approved_proposers[i]
    for index, appeal in enumerate(resolved):
        proposer_of_overturned = approved_proposers[index] if index < len(approved_proposers) else None
        if appeal.get("overturned") and proposer_of_overturned == operator_id:
            count += 1
    return count


def figures(households: Iterable[Household], cases: Iterable[ReviewCase]) -> dict[str, Any]:
    """The bureau's dashboard counts from eligibility: households by latest automated outcome, cases by
    status, final outcomes, and how often a second pair of eyes or an appeal changed a proposal."""
    by_outcome: Counter[str] = Counter(h.outcome or "none" for h in households)
    by_status: Counter[str] = Counter()
    final: Counter[str] = Counter()
    proposals = sent_back = appeals = overturned = 0
    for case in cases:
        by_status[case.status] += 1
        if case.final_outcome is not None:
            final[case.final_outcome] += 1
        for step in case.steps:
            proposals += step["action"] == "finding"
            sent_back += step["action"] == "sent_back"
        appeals += len(case.appeals)
        overturned += sum(1 for a in case.appeals if a.get("overturned"))
    total = sum(by_outcome.values())
    return {
        "households": total,
        "households_by_outcome": dict(by_outcome),
        "households_under_review": by_status["open"]
        + by_status["proposed"]
        + by_status["assessment"]
        + by_status["appealed"],
        "cases_by_status": dict(by_status),
        "final_outcomes": dict(final),
        "exit_decisions": final["exit_required"] + final["transition"],
        "proposals": proposals,
        "proposals_sent_back": sent_back,
        "appeals": appeals,
        "appeals_overturned": overturned,
    }


# -- the cross-region sweep -------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPolicy:
    """When a household is due for a cross-region check, as of `now`."""

    now: datetime
    recheck_days: Callable[[str], int]
    """Days a check holds in a region (the dated parameter in force today, else the setting)."""
    first_after: timedelta
    retry: timedelta
    orders: Sequence[Mapping[str, Any]] = ()
    """Operators' sweep orders (`SweepOrders`): region and/or estate, and when."""


def cross_region_reason(household: Household, policy: SweepPolicy) -> str | None:
    """Why `household` is due for a check now, or None.

    - never checked: at its first decision, or `first_after` after its registration without one;
    - a check still waiting for answers is left alone until `retry` has passed (federation answers
      every city, `unverified` when it cannot tell, so this is only a lost request);
    - an `unverified` city is asked again after `retry` (never left unverified for a year);
    - an operator's order covering the household, newer than its check;
    - the check is older than the region's `cross_region_recheck_days` (the annual review).
    """
    now = policy.now
    checked = household.checked_at
    ordered = any(
        (o["region"] is None or o["region"] == household.region)
        and (o["estate"] is None or o["estate"] == household.estate)
        and (checked is None or o["ordered_at"] > checked)
        for o in policy.orders
    )
    if checked is None:
        if household.decision is not None:
            return "first check"
        if household.created_on is not None and household.created_on <= now - policy.first_after:
            return "first check"
        return "operator's sweep order" if ordered else None
    stale = checked <= now - policy.retry
    if household.check_awaiting:
        return "answers missing" if stale else None
    if ordered:
        return "operator's sweep order"
    if stale and "unverified" in household.cross_region.values():
        return "a city unverified"
    if checked.date() <= now.date() - timedelta(days=policy.recheck_days(household.region)):
        return "annual recheck"
    return None


def cross_region_due(households: Iterable[Household], policy: SweepPolicy) -> list[tuple[UUID, str]]:
    """Households due for a check with the reason, the longest unchecked first."""
    due: list[tuple[datetime, UUID, str]] = []
    floor = datetime.min.replace(tzinfo=UTC)
    for household in households:
        reason = cross_region_reason(household, policy)
        if reason is not None:
            due.append((household.checked_at or floor, household.id, reason))
    due.sort(key=lambda d: d[0])
    return [(household_id, reason) for _, household_id, reason in due]


def cross_region_in_flight(households: Iterable[Household], policy: SweepPolicy) -> int:
    """Checks waiting for answers and not yet given up on (younger than `retry`)."""
    since = policy.now - policy.retry
    return sum(
        1 for h in households if h.check_awaiting and h.checked_at is not None and h.checked_at > since
    )


def cross_region_status(households: Iterable[Household], policy: SweepPolicy) -> dict[str, Any]:
    """How far the checks are: never asked, waiting for answers, due now, and the answers' state."""
    counts: Counter[str] = Counter()
    for household in households:
        counts["households"] += 1
        counts["never_checked"] += household.checked_at is None
        counts["awaiting_answers"] += household.check_awaiting
        counts["due"] += cross_region_reason(household, policy) is not None
        answers = household.cross_region.values()
        counts["matched"] += "match" in answers
        counts["unverified"] += "match" not in answers and "unverified" in answers
    keys = ("households", "never_checked", "awaiting_answers", "due", "matched", "unverified")
    return {key: counts[key] for key in keys}
