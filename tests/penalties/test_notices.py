"""The notifier adapters: the webhook (PENALTIES_NOTICE_WEBHOOK_URL) POSTs each notice with httpx, a
failure is recorded on the notice and retried, a success recorded once; the file adapter by default."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from services.penalties.domain import Notice
from services.penalties.notifier import FileNotifier, NoticeDelivery, WebhookNotifier, make_notifier
from services.penalties.settings import PenaltiesSettings
from tests.penalties.support import feed, make_app, registered_household, violation


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures_left = 1


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state.failures_left:
                state.failures_left -= 1
                self.send_response(503)
            else:
                state.bodies.append({"body": body, "key": self.headers["Idempotency-Key"]})
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notices", state
    finally:
        server.shutdown()
        server.server_close()


async def test_webhook_delivery_is_recorded_and_a_failure_retried(
    tmp_path: Path, receiver: tuple[str, Receiver]
) -> None:
    url, state = receiver
    settings = PenaltiesSettings(var_dir=tmp_path, penalties_notice_webhook_url=url, notice_retry_s=0.01)
    notifier = make_notifier(settings)
    assert isinstance(notifier, WebhookNotifier)
    assert isinstance(make_notifier(PenaltiesSettings(var_dir=tmp_path)), FileNotifier)
    app = make_app(tmp_path)
    try:
        app.config = settings
        household_id = registered_household(app)
        feed(app, "on_violation_confirmed", violation(household_id, "vacant", date(2027, 3, 10)))
        delivery = NoticeDelivery(app, notifier)
        assert await delivery.deliver_pending() == 0  # the receiver answered 503
        (notice_id,) = app.pending_notices
        failed: Notice = app.repository.get(notice_id)
        assert failed.failures == 1 and not failed.delivered
        delivery._retry_at.clear()  # the retry pause has passed
        assert await delivery.deliver_pending() == 1
        assert await delivery.deliver_pending() == 0  # nothing left to deliver
        (received,) = state.bodies
        assert received["key"] == str(notice_id) and received["body"]["kind"] == "sanction_imposed"
        assert "How to appeal" in received["body"]["text"]
        delivered: Notice = app.repository.get(notice_id)
        assert [d["channel"] for d in delivered.deliveries] == ["webhook"]
        assert app.household_notices(household_id)[0]["delivered"][0]["channel"] == "webhook"
    finally:
        app.close()


async def test_file_notifier_writes_json_lines(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        household_id = registered_household(app)
        feed(app, "on_violation_confirmed", violation(household_id, "lend", date(2027, 3, 10)))
        notifier = FileNotifier(tmp_path / "out" / "notices.jsonl")
        assert await NoticeDelivery(app, notifier).deliver_pending() == 1
        (line,) = (tmp_path / "out" / "notices.jsonl").read_text().splitlines()
        assert json.loads(line)["household_id"] == str(household_id)
        assert app.household_notices(household_id)[0]["delivered"][0]["channel"] == "file"
    finally:
        app.close()
