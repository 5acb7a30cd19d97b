"""Waiting for a steady state: nothing stored and unpublished, nothing published and unread.

Two sources, both public: JetStream's monitoring endpoint (`/jsz?consumers=true`: each durable
consumer's pending and unacknowledged messages, each stream's last sequence) and every process's
`/metrics` (`housing_relay_lag`, notifications stored but not yet published). The state is steady when
every consumer is at its stream's end with nothing unacknowledged, every relay's lag is 0, no
household is due for eligibility's cross-region sweep and no check waits for a peer's answer
(`GET /cross-region/status`), and no stream grew during `quiet_s` (a peer city's answer or a periodic
sweep may still be on its way when the queues look empty for a moment).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from infra.city.load import Urls

_LAG = re.compile(r'^housing_relay_lag\{service="([^"]+)"\}\s+([0-9.e+-]+)$', re.MULTILINE)


@dataclass(frozen=True)
class Backlog:
    pending: dict[str, int]
    """consumer -> messages not yet delivered or not yet acknowledged"""
    relay_lag: dict[str, int]
    stream_ends: dict[str, int]
    deadletters: int

    @property
    def idle(self) -> bool:
        return not any(self.pending.values()) and not any(self.relay_lag.values())

    def describe(self) -> str:
        busy = {k: v for k, v in {**self.pending, **self.relay_lag}.items() if v}
        return ", ".join(f"{k} {v}" for k, v in sorted(busy.items())) or "idle"


async def backlog(client: httpx.AsyncClient, urls: Urls) -> Backlog:
    jsz: dict[str, Any] = (await client.get(f"{urls.nats_monitor}/jsz", params={"consumers": "true"})).json()
    pending: dict[str, int] = {}
    ends: dict[str, int] = {}
    deadletters = 0
    for account in jsz.get("account_details", []):
        for stream in account.get("stream_detail", []):
            name = stream["name"]
            if name.startswith("KV_"):
                continue
            ends[name] = stream["state"]["last_seq"]
            if name == "DEADLETTER":
                deadletters = stream["state"]["messages"]
            for consumer in stream.get("consumer_detail", []):
                pending[consumer["name"]] = consumer["num_pending"] + consumer["num_ack_pending"]
    if "eligibility" in urls.services:
        pending.update(await cross_region_backlog(client, urls.services["eligibility"]))
    lags: dict[str, int] = {}
    for name, url in urls.services.items():
        try:
            text = (await client.get(f"{url}/metrics")).text
        except httpx.HTTPError:
            continue
        for service, value in _LAG.findall(text):
            lags[f"{name}/{service} relay"] = int(float(value))
    return Backlog(pending, lags, ends, deadletters)


async def cross_region_backlog(client: httpx.AsyncClient, eligibility: str) -> dict[str, int]:
    """Eligibility's cross-region sweep as work still to do: households due for a check (the sweep asks
    them in paced batches) and checks still waiting for a peer city's answer."""
    try:
        answer = await client.get(f"{eligibility}/cross-region/status")
    except httpx.HTTPError:
        return {}
    if answer.status_code != 200:
        return {}
    status: dict[str, Any] = answer.json()
    return {
        "eligibility cross-region due": int(status.get("due", 0)),
        "eligibility cross-region awaiting answers": int(status.get("awaiting_answers", 0)),
    }


async def settle(urls: Urls, *, quiet_s: float = 3.0, within_s: float = 600.0, poll_s: float = 0.5) -> float:
    """Wait for a steady state; return the seconds it took. Raise TimeoutError with the backlog."""
    started = time.monotonic()
    auth = urls.auth("city-demo.auditor", "auditor")  # the cross-region status is behind the assertion
    async with httpx.AsyncClient(timeout=10.0, trust_env=False, auth=auth) as client:
        quiet_since: float | None = None
        ends: dict[str, int] = {}
        while True:
            now = time.monotonic()
            state = await backlog(client, urls)
            if state.idle and state.stream_ends == ends:
                quiet_since = quiet_since or now
                if now - quiet_since >= quiet_s:
                    return now - started
            else:
                quiet_since = now if state.idle else None
            ends = state.stream_ends
            if now - started > within_s:
                raise TimeoutError(f"no steady state after {within_s:.0f} s: {state.describe()}")
            await asyncio.sleep(poll_s)
