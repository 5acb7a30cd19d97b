"""The bulk doors: department facts (`POST /api/facts`), registrations (`POST /api/registrations`,
and one at a time `POST /api/households`) and door credentials (`POST /api/credentials`), each line
authorised here (or, for credentials, by monitoring, which knows the flats) before anything is
forwarded, and paced by lines rather than requests.

Why lines: one request of 10,000 registrations is 10,000 units of work behind, one of 3 is 3; the
request-count limit (`gateway.security`) cannot tell them apart. Each bulk client has a budget of
lines per second (`LINE_RATE_PER_S`, or its own in `LINE_RATES`), a token bucket that may go into
debt: a batch is taken whole when the bucket holds at least a burst's worth or the batch (so a batch
larger than the burst is never refused forever), and the next waits until the debt is paid back,
answered 429 with the `Retry-After` it needs.

What is checked per line: a department speaks only for itself and only its kinds of facts; an
estate-scoped account registers only in its estates (a household on a rent subsidy has no estate:
only a city-wide account registers one). Validation of each line is eligibility's: its answer names
every invalid line, and `reference` makes a registration sent again a duplicate that answers the
household it created.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from gateway.operations import Operations, forbidden
from gateway.roles import DEPARTMENT_KINDS, Principal
from gateway.security import TokenBuckets
from gateway.settings import GatewaySettings
from services.kit.http import Problem
from services.kit.lines import parse_batch


class LineLimits:
    """Lines per second per client (see the module's docstring)."""

    def __init__(self, settings: GatewaySettings, clock: Callable[[], float]) -> None:
        self.default = settings.line_rate_per_s
        self.rates = dict(settings.line_rates)
        self.burst = settings.line_rate_burst
        self.clock = clock
        self._buckets: dict[float, TokenBuckets] = {}

    def take(self, p: Principal, lines: int) -> None:
        """Count `lines` against the caller's budget; 429 with Retry-After when it is spent."""
        rate = self.rates.get(p.subject, self.default)
        buckets = self._buckets.get(rate)
        if buckets is None:
            buckets = self._buckets[rate] = TokenBuckets(rate, self.burst, clock=self.clock)
        wait = buckets.take(p.subject, cost=lines, debt=True)
        if wait > 0:
            raise Problem(
                429,
                "Too many lines",
                f"{p.subject} may send {rate:g} lines per second; this batch of {lines} can go in "
                f"{math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                lines_per_s=rate,
            )


class Intake:
    def __init__(self, ops: Operations, limits: LineLimits, bulk_timeout_s: float) -> None:
        self.ops, self.limits, self.timeout_s = ops, limits, bulk_timeout_s

    async def facts(self, p: Principal, body: bytes, content_type: str) -> Any:
        """A department's batch, forwarded as sent once every line speaks for the caller's department
        and reports only that department's kinds of facts; a line that is not JSON, or names no fact
        or no kind, is left for eligibility to report per line (422, "fact is required")."""
        self.ops.require(p, "facts:write")
        if p.department is None:
            raise forbidden("only a department system may push facts")
        kinds = DEPARTMENT_KINDS.get(p.department, frozenset())
        lines, not_json = parse_batch(body, content_type)
        refused: list[dict[str, Any]] = []
        for number, line in lines:
            if not isinstance(line, dict):
                continue
            fact = line.get("fact")
            kind = fact.get("kind") if isinstance(fact, dict) else None
            if line.get("department") != p.department:
                refused.append({"line": number, "detail": f"department must be {p.department}"})
            elif isinstance(kind, str) and kind not in kinds:
                refused.append({"line": number, "detail": f"{p.department} does not report {kind!r} facts"})
            # a line without a fact or its kind is no other department's: eligibility answers it 422
        if refused:
            raise forbidden("some lines speak for another department or kind of fact", lines=refused[:100])
        return await self._forward(p, "eligibility", "/facts", body, content_type, len(lines) + len(not_json))

    async def registrations(self, p: Principal, body: bytes, content_type: str) -> Any:
        """Many households at once (units and rent subsidies), a line each, forwarded as sent once
        every line is in the caller's estates."""
        self.ops.require(p, "households:write")
        lines, not_json = parse_batch(body, content_type, "Invalid registration")
        if p.estates is not None:
            refused: list[dict[str, Any]] = []
            for number, line in lines:
                if not isinstance(line, dict):
                    continue
                estate = line.get("estate")
                if estate is None:
                    refused.append(
                        {
                            "line": number,
                            "detail": "a household without an estate is registered by a city-wide account",
                        }
                    )
                elif not p.sees_estate(estate):
                    refused.append(
                        {"line": number, "detail": "that estate is outside the estates you are assigned"}
                    )
            if refused:
                raise forbidden("some lines are outside the estates you are assigned", lines=refused[:100])
        count = len(lines) + len(not_json)
        answer = await self._forward(p, "eligibility", "/registrations", body, content_type, count)
        return self.ops.shown(p, answer)

    async def credentials(self, p: Principal, body: bytes, content_type: str) -> Any:
        """Door credentials of registered members (cards issued, faces taken), forwarded as sent to
        monitoring, which answers each line and refuses, per line, a flat outside an estate-scoped
        caller's estates: only monitoring knows which flat a member lives in."""
        self.ops.require(p, "credentials:write")
        lines, not_json = parse_batch(body, content_type, "Invalid credential")
        count = len(lines) + len(not_json)
        return await self._forward(p, "monitoring", "/enrolments", body, content_type, count)

    async def _forward(
        self, p: Principal, service: str, path: str, body: bytes, content_type: str, lines: int
    ) -> Any:
        """A batch as sent, once its lines are counted against the caller's budget."""
        self.limits.take(p, lines)
        return await self.ops.up.json(
            service, "POST", path, p, content=body, content_type=content_type, timeout_s=self.timeout_s
        )

    async def register(self, p: Principal, body: dict[str, Any]) -> tuple[int, Any]:
        """One household; 201 when registered now, 200 with the household when its `reference` was
        registered before (the retry of a registration that timed out)."""
        self.ops.require(p, "households:write")
        if p.estates is not None and body.get("estate") is None:
            raise forbidden("a household without an estate is registered by a city-wide account")
        self.ops.check_estate(p, body.get("estate"))
        self.limits.take(p, 1)
        status, answer = await self.ops.up.call("eligibility", "POST", "/households", p, json=body)
        return status, self.ops.shown(p, answer)
