"""The city report: the platform's figures beside the paper's, and decision accuracy against the truth.

Every count of the platform comes from the same place the console's dashboard reads it: each service's
`GET /figures` (the gateway's `/api/figures` forwards them unchanged). Federation has no `/figures`;
its matches are read from its `/metrics` (`federation_outbound_results_total{result="match"}`) and, per
household, from eligibility's view of the cross-region answers (`GET /cross-region/status`: its periodic
sweep asks the peers about every household). Accuracy needs per-household outcomes:
they come from eligibility's `GET /households?estate=&outcome=` (the automated review) and from the
approval answers of the cases (the manual re-review).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from infra.city.data import EXIT, RETAIN, City
from infra.city.load import Counts, Urls, every
from infra.city.operators import Models, Work

UNDECIDED = "undecided"
AUTOMATED = {"exit_triggered": EXIT, "qualifies": RETAIN, "needs_manual": UNDECIDED}
FINAL = {"exit_required": EXIT, "transition": EXIT, "retain": RETAIN}
OUTCOMES = ("exit_triggered", "needs_manual", "qualifies")
_MATCHES = re.compile(r"^federation_outbound_results_total\{([^}]*)\}\s+([0-9.e+-]+)$", re.MULTILINE)

SUBSIDY_HOUSEHOLDS = 38_600 - 12_300
# The paper's figures (../shared/seed/BRIEF.md), whole city, before or through the reform.
PAPER: dict[str, int | str] = {
    "units": 12_300,
    "households": 38_600,
    "people": 97_800,
    "violating_share": "15 %",
    "sublet_lend_share": "62 %",
    "vacant_share": "28 %",
    "warnings": 127,
    "sublet_lend_rectified": 8,
    "vacant_rectified": 12,
    "accuracy_before": "78 %",
    "accuracy_after": "95 %",
    "penalised": 32,
    "credit_list": 18,
    "repossessed": 15,
    "transitions": 28,
    "transitional_units": 86,
    "purchase_guidance": 45,
    "loan_help": 23,
    "sessions": 16,
    "trained": 210,
    "employed": 156,
    "cross_region": 48,
    "exit_rate": "8 % a year",
    "reviewers_disciplined": 8,
}


async def all_figures(client: httpx.AsyncClient, urls: Urls) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for service in ("eligibility", "penalties", "resettlement", "training", "monitoring"):
        found[service] = (await client.get(f"{urls[service]}/figures")).json()
    text = (await client.get(f"{urls['federation']}/metrics")).text
    results: Counter[str] = Counter()
    for labels, value in _MATCHES.findall(text):
        result = dict(re.findall(r'(\w+)="([^"]*)"', labels)).get("result", "?")
        results[result] += int(float(value))
    found["federation"] = {"outbound_results": dict(results)}
    return found


async def outcomes(client: httpx.AsyncClient, urls: Urls, city: City) -> dict[str, str]:
    """household_id -> eligibility's latest automated outcome, of the households in the city's estates
    (the list walked by its cursor)."""
    found: dict[str, str] = {}
    for estate in sorted({t.estate for t in city.households if t.estate is not None}):
        for outcome in OUTCOMES:
            for row in await every(
                client, f"{urls['eligibility']}/households", estate=estate, outcome=outcome
            ):
                found[row["household_id"]] = row["outcome"]
    return found


async def cross_region_status(client: httpx.AsyncClient, urls: Urls) -> dict[str, int]:
    """Eligibility's cross-region sweep: households, never checked, awaiting answers, due, matched (a
    neighbour city answered `match`), unverified."""
    answer = await client.get(f"{urls['eligibility']}/cross-region/status")
    answer.raise_for_status()
    return {str(k): int(v) for k, v in answer.json().items()}


GATEWAY_ACCOUNT = "auditor.sun"
"""A demo account of the gateway (infra/gateway/users.yaml) whose role reads every figure."""


async def gateway_figures(client: httpx.AsyncClient, urls: Urls) -> dict[str, Any] | None:
    """The console dashboard's source, `GET /api/figures`, as the demo auditor sees it; None when the
    gateway cannot be asked (not running, demo accounts refused, its auth changed)."""
    if "gateway" not in urls.services:
        return None
    try:
        from gateway.users import demo_password  # the published derivation of the demo passwords

        form = {
            "grant_type": "password",
            "username": GATEWAY_ACCOUNT,
            "password": demo_password(GATEWAY_ACCOUNT),
        }
        token = (await client.post(f"{urls['gateway']}/auth/token", data=form)).json()["access_token"]
        answer = await client.get(
            f"{urls['gateway']}/api/figures", headers={"Authorization": f"Bearer {token}"}
        )
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found
    except Exception:  # a cross-check: its absence is reported, not fatal
        return None


def same_figures(direct: dict[str, dict[str, Any]], gateway: dict[str, Any] | None) -> bool | None:
    """Whether the console's figures are each service's own (None: the gateway could not be asked)."""
    if gateway is None:
        return None
    services = gateway.get("services") or {}
    return all(services.get(name) == figures for name, figures in direct.items() if name != "federation")


@dataclass
class Accuracy:
    """Decisions against the truth: rows the truth (exit, retain), columns the platform's decision."""

    confusion: dict[str, Counter[str]] = field(default_factory=lambda: {EXIT: Counter(), RETAIN: Counter()})

    def add(self, truth: str, decided: str) -> None:
        self.confusion[truth][decided] += 1

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.confusion.values())

    @property
    def correct(self) -> int:
        return self.confusion[EXIT][EXIT] + self.confusion[RETAIN][RETAIN]

    @property
    def share(self) -> Decimal:
        return Decimal(self.correct) / Decimal(self.total) if self.total else Decimal(0)

    def rows(self) -> list[str]:
        head = f"| truth \\ decided | {EXIT} | {RETAIN} | {UNDECIDED} |"
        lines = [head, "| --- | ---: | ---: | ---: |"]
        for truth in (EXIT, RETAIN):
            c = self.confusion[truth]
            lines.append(f"| {truth} | {c[EXIT]} | {c[RETAIN]} | {c[UNDECIDED]} |")
        return lines


