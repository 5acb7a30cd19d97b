"""Delivering notices: the notifier adapters and the loop that follows the store.

A notice is stored first (with the decision that caused it) and delivered afterwards, by this loop,
which records the delivery as an event on the notice. Delivery is at least once: a crash between the
hand-over and the record delivers the notice again, with the same `notice_id`, by which a receiver
recognises the copy. Adapters:
- `FileNotifier` (default): one JSON line per notice in `$VAR_DIR/penalties-notices.jsonl`;
- `WebhookNotifier` (`PENALTIES_NOTICE_WEBHOOK_URL` set): POSTs the notice as JSON with httpx; any
  2xx is a delivery, anything else a failure retried later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import httpx

from services.penalties.application import PenaltiesApp
from services.penalties.settings import PenaltiesSettings

log = logging.getLogger(__name__)


class Notifier(Protocol):
    channel: str

    async def deliver(self, notice: dict[str, Any]) -> None:
        """Hand the notice over; raise when it was not."""


class FileNotifier:
    channel = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _append(self, line: str) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")

    async def deliver(self, notice: dict[str, Any]) -> None:
        await asyncio.to_thread(self._append, json.dumps(notice, ensure_ascii=False, sort_keys=True))


class WebhookNotifier:
    channel = "webhook"

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    async def deliver(self, notice: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            response = await client.post(
                self.url, json=notice, headers={"Idempotency-Key": notice["notice_id"]}
            )
            response.raise_for_status()


def make_notifier(settings: PenaltiesSettings) -> Notifier:
    if settings.penalties_notice_webhook_url:
        return WebhookNotifier(settings.penalties_notice_webhook_url)
    return FileNotifier(settings.var_dir / settings.notice_file_name)


class NoticeDelivery:
    """Delivers every undelivered notice, woken by saves; failures wait `notice_retry_s`."""

    def __init__(self, app: PenaltiesApp, notifier: Notifier) -> None:
        self.app = app
        self.notifier = notifier
        self.wake = asyncio.Event()
        self._retry_at: dict[UUID, float] = {}
        self._listening = False

    async def run(self, stop: asyncio.Event) -> None:
        if not self._listening:
            self.app.wake_on_save(self.wake)
            self._listening = True
        self.wake.set()
        while not stop.is_set():
            # Cleared before the pass, not after it: a notice saved during the pass sets it again and
            # is delivered at once instead of after `notice_retry_s`.
            self.wake.clear()
            try:
                await self.deliver_pending()
            except Exception:
                log.exception("notice delivery failed; retrying")
            waiter = asyncio.create_task(self.wake.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=self.app.config.notice_retry_s, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (waiter, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def deliver_pending(self) -> int:
        await asyncio.to_thread(self.app.catch_up)
        loop = asyncio.get_running_loop()
        with self.app.lock:
            pending = list(self.app.pending_notices)
        delivered = 0
        for notice_id in pending:
            if self._retry_at.get(notice_id, 0.0) > loop.time():
                continue
            notice = await asyncio.to_thread(self.app.notice_payload, notice_id)
            if notice["delivered"]:
                continue
            try:
                await self.notifier.deliver(notice)
            except Exception as exc:
                self._retry_at[notice_id] = loop.time() + self.app.config.notice_retry_s
                log.warning("notice %s not delivered by %s: %r", notice_id, self.notifier.channel, exc)
                await asyncio.to_thread(self.app.record_delivery, notice_id, self.notifier.channel, repr(exc))
                continue
            self._retry_at.pop(notice_id, None)
            await asyncio.to_thread(self.app.record_delivery, notice_id, self.notifier.channel, None)
            delivered += 1
        return delivered
