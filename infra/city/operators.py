"""The people who work the platform after the departments have spoken, simulated with stated models.

Every choice below is drawn from one seeded `random.Random`, so a run is reproducible; every
probability is a named parameter of `Models` and printed in the report.

- **Inspectors** visit every open occupancy warning. They see what is really there (the ground truth):
  a flat that is sublet, lent or empty is confirmed with that finding, anything else (members away for a
  hospital stay or family care, a household that does live there) is dismissed. Inspectors make no
  error: the visit is the evidence.
- **Sanctions beyond the automatic surcharge**: a confirmed sublet (letting the flat for money) puts
  the household on the credit list; a lent or vacant flat is left to penalties' automatic rent surcharge.
- **The offline review's first step** for households the automated review left `needs_manual`: the
  reviewer asks the department for the missing or current record through the platform (a record
  request), and the department's system, with its own credentials at the gateway, answers each request
  in its queue with the true value (civil affairs the current income, finance the assets: the truth
  holds no assets for those households and none of them meets an asset trigger, so finance answers
  0.00).
- **Four-eyes re-review** of every open case: a reviewer proposes the outcome the truth calls right
  (exit, as a 6-month transition when the only trigger is income less than 10 % above the threshold,
  a change "in stages"; else exit required; retain when the truth says the household qualifies), but
  errs with probability `reviewer_error` (proposes the opposite). A supervisor (never the reviewer:
  eligibility enforces it) catches a wrong proposal with probability `supervisor_catch` and sends it
  back; the reviewer then proposes correctly. Flags: `low_income` when the per-capita income is below
  `low_income_below`, `wants_to_buy` when the household meets the financial-assets trigger.
- **Households** with an exit required apply for voluntary exit with probability `voluntary_share`;
  every voluntary applicant and a share `hand_back_share` of the others hand the keys back now;
  households in a transition stay for its months.
- **Resettlement**: every household accepts the unit it is offered; a transitional unit is moved into
  once the household has handed its flat back, an affordable unit's purchase completes.
- **Training**: the training officer seats every open referral on a course (scheduling more of the
  catalogue's courses when seats run out), holds every session; each trainee attends a session with
  probability `attendance`; human resources reports a job for a trainee who completed with probability
  `employment` (an input set to the paper's 156 / 210, not a result); stable work needs 6 months after
  the job starts, which a one-day demo cannot show.
"""

from __future__ import annotations

import asyncio
import functools
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from contracts.department import DepartmentFactReported
from gateway.users import demo_password
from infra.city.data import FOSHAN, RETAIN, City, Truth
from infra.city.load import (
    FACT_REPORTED,
    Registered,
    Urls,
    bounded,
    checked,
    every,
    every_at_gateway,
    fact_message,
    paced,
)
from services.kit import clock
from services.kit.clock import SimulatedClock

REVIEWERS = ("reviewer-chen", "reviewer-li", "reviewer-huang", "reviewer-zhou")
SUPERVISORS = ("supervisor-wang", "supervisor-liu")
INSPECTORS = ("inspector-zhao", "inspector-wu", "inspector-sun")
HOUSING_OFFICER = "officer-he"
DEPARTMENT_ACCOUNTS = {"finance": "dept.finance", "civil_affairs": "dept.civil-affairs"}
"""The departments' systems at the gateway (client credentials of the demo accounts)."""
TRAINING_OFFICER = "trainer-lin"


@dataclass(frozen=True)
class Models:
    reviewer_error: float = 0.05
    supervisor_catch: float = 0.5
    low_income_below: Decimal = Decimal("2000.00")
    transition_margin: Decimal = Decimal("0.10")
    voluntary_share: float = 0.4
    hand_back_share: float = 0.3
    attendance: float = 0.85
    employment: float = 156 / 210
    seed: int = 2026

    def lines(self) -> list[str]:
        return [
            "inspectors see what is there (no error); a confirmed sublet also goes on the credit list",
            f"reviewer error {self.reviewer_error:.0%} per proposal, supervisor catches a wrong proposal "
            f"with {self.supervisor_catch:.0%} and sends it back (then proposed correctly)",
            f"transition route when the only trigger is income less than {self.transition_margin:.0%} "
            f"above the threshold; low income below {self.low_income_below} yuan per person a month",
            f"voluntary exit {self.voluntary_share:.0%} of exits required; keys handed back by every "
            f"voluntary applicant and {self.hand_back_share:.0%} of the others",
            f"training attendance {self.attendance:.0%} per session; a job for {self.employment:.0%} of "
            "those who complete (an input: the paper's 156 / 210)",
            f"random seed {self.seed}",
        ]