def automated_accuracy(city: City, ids: dict[str, str], automated: dict[str, str]) -> Accuracy:
    accuracy = Accuracy()
    for truth in city.households:
        outcome = automated.get(ids[truth.ref], "needs_manual")
        accuracy.add(truth.correct, AUTOMATED[outcome])
    return accuracy


def predicted_automated(city: City, *, cross_region: bool = True) -> Accuracy:
    """What the truth says the automated review should decide once every peer city has answered
    (`expected_decision_with_cross_region`), or on Foshan's own facts alone (`expected_decision`: the
    platform before its cross-region sweep)."""
    accuracy = Accuracy()
    for truth in city.households:
        expected = truth.expected_with_cross_region if cross_region else truth.expected_decision
        accuracy.add(truth.correct, AUTOMATED[expected])
    return accuracy


def final_accuracy(
    city: City, ids: dict[str, str], latest: dict[str, str], final: dict[str, str]
) -> Accuracy:
    """After the manual re-review: a decided case's final outcome, else the latest automated outcome
    (a household no case was opened for keeps its flat when it qualifies)."""
    accuracy = Accuracy()
    for truth in city.households:
        household_id = ids[truth.ref]
        if household_id in final:
            decided = FINAL[final[household_id]]
        else:
            outcome = latest.get(household_id, "needs_manual")
            decided = RETAIN if outcome == "qualifies" else UNDECIDED
        accuracy.add(truth.correct, decided)
    return accuracy


def pct(part: float, whole: float) -> str:
    if not whole:
        return "-"
    return f"{Decimal(part * 100) / Decimal(whole):.1f} %"


