"""A stand-in service for testing the launcher without the real services (`python -m infra.stub_service`).

The launcher's hard parts (output echo, readiness polling, early-exit reporting, stopping order) are
worth testing before and independently of the services, which other engineers write; this process
behaves like a service from the launcher's point of view and nothing more. Standard library only.

Environment: HTTP_PORT (required); STUB_EXIT_CODE: exit at once with that code (an "early crash").
It answers `/healthz` and `/readyz` with 200 and `/env` with the variables the launcher is meant to set.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

REPORTED_ENV = ("NATS_URL", "HTTP_PORT", "PERSISTENCE_MODULE", "SQLITE_DBNAME", "SERVICE_LOG_DIR")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/healthz", "/readyz"):
            self._send(200, {"status": "ok"})
        elif self.path == "/env":
            self._send(200, {key: os.environ.get(key) for key in REPORTED_ENV})
        else:
            self._send(404, {"detail": "not found"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"request {self.path}", flush=True)


def main() -> int:
    exit_code = os.environ.get("STUB_EXIT_CODE")
    if exit_code is not None:
        print(f"stub: exiting early with code {exit_code} as asked", flush=True)
        return int(exit_code)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["HTTP_PORT"])), _Handler)

    def _stop(signum: int, frame: FrameType | None) -> None:
        print("stub: SIGTERM received, stopping", flush=True)
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, _stop)
    print(f"stub: listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
