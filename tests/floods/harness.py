"""What the flood tests and `bench --only floods` share: the process under test watched from outside.

- memory from `/proc/<pid>/status`: `VmRSS` sampled while the flood runs, `VmHWM` (the kernel's own
  peak of resident memory) read at the end;
- health probed on a fresh connection every `interval` seconds, during the flood and after it, on the
  health port (`HEALTH_PORT`, a listener of its own served by a thread: `services/kit/health.py`) and
  on the API port (for comparison: there a probe waits behind the flood in the listen queue and the
  event loop), each probe's latency kept (reported, never asserted: timing on a shared 2-core machine
  is noise);
- HTTP requests sent on raw sockets: the body is written while the answer is read, so an answer that
  comes before the body is sent (413 on Content-Length, 503 of admission) is seen as it comes, and the
  rest of the body is not sent (a client library would send it whole first, or fail on the reset).

`FLOOD_SCALE=1` runs the sizes of issue 10 (50,000 messages, 2,000 POSTs); the default is a tenth or
less, so that `make test` stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHUNK = 64 * 1024
MIB = 1024 * 1024


def full_scale() -> bool:
    return os.environ.get("FLOOD_SCALE", "") not in ("", "0")


def status_kib(pid: int) -> dict[str, int]:
    """`Vm*` lines of /proc/<pid>/status, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.startswith("Vm") and value.strip().endswith("kB"):
            out[name] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemoryWatch:
    """Samples a process's resident memory every `interval` s in a thread; `peak_mib` is the larger
    of the samples' maximum and the kernel's high-water mark (`VmHWM`), which sees between samples."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self.hwm_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self.baseline_kib = status_kib(self.pid)["VmRSS"]
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError):
            self.hwm_kib = status_kib(self.pid)["VmHWM"]

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.samples.append(status_kib(self.pid)["VmRSS"])
            self._stop.wait(self.interval)

    @property
    def baseline_mib(self) -> float:
        return self.baseline_kib / 1024

    @property
    def peak_mib(self) -> float:
        return max([self.hwm_kib, *self.samples]) / 1024

    @property
    def end_mib(self) -> float:
        return (self.samples[-1] if self.samples else self.baseline_kib) / 1024


@dataclass
class Outcome:
    group: str
    status: int  # 0: no answer (the error says why)
    seconds: float  # request start (connect) → status line received
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""


class _Answer:
    """Reads an HTTP/1.1 answer from a non-blocking socket (`loop.sock_recv`): apart from the writes,
    so that a write failing on a connection the server closed (it answered without reading the body)
    does not discard the answer already received, as an asyncio stream would."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    async def _more(self) -> None:
        data = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if not data:
            raise ConnectionError("closed before a whole answer")
        self.buffer += data

    async def read(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            await self._more()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        self.buffer = rest
        while len(self.buffer) < length:
            await self._more()
        return status, headers, self.buffer[:length]


async def request(
    port: int,
    method: str,
    path: str,
    *,
    group: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | memoryview = b"",
    chunked: bool = False,
    timeout: float = 120.0,
) -> Outcome:
    """One request on its own connection (Connection: close); the body is written while the answer
    is read. Status 0: no answer (a reset before it came, a timeout), the error says which."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    pump: asyncio.Task[None] | None = None
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        view = memoryview(body)

        async def send() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
                for offset in range(0, len(view), CHUNK):
                    piece = view[offset : offset + CHUNK]
                    if chunked:
                        await loop.sock_sendall(sock, f"{len(piece):x}\r\n".encode() + bytes(piece) + b"\r\n")
                    else:
                        await loop.sock_sendall(sock, piece)
                if chunked:
                    await loop.sock_sendall(sock, b"0\r\n\r\n")

        pump = asyncio.create_task(send())
        status, answer_headers, answer = await asyncio.wait_for(_Answer(sock).read(), timeout)
        return Outcome(group, status, time.monotonic() - started, answer_headers, answer)
    except (OSError, ConnectionError, TimeoutError, ValueError, IndexError) as exc:
        return Outcome(group, 0, time.monotonic() - started, error=repr(exc))
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        sock.close()


@dataclass
class Probe:
    at: float
    status: int
    seconds: float


class HealthProbe:
    """`GET /healthz` on a fresh connection every `interval` s, from a process of its own
    (`tests/floods/probe.py`), until the context ends; `at` is `time.monotonic()`."""

    def __init__(self, port: int, directory: Path, interval: float = 0.1) -> None:
        self.port, self.interval = port, interval
        self.out = directory / f"health-{port}-{time.monotonic_ns()}.jsonl"
        self.probes: list[Probe] = []
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HealthProbe:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        argv = [sys.executable, "-m", "tests.floods.probe", str(self.port), str(self.interval), str(self.out)]
        self._process = subprocess.Popen(argv, env=env, cwd=REPO)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        self._process.wait(90)
        for line in self.out.read_text().splitlines():
            entry = json.loads(line)
            self.probes.append(Probe(entry["at"], entry["status"], entry["seconds"]))

    def latencies_ms(self) -> list[float]:
        return [p.seconds * 1000 for p in self.probes]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def latency(probes: Sequence[Probe]) -> str:
    """Probes, p50 and max latency, for a test's printed report."""
    ms = [p.seconds * 1000 for p in probes]
    return f"{len(ms)} probes, p50 {percentile(ms, 0.5):.0f} ms, max {max(ms, default=0):.0f} ms"


def assert_health(health: Sequence[Probe], health_after: Sequence[Probe], main: Sequence[Probe]) -> None:
    """Health port: every probe answered, 200 or 503 (the event loop stalled beyond `HEALTH_STALL_S`,
    said rather than hidden), 200 after the flood; API port: 200 (it answers once the loop gets to it)."""
    assert {p.status for p in health} <= {200, 503}, [p.status for p in health]
    assert [p.status for p in health_after] == [200] * len(health_after)
    assert [p.status for p in main] == [200] * len(main)


def summary(outcomes: Sequence[Outcome]) -> dict[str, Counter[int]]:
    """Statuses per group."""
    by_group: dict[str, Counter[int]] = {}
    for outcome in outcomes:
        by_group.setdefault(outcome.group, Counter())[outcome.status] += 1
    return by_group


def shed_ms(outcomes: Sequence[Outcome], statuses: Sequence[int]) -> list[float]:
    """Time to the answer of the requests answered with one of `statuses` (the shed ones)."""
    return [o.seconds * 1000 for o in outcomes if o.status in statuses]