def scaled(value: int, scale: Decimal) -> str:
    return str(int((Decimal(value) * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


CONSOLE = {
    True: "the gateway's `/api/figures` answered the same numbers",
    False: "but the gateway's `/api/figures` answered DIFFERENT numbers",
    None: "the gateway's `/api/figures` could not be asked",
}


@dataclass
class Report:
    city: City
    counts: Counts
    figures: dict[str, dict[str, Any]]
    automated: Accuracy
    predicted: Accuracy
    final: Accuracy
    work: Work
    models: Models
    cross_region_households: int
    seconds: dict[str, float]
    warnings_expected: Counter[str]
    warned_as_expected: int
    expected_warned_households: int
    deadletters: int
    gateway_figures_match: bool | None = None
    cross_region: dict[str, int] = field(default_factory=dict)
    """eligibility's `GET /cross-region/status` at the end of the run"""
    automated_outcomes: Counter[str] = field(default_factory=Counter)
    """eligibility's automated outcomes at the first steady state (before the re-review's requests)"""

    def request_lines(self) -> list[str]:
        """The record requests, as eligibility counts them (`/figures`), beside the paper's meetings."""
        asked = self.figures.get("eligibility", {}).get("record_requests") or {}
        median = asked.get("median_days_to_answer")
        return [
            f"Records requested from the departments through the platform (record requests, answered by "
            f"each department's system at the gateway): asked {asked.get('asked', 0)}, answered "
            f"{asked.get('answered', 0)}, declined {asked.get('declined', 0)}, still open "
            f"{asked.get('open', 0)}, escalated (overdue) {asked.get('overdue', 0)}, median time to answer "
            f"{'n/a' if median is None else f'{median:g} days'} (the demo's departments answer at once). "
            "The paper: 24 monthly joint meetings, 36 cross-department problems solved.",
        ]

    def markdown(self) -> str:
        f = self.figures
        e, m, p, r, t = (f["eligibility"], f["monitoring"], f["penalties"], f["resettlement"], f["training"])
        scale = Decimal(self.city.meta["scale"])
        summary = self.city.summary
        units = summary["totals"]["households_in_units"]
        violations = summary["violations"]
        by_kind = violations["by_kind"]
        warnings = sum(m["warnings_by_state"].values())
        confirmed = m["violations_confirmed_by_kind"]
        sublet_lend = confirmed.get("sublet", 0) + confirmed.get("lend", 0)
        vacant = confirmed.get("vacant", 0)
        all_confirmed = sum(confirmed.values())
        sanctions = p["sanctions_by_kind"]
        final = e["final_outcomes"]
        cases = sum(e["cases_by_status"].values())
        pools = r["units_by_pool_and_state"]
        transitional_used = sum(
            v for k, v in pools["transitional"].items() if k in ("offered", "held", "occupied")
        )
        matches = f["federation"]["outbound_results"].get("match", 0)
        foshan_only = predicted_automated(self.city, cross_region=False)

        def row(what: str, ours: Any, paper: Any, note: str = "") -> str:
            at_scale = scaled(paper, scale) if isinstance(paper, int) else "-"
            shown = f"{paper:,}" if isinstance(paper, int) else paper
            return f"| {what} | {ours} | {shown} | {at_scale} | {note} |"

        lines = [
            f"# A Foshan-sized city: the demo report (scale {scale}, seed {self.city.meta['seed']})",
            "",
            f"Snapshot {self.city.meta['as_of']}; signals {self.city.meta['signals_from']} to "
            f"{self.city.meta['signals_to']}. Our figures are the services' `GET /figures`, which the "
            f"console's dashboard shows ({CONSOLE[self.gateway_figures_match]}); the paper's are "
            "Foshan's whole city (seed/BRIEF.md), beside them multiplied by the scale.",
            "",
            "| figure | ours | paper | paper x scale | note |",
            "| --- | ---: | ---: | ---: | --- |",
            row(
                "households in units, registered",
                self.counts.registered,
                PAPER["units"],
                "one household per unit",
            ),
            row(
                "households on a rent subsidy, registered",
                self.counts.registered_subsidy,
                SUBSIDY_HOUSEHOLDS,
                f"of {self.city.subsidy_households} in the population; no unit, same exit rules",
            ),
            row(
                "violating occupancy (truth)",
                pct(violations["violating"], units),
                PAPER["violating_share"],
                "of households in units",
            ),
            row(
                "… sublet or lend (truth)",
                pct(by_kind["sublet"] + by_kind["lend"], violations["violating"]),
                PAPER["sublet_lend_share"],
                "of violating",
            ),
            row(
                "… vacant (truth)",
                pct(by_kind["vacant"], violations["violating"]),
                PAPER["vacant_share"],
                "of violating",
            ),
            row("occupancy warnings raised", warnings, PAPER["warnings"], "monitoring"),
            row(
                "… confirmed sublet or lend",
                sublet_lend,
                PAPER["sublet_lend_rectified"],
                "paper: found and rectified",
            ),
            row("… confirmed vacant", vacant, PAPER["vacant_rectified"], "paper: found and rectified"),
            row(
                "… sublet or lend share of confirmed",
                pct(sublet_lend, all_confirmed),
                PAPER["sublet_lend_share"],
                "",
            ),
            row(
                "automated first review: exit triggered / needs a person / qualifies",
                " / ".join(str(self.automated_outcomes.get(o, 0)) for o in OUTCOMES),
                "-",
                "before the re-review's record requests",
            ),
            row("review cases opened", cases, "-", "automated exit trigger → case"),
            row(
                "decisions: exit required / transition / retain",
                f"{final.get('exit_required', 0)} / {final.get('transition', 0)} / {final.get('retain', 0)}",
                "-",
                "after four-eyes approval",
            ),
            row(
                "review accuracy, automated first review",
                pct(self.automated.correct, self.automated.total),
                PAPER["accuracy_before"],
                "paper: before the reform",
            ),
            row(
                "review accuracy, after manual re-review",
                pct(self.final.correct, self.final.total),
                PAPER["accuracy_after"],
                "paper: after the reform",
            ),
            row(
                "exit decisions, share of households in units",
                pct(e["exit_decisions"], e["households"]),
                PAPER["exit_rate"],
                "one review round",
            ),
            row("households penalised", p["households_penalised"], PAPER["penalised"], "penalties"),
            row(
                "credit-list entries",
                sanctions.get("credit_list", 0),
                PAPER["credit_list"],
                "operator's decision (sublets)",
            ),
            row(
                "repossessions executed",
                p["repossessions_executed"],
                PAPER["repossessed"],
                "needs a 30-day notice: not in a one-day run",
            ),
            row(
                "transition decisions",
                final.get("transition", 0),
                PAPER["transitions"],
                f"6 months, +10 % a month; penalties' plans: {p['transitions_by_state']}",
            ),
            row("voluntary-exit subsidies", p["subsidies_awarded"], "-", "5,000 yuan, low-income households"),
            row("exits completed (keys back)", sum(p["exits_completed"].values()), "-", ""),
            row(
                "transitional units used",
                transitional_used,
                PAPER["transitional_units"],
                "offered, held or occupied of 86",
            ),
            row("placements (moved in or bought)", r["placements"], "-", ""),
            row("purchase guidance", r["purchase_guidance_records"], PAPER["purchase_guidance"], ""),
            row("loan-rate discounts", r["loan_discounts_granted"], PAPER["loan_help"], "0.5 pp"),
            row("training sessions held", t["sessions_held"], PAPER["sessions"], ""),
            row("people trained", t["people_trained"], PAPER["trained"], ""),
            row("people employed", t["people_employed"], PAPER["employed"], "paper: in stable jobs"),
            row(
                "people in stable work",
                t["people_in_stable_work"],
                PAPER["employed"],
                "needs 6 months after the job starts",
            ),
            row(
                "cross-region households matched",
                self.cross_region_households,
                PAPER["cross_region"],
                f"{matches} peer answers `match`; truth: "
                f"{sum(1 for h in self.city.households if h.cross_region_matches)}",
            ),
            row(
                "households checked in the neighbour cities",
                self.cross_region.get("households", 0) - self.cross_region.get("never_checked", 0),
                "-",
                f"eligibility's sweep; unverified {self.cross_region.get('unverified', 0)}, "
                f"still due {self.cross_region.get('due', 0)}",
            ),
            "",
            "## Decision accuracy against the ground truth",
            "",
            "The truth's right decision: **exit** when the household meets an exit condition in Foshan's "
            "facts or a neighbour city holds a record that ends its eligibility; else **retain**. "
            "`undecided` (needs a person) counts as not correct.",
            "",
            f"Automated first review: {self.automated.correct} of {self.automated.total} correct "
            f"({pct(self.automated.correct, self.automated.total)}); the truth predicts "
            f"{self.predicted.correct} ({pct(self.predicted.correct, self.predicted.total)}) once every "
            f"neighbour city has answered, {foshan_only.correct} "
            f"({pct(foshan_only.correct, foshan_only.total)}) on Foshan's own facts alone.",
            "",
            *self.automated.rows(),
            "",
            f"After the manual re-review (missing or stale records requested from the departments, then "
            f"four-eyes review of every case): {self.final.correct} of {self.final.total} correct "
            f"({pct(self.final.correct, self.final.total)}). Proposals {self.work.proposals}, wrong "
            f"{self.work.wrong_proposals}, sent back {self.work.sent_back}; records requested: "
            f"{dict(self.work.refetched)}.",
            "",
            *self.request_lines(),
            "",
            *self.final.rows(),
            "",
            "## Occupancy warnings against the truth",
            "",
            f"Expected by the truth: {dict(self.warnings_expected)}; households the truth says are warned: "
            f"{self.expected_warned_households}, warned: {self.warned_as_expected}. Inspectors' steps: "
            f"{dict(Counter(w['step'] for w in self.work.warnings_seen))}.",
            "",
            "## What the simulated people did (stated models)",
            "",
            *[f"- {line}" for line in self.models.lines()],
            f"- four-eyes: {len(self.work.four_eyes)} approvals, "
            f"{sum(1 for a, b in self.work.four_eyes if a != b)} by a supervisor other than the proposer",
            f"- voluntary exits {self.work.voluntary}, keys handed back {self.work.keys_returned}, offers "
            f"accepted {self.work.offers_accepted}, moved in or bought {self.work.moved_in}, courses added "
            f"{self.work.courses_added}, sessions held {self.work.sessions_held}, jobs reported by human "
            f"resources {self.work.jobs_reported} (+{self.work.jobs_recorded_by_officer} recorded by the "
            f"officer); the stack's clock moved {self.work.days_moved} days ahead for the courses' "
            "sessions (a simulated clock, never a date sent through the API)",
            "",
            "## Loading and timing",
            "",
            f"- facts: {self.counts.facts_http} posted to eligibility (recorded "
            f"{self.counts.facts_recorded}, parked {self.counts.facts_parked}, unmatched "
            f"{self.counts.facts_unmatched}, rejected "
            f"{self.counts.facts_rejected}), {self.counts.facts_bus} published on NATS; credentials "
            f"{self.counts.credentials}; door openings {self.counts.door_signals}; utility readings "
            f"{self.counts.utility_signals}; monitoring ingested {m['signals_ingested']}, refused "
            f"{m['signals_refused']}; dead letters {self.deadletters}",
            "- seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()),
            "",
            "## Known gaps",
            "",
            "- Households on a rent subsidy are decided and reviewed like the others, but the accuracy "
            "figures above count households in units only (the truth's decisions for the subsidised are "
            "in truth.json).",
            "- Households whose only problem is known in another city (`property_elsewhere`, "
            "`housed_elsewhere`: "
            f"{sum(1 for h in self.city.households if h.cross_region_matches and not h.exit_triggers)} here) "
            "are found by eligibility's cross-region sweep (every household asked at its first decision, "
            "again after a year); a peer's answer is a category, never an area: it counts under the "
            "`cross_region` rule, not in the Foshan m² sum.",
            "- Peer cities read `--peer-ids raw` data files (federation's loader reads ID numbers only).",
            "- Monitoring matches department registration facts by household id only; the population's "
            "facts name persons, so the registration lead does not weigh.",
            "- Repossession and stable work need months; a run covers one day.",
        ]
        return "\n".join(lines) + "\n"
