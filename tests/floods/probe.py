"""`python -m tests.floods.probe PORT INTERVAL OUT`: `GET /healthz` on a fresh connection every INTERVAL
seconds until SIGTERM, one JSON line per probe in OUT (`at`: time.monotonic(), `status`, `seconds`).

A process of its own, so that what it measures is the server's answer, not the wait for the flooding
client's event loop (which shares the test process) or its GIL."""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from types import FrameType


def probe(port: int, path: str = "/healthz", timeout: float = 60.0) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            first = sock.recv(64)
        status = int(first.split()[1]) if first.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        status = 0
    return status, time.monotonic() - started


def main() -> None:
    port, interval, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    running = True

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    with open(out, "a", buffering=1) as lines:
        while running:
            at = time.monotonic()
            status, seconds = probe(port)
            lines.write(json.dumps({"at": at, "status": status, "seconds": seconds}) + "\n")
            time.sleep(max(0.0, interval - (time.monotonic() - at)))


if __name__ == "__main__":
    main()
