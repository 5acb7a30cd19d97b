"""The front door at city scale (issue 20): the synthetic Foshan's 38,600 households registered
through the gateway's bulk route, then listed completely by cursor through the gateway.

Set-up, as `make run` deploys them: nats-server, eligibility (two processes on one SQLite store: the
API and inboxes, `eligibility`, and the outbox relay, `eligibility-relay`) and the gateway, each its own
process (`python -m services.eligibility`, `python -m gateway`), default settings (the
gateway's `LINE_RATE_PER_S` 5,000 lines per second per client, `LINE_RATE_BURST` 20,000). Eligibility
hashes members with the demo federation's linkage keys and publishes, for each household, its
registration, its first cross-region check and its register entry, as it does for any registration.
The population is `infra.population` (seed 2026, scale 1.0): 12,300 households in units and 26,300
on a rent subsidy, 97,800 people, each line with the registering office's `reference`.

Registration: the housing office's register (`registry.housing-office`, client credentials) posts
NDJSON batches of `BATCH` lines, `CONCURRENCY` at a time, units first; the time is from the first
request to the last answer, and every line must come back `registered`. Then the same first batch
again: every line must come back `duplicate` with the household it created (the retry of a batch
that timed out). Listing: the administrator walks `GET /api/households?limit=1000` by its `next`
cursor; every household must be seen exactly once. CPU per household: each process's user and system
time (`/proc/<pid>/stat`) over the registration, divided by the households.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.support import cpu_seconds
from gateway.users import demo_password
from infra.population.generate import Options, generate
from infra.stack import start_stack
from tests.faults.stack import procfile
from tests.support.nats import free_port

BATCH = 5_000
CONCURRENCY = 2
PAGE = 1_000
NAMES = ("eligibility", "gateway")


def _lines(folder: Path) -> list[bytes]:
    out: list[bytes] = []
    for prefix, path in (
        ("U", folder / "households.ndjson"),
        ("S", folder / "subsidy" / "households.ndjson"),
    ):
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            body = json.loads(raw)
            body["reference"] = f"FS-{prefix}{number:06d}"
            out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


async def _token(client: httpx.AsyncClient, account: str, *, system: bool) -> dict[str, str]:
    secret = demo_password(account)
    form = (
        {"grant_type": "client_credentials", "client_id": account, "client_secret": secret}
        if system
        else {"grant_type": "password", "username": account, "password": secret}
    )
    answer = await client.post("/auth/token", data=form)
    answer.raise_for_status()
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def _register(
    client: httpx.AsyncClient, auth: dict[str, str], batches: list[list[bytes]]
) -> tuple[Counter[str], list[float], int, dict[str, str]]:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    refused = 0
    created: dict[str, str] = {}
    queue = list(enumerate(batches))

    async def worker() -> None:
        nonlocal refused
        while queue:
            _, batch = queue.pop(0)
            while True:
                started = time.perf_counter()
                answer = await client.post(
                    "/api/registrations",
                    content=b"\n".join(batch) + b"\n",
                    headers={**auth, "content-type": "application/x-ndjson"},
                    timeout=600.0,
                )
                if answer.status_code == 429:  # over the line budget: wait as told
                    refused += 1
                    await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                    continue
                answer.raise_for_status()
                latencies.append(time.perf_counter() - started)
                data = answer.json()
                if data["problems"]:
                    raise RuntimeError(f"registrations refused: {data['problems'][:3]}")
                for result in data["results"]:
                    statuses[result["status"]] += 1
                    created[result["reference"]] = result["household_id"]
                break

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses, latencies, refused, created


async def _walk(client: httpx.AsyncClient, auth: dict[str, str]) -> tuple[Counter[str], int, float]:
    seen: Counter[str] = Counter()
    pages = 0
    started = time.perf_counter()
    params: dict[str, Any] = {"limit": PAGE}
    while True:
        answer = await client.get("/api/households", params=params, headers=auth, timeout=120.0)
        answer.raise_for_status()
        body = answer.json()
        pages += 1
        seen.update(item["household_id"] for item in body["items"])
        if not body.get("next"):
            return seen, pages, time.perf_counter() - started
        params = {"limit": PAGE, "cursor": body["next"]}


async def run() -> str:
    with tempfile.TemporaryDirectory(prefix="housing-bench-frontdoor-") as tmp:
        root = Path(tmp)
        generate(Options(seed=2026, scale=Decimal("1.0")), root / "population")
        lines = _lines(root / "population")
        batches = [lines[i : i + BATCH] for i in range(0, len(lines), BATCH)]
        var_dir = root / "var"
        with start_stack(
            procfile=procfile(root, var_dir, {}, names=NAMES),
            var_dir=var_dir,
            nats_port=free_port(),
            nats_http_port=free_port(),
            echo=False,
        ) as stack:
            async with httpx.AsyncClient(base_url=stack.base_url("gateway"), trust_env=False) as client:
                registry = await _token(client, "registry.housing-office", system=True)
                admin = await _token(client, "admin.qian", system=False)
                pids = {name: s.child.process.pid for name, s in stack.services.items()}
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                started = time.perf_counter()
                statuses, latencies, refused, created = await _register(client, registry, batches)
                seconds = time.perf_counter() - started
                cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
                print(f"frontdoor: {sum(statuses.values()):,} registrations in {seconds:.1f} s")
                again, _, _, recreated = await _register(client, registry, batches[:1])
                seen, pages, walk_s = await _walk(client, admin)
                print(f"frontdoor: {len(seen):,} households listed in {pages} pages, {walk_s:.1f} s")
    total = len(lines)
    if statuses != Counter({"registered": total}):
        raise RuntimeError(f"not every line was registered: {statuses}")
    same = all(created[ref] == household for ref, household in recreated.items())
    if again != Counter({"duplicate": len(batches[0])}) or not same:
        raise RuntimeError(f"the resent batch was not answered with its households: {again}")
    if len(seen) != total or any(n != 1 for n in seen.values()):
        raise RuntimeError(f"the walk saw {len(seen):,} households, some more than once")
    latencies.sort()
    median = latencies[len(latencies) // 2]
    return "\n".join(
        [
            "## The front door at city scale (bulk registration and cursor paging through the gateway)",
            "",
            __doc__.strip() if __doc__ else "",
            "",
            "| measure | figure |",
            "| --- | --- |",
            f"| households registered through `POST /api/registrations` | {total:,} "
            f"({len(batches)} batches of up to {BATCH:,}, {CONCURRENCY} at a time) |",
            f"| time, first request to last answer | {seconds:.1f} s |",
            f"| **registrations per second** | **{total / seconds:,.0f}** (goal ≥ 1,000) |",
            f"| one batch, median / slowest | {median:.1f} s / {latencies[-1]:.1f} s |",
            f"| answers 429 (over the line budget) | {refused} |",
            *[
                f"| CPU per household, {name} | {used / total * 1000:.2f} ms ({used:.1f} s in all) |"
                for name, used in cpu.items()
            ],
            f"| the first batch sent again | {again['duplicate']:,} duplicates, each its household |",
            f"| **time to list every household by cursor** | **{walk_s:.1f} s** ({pages} pages of {PAGE:,}; "
            f"each household once) |",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average (1 min) at the end "
            f"{os.getloadavg()[0]:.1f}.",
        ]
    )