@dataclass
class Work:
    """What the simulated people did, for the report (the figures themselves come from /figures)."""

    warnings_seen: list[dict[str, Any]] = field(default_factory=list)
    """each open warning: warning_id, household ref, condition, truth kind, step taken"""
    credit_listed: int = 0
    refetched: Counter[str] = field(default_factory=Counter)
    """record requests asked, by the data issue that left the household undecided"""
    requests_answered: int = 0
    proposals: int = 0
    wrong_proposals: int = 0
    sent_back: int = 0
    final: dict[str, str] = field(default_factory=dict)
    """household_id -> final outcome of its case (exit_required, transition, retain)"""
    four_eyes: list[tuple[str, str]] = field(default_factory=list)
    """(proposer, approver) of every approved case, from the case's own trail"""
    voluntary: int = 0
    keys_returned: int = 0
    offers_accepted: int = 0
    moved_in: int = 0
    courses_added: int = 0
    sessions_held: int = 0
    completions: int = 0
    jobs_reported: int = 0
    jobs_recorded_by_officer: int = 0
    days_moved: int = 0


class Operators:
    def __init__(
        self,
        city: City,
        urls: Urls,
        registered: Registered,
        client: httpx.AsyncClient,
        models: Models | None = None,
    ) -> None:
        self.city = city
        self.urls = urls
        self.registered = registered
        self.client = client
        self.models = models or Models()
        self.person_of = {member: person for person, member in registered.member_ids.items()}
        refs = registered.ref_of()
        by_ref = {t.ref: t for t in (*city.households, *city.subsidised)}
        self.truth: dict[str, Truth] = {hid: by_ref[ref] for hid, ref in refs.items()}
        self.work = Work()

    def draw(self, *key: str) -> random.Random:
        """A generator of its own for each decision (seed, household or person, what): the same run
        gives the same choices whatever order concurrent steps take and whatever ids were issued."""
        return random.Random(":".join((str(self.models.seed), *key)))  # noqa: S311 (a simulation)

    def person(self, member_id: str) -> str:
        return self.person_of.get(member_id, member_id)

    def today(self) -> date:
        """The population's day: what the ground truth describes."""
        return self.city.as_of

    def clock_today(self) -> date:
        """The stack's day now, by the simulation's clock (moved by `advance_to`)."""
        return clock.local_today(FOSHAN)

    async def advance_to(self, day: date) -> None:
        """Move every process's clock forward to `day` (the simulation's clock file), if it is ahead."""
        if self.urls.clock_file is None:
            raise RuntimeError("the stack runs without a simulated clock: the demo cannot move its time")
        ahead = (day - self.clock_today()).days
        if ahead <= 0:
            return
        moved = SimulatedClock(self.urls.clock_file).offset() + timedelta(days=ahead)
        SimulatedClock.move(self.urls.clock_file, moved)
        # Every process re-reads the file at its next reading of the clock after REREAD_S.
        await asyncio.sleep(SimulatedClock.REREAD_S * 3)
        self.work.days_moved += ahead

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return (await checked(self.client.get(f"{self.urls[service]}{path}", params=params))).json()

    async def every(self, service: str, path: str, **params: Any) -> list[Any]:
        """Every item of a list, walked page by page."""
        return await every(self.client, f"{self.urls[service]}{path}", **params)

    async def post(self, service: str, path: str, body: Any, operator: str, role: str) -> Any:
        answer = await checked(
            self.client.post(
                f"{self.urls[service]}{path}",
                json=body,
                headers=self.urls.as_operator(service, operator, role),
            )
        )
        return answer.json() if answer.content else None

    # -- inspectors --------------------------------------------------------------------------------

    async def detect_and_inspect(self) -> list[str]:
        """Run detection, then visit every open warning; returns the ids of confirmed ones."""
        await self.post("monitoring", "/detection/run", None, HOUSING_OFFICER, "inspector")
        warnings = await self.every("monitoring", "/warnings", state="raised")
        confirmed: list[str] = []
        for warning in warnings:
            truth = self.truth.get(warning["household_id"])
            kind = truth.kind if truth else "unknown"
            inspector = INSPECTORS[zlib.crc32(warning["estate"].encode()) % len(INSPECTORS)]
            wid = warning["warning_id"]
            await self.post(
                "monitoring", f"/warnings/{wid}/assign", {"inspector_id": inspector}, inspector, "inspector"
            )
            finding = {
                ("vacancy", "vacant"): "vacant",
                ("sublet_or_lend", "sublet"): "sublet",
                ("sublet_or_lend", "lend"): "lend",
            }.get((warning["condition"], kind))
            if finding is not None:
                body = {"inspector_id": inspector, "finding": finding, "note": "seen on a visit"}
                await self.post("monitoring", f"/warnings/{wid}/confirm", body, inspector, "inspector")
                confirmed.append(wid)
                step = f"confirmed {finding}"
            else:
                reason = "members away (hospital stay or family care), verified on a visit"
                if kind not in ("vacant", "none"):
                    reason = f"on a visit the registered household lives there ({kind} is another matter)"
                elif kind == "none" and warning["condition"] == "sublet_or_lend":
                    reason = "on a visit the registered household lives there"
                body = {"inspector_id": inspector, "reason": reason}
                await self.post("monitoring", f"/warnings/{wid}/dismiss", body, inspector, "inspector")
                step = "dismissed"
            self.work.warnings_seen.append(
                {
                    "warning_id": wid,
                    "household_id": warning["household_id"],
                    "ref": truth.ref if truth else None,
                    "condition": warning["condition"],
                    "kind": kind,
                    "step": step,
                }
            )
        return confirmed

    async def credit_list_sublets(self) -> None:
        """After penalties has seen the confirmations: a sublet goes on the credit list, proposed by
        one supervisor and entered by the other (four eyes on an irreversible step)."""
        for seen in self.work.warnings_seen:
            if seen["step"] != "confirmed sublet":
                continue
            body = {
                "kind": "credit_list",
                "violation": "sublet",
                "basis_id": seen["warning_id"],
                "note": "sublet confirmed by an inspector's visit",
            }
            proposed = await self.post(
                "penalties",
                f"/households/{seen['household_id']}/sanctions",
                body,
                SUPERVISORS[0],
                "supervisor",
            )
            path = f"/sanctions/{proposed['sanction_id']}/enter"
            await self.post("penalties", path, None, SUPERVISORS[1], "supervisor")
            self.work.credit_listed += 1

    # -- the offline review's data requests -------------------------------------------------------------

    async def request_records(self, manual: list[str]) -> int:
        """The reviewers ask the departments, through the platform, for the records the automated
        review lacked (a record request on each household it could not decide: finance for the head's
        assets when they are missing, civil affairs for the current income otherwise); then each
        department, with its own client credentials at the gateway, walks the requests addressed to it
        and answers each from its records (the truth). Eligibility decides again on what they send.
        Returns how many requests were answered."""
        for household_id in manual:
            truth = self.truth[household_id]
            issue = truth.data_issue or "unknown"
            self.work.refetched[issue] += 1
            if issue == "missing_assets":
                head = self.registered.member_ids.get(truth.members[0])
                body: dict[str, Any] = {
                    "department": "finance",
                    "kind": "financial_assets",
                    "members": [head] if head else None,
                    "why": "missing",
                    "rule": "financial_assets",
                }
            else:
                why = {"stale_income": "stale", "conflicting_income": "conflict"}.get(issue, "doubt")
                body = {
                    "department": "civil_affairs",
                    "kind": "income",
                    "why": why,
                    "rule": "income_per_capita",
                }
            reviewer = REVIEWERS[zlib.crc32(household_id.encode()) % len(REVIEWERS)]
            await self.post(
                "eligibility", f"/households/{household_id}/record-requests", body, reviewer, "reviewer"
            )
        answered = 0
        for department, account in DEPARTMENT_ACCOUNTS.items():
            answered += await self._department_answers(department, account)
        self.work.requests_answered += answered
        return answered

    async def _department_answers(self, department: str, account: str) -> int:
        """One department's system at the gateway: its queue, each request answered with its record."""
        gateway = self.urls["gateway"]
        secret = demo_password(account)
        form = {"grant_type": "client_credentials", "client_id": account, "client_secret": secret}
        token = (await checked(self.client.post(f"{gateway}/auth/token", data=form))).json()["access_token"]
        headers = {"authorization": f"Bearer {token}"}
        queue = await every_at_gateway(self.client, f"{gateway}/api/department-requests", headers)
        today = self.clock_today()
        for request in queue:
            truth = self.truth[request["household_id"]]
            reference = f"REQ-{truth.ref}-{today:%Y%m%d}"
            if request["kind"] == "financial_assets":
                fact: dict[str, Any] = {
                    "kind": "financial_assets",
                    "amount": str(truth.financial_assets or "0.00"),
                }
                about: dict[str, Any] = {"person_hash": request["persons"][0]}  # the head's, as asked
            else:
                fact = {"kind": "income", "monthly_income": str(truth.income_per_capita)}
                about = {}  # the household's per-capita income is the household's figure
            line = {
                "department": department,
                "reference": reference,
                "described_on": today.isoformat(),
                "household_id": request["household_id"],
                **about,
                "fact": fact,
            }
            url = f"{gateway}/api/department-requests/{request['request_id']}/answer"
            await paced(functools.partial(self.client.post, url, json={"facts": [line]}, headers=headers))
        return len(queue)

    # -- four-eyes review ---------------------------------------------------------------------------

    def right_proposal(self, truth: Truth) -> str:
        if truth.correct == RETAIN:
            return "retain"
        income_only = truth.exit_triggers == ("income_per_capita",) and not truth.cross_region_matches
        threshold = Decimal(self.city.meta["thresholds_in_force"]["income_per_capita"])
        if income_only and truth.income_per_capita <= threshold * (1 + self.models.transition_margin):
            return "transition"
        return "exit_required"

    async def review_open_cases(self) -> int:
        """Every open case through findings and approval (or send-back and again), four eyes each."""
        done = 0
        while True:
            # a page at a time: each review moves its case out of `open` (or back, when sent back)
            cases = (await self.get("eligibility", "/cases", status="open", limit=1000))["items"]
            if not cases:
                return done
            calls = [lambda case=case: self.review(case) for case in cases]
            await bounded(calls, limit=4)
            done += len(cases)

    async def review(self, case: dict[str, Any]) -> None:
        truth = self.truth[case["household_id"]]
        right = self.right_proposal(truth)
        rng = self.draw(truth.ref, "review")
        reviewer = rng.choice(REVIEWERS)
        supervisor = rng.choice(SUPERVISORS)
        proposal = right
        if rng.random() < self.models.reviewer_error:
            proposal = "exit_required" if right == "retain" else "retain"
        cid = case["case_id"]
        for attempt in range(3):
            threshold = self.models.low_income_below
            body = {
                "findings": f"offline re-review of the automated decision ({case['reason']})"[:500],
                "proposed_outcome": proposal,
                "reason_code": "re-review" if attempt == 0 else "re-review-after-send-back",
                "low_income": truth.income_per_capita < threshold,
                "wants_to_buy": "financial_assets" in truth.exit_triggers,
            }
            await self.post("eligibility", f"/cases/{cid}/findings", body, reviewer, "reviewer")
            self.work.proposals += 1
            wrong = (proposal == "retain") != (right == "retain")
            self.work.wrong_proposals += wrong
            if wrong and rng.random() < self.models.supervisor_catch:
                note = {"reason": "the evidence does not support the proposal: look again"}
                await self.post("eligibility", f"/cases/{cid}/send-back", note, supervisor, "supervisor")
                self.work.sent_back += 1
                proposal = right
                continue
            decided = await self.post(
                "eligibility", f"/cases/{cid}/approval", {"reason": "approved"}, supervisor, "supervisor"
            )
            self.work.final[case["household_id"]] = decided["final_outcome"]
            steps = decided["trail"]
            proposer = next(s.get("actor") for s in reversed(steps) if s["action"] == "finding")
            approver = next(s.get("actor") for s in reversed(steps) if s["action"] == "approved")
            self.work.four_eyes.append((str(proposer), str(approver)))
            return

    # -- households and the housing office ---------------------------------------------------------

    async def households_leave(self) -> None:
        for household_id, outcome in sorted(self.work.final.items()):
            if outcome != "exit_required" or self.truth[household_id].estate is None:
                continue  # (no estate: on a rent subsidy, no flat to leave; the subsidy stops)
            rng = self.draw(self.truth[household_id].ref, "leave")
            voluntary = rng.random() < self.models.voluntary_share
            if voluntary:
                await self.post(
                    "penalties",
                    f"/households/{household_id}/voluntary-exit",
                    {},
                    f"household-{household_id[:8]}",
                    "household",
                )
                self.work.voluntary += 1
            if voluntary or rng.random() < self.models.hand_back_share:
                await self.post(
                    "penalties", f"/households/{household_id}/keys-returned", {}, HOUSING_OFFICER, "admin"
                )
                self.work.keys_returned += 1

    async def accept_offers(self) -> None:
        for case in await self.every("resettlement", "/cases", state="offered"):
            who = f"household-{case['household_id'][:8]}"
            await self.post("resettlement", f"/cases/{case['case_id']}/accept", None, who, "household")
            self.work.offers_accepted += 1

    async def move_in(self, handed_back: set[str]) -> None:
        for case in await self.every("resettlement", "/cases", state="accepted"):
            if case["pool"] == "transitional" and case["household_id"] not in handed_back:
                continue
            await self.post(
                "resettlement", f"/cases/{case['case_id']}/move-in", None, HOUSING_OFFICER, "admin"
            )
            self.work.moved_in += 1

    # -- training ----------------------------------------------------------------------------------

    async def run_training(self) -> None:
        referrals = await self.every("training", "/referrals", state="open")
        if not referrals:
            return
        # The demo's own courses, run on the days after today, one session a day: the catalogue's
        # courses are months ahead, and attendance is taken on a session's day, not before. Time
        # moves by moving the stack's clock (`advance`), never through the API.
        prefix = f"city-demo-{self.models.seed}-"
        courses = await self.get("training", "/courses")
        seats = sum(
            c["seats_left"] for c in courses if c["sessions_held"] == 0 and c["code"].startswith(prefix)
        )
        template = courses[0]
        n = 0
        start = self.clock_today() + timedelta(days=1)
        while seats < len(referrals):
            n += 1
            body = {
                "code": f"city-demo-{self.models.seed}-{n:02d}",
                "title": template["title"],
                "provider": template["provider"],
                "estate": template["estate"],
                "capacity": 15,
                "sessions": [{"on": (start + timedelta(days=k)).isoformat()} for k in range(4)],
            }
            await self.post("training", "/courses", body, TRAINING_OFFICER, "admin")
            self.work.courses_added += 1
            seats += 15
        courses = [
            c
            for c in await self.get("training", "/courses")
            if c["sessions_held"] == 0 and c["code"].startswith(prefix)
        ]
        queue = list(referrals)
        for course in courses:
            free = course["seats_left"]
            while free and queue:
                referral = queue.pop(0)
                body = {"referral_id": referral["referral_id"]}
                await self.post(
                    "training", f"/courses/{course['course_id']}/enrolments", body, TRAINING_OFFICER, "admin"
                )
                free -= 1
        running: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for course in courses:
            detail = await self.get("training", f"/courses/{course['course_id']}")
            trainees = [t for t in detail.get("trainees", []) if t.get("outcome") is None]
            if trainees:
                running.append((detail, trainees))
        sessions = sorted(
            (date.fromisoformat(s["on"]), s["session"], detail["course_id"], trainees)
            for detail, trainees in running
            for s in detail["schedule"]
        )
        for day, session, course_id, trainees in sessions:
            await self.advance_to(day)
            present = [
                t["member_id"]
                for t in trainees
                if self.draw(self.person(t["member_id"]), f"session-{session}").random()
                < self.models.attendance
            ]
            path = f"/courses/{course_id}/sessions/{session}/attendance"
            await self.post("training", path, {"attendees": present}, TRAINING_OFFICER, "admin")
            self.work.sessions_held += 1
        for detail, trainees in running:
            course = detail
            for trainee in trainees:
                path = f"/courses/{course['course_id']}/completions"
                answer = await self.post(
                    "training", path, {"referral_id": trainee["referral_id"]}, TRAINING_OFFICER, "admin"
                )
                self.work.completions += answer["outcome"] == "completed"

    async def report_jobs(self) -> None:
        """Human resources reports jobs on NATS; where a household has two trainees the fact could not
        be matched, so the training officer records the job he verified instead."""
        completed = await self.every("training", "/referrals", state="completed")
        per_household = Counter(r["household_id"] for r in completed)
        facts: list[tuple[str, bytes, str]] = []
        start = self.clock_today()  # the job began on the stack's day (after the courses' days)
        for referral in completed:
            if self.draw(self.person(referral["member_id"]), "job").random() >= self.models.employment:
                continue
            employer = "Foshan Home Services Co., Ltd."
            if per_household[referral["household_id"]] == 1:
                report = DepartmentFactReported.model_validate(
                    {
                        "department": "human_resources",
                        "reference": f"HR-JOB-{referral['referral_id'][:13]}",
                        "described_on": start.isoformat(),
                        "household_id": referral["household_id"],
                        "fact": {"kind": "employment", "employer": employer, "start_date": start.isoformat()},
                    }
                )
                data, event_id = fact_message(report)
                facts.append((FACT_REPORTED.subject_for(department="human_resources"), data, event_id))
                self.work.jobs_reported += 1
            else:
                body = {"employer": employer, "start_date": start.isoformat()}
                path = f"/referrals/{referral['referral_id']}/employment"
                await self.post("training", path, body, TRAINING_OFFICER, "admin")
                self.work.jobs_recorded_by_officer += 1
        if facts:
            await self.urls.publish_as("department-human_resources", facts)
