"""Services as real processes, as `make run` starts them, for the crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


class ServiceProcess:
    def __init__(self, module: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.module, self.args, self.env, self.log = module, args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.env["HTTP_PORT"])

    def start(self, extra_env: dict[str, str] | None = None) -> ServiceProcess:
        # No health listener unless the test asks for one: its derived port (HTTP_PORT + 1000) could be
        # the free port another process of the test was given.
        env = {**os.environ, "HEALTH_PORT": "0", **self.env, "PYTHONPATH": str(REPO)}
        env.pop("HOUSING_FAILPOINTS", None)
        env.update(extra_env or {})
        out = open(self.log, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args], env=env, stdout=out, stderr=out, cwd=REPO
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.module} exited {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.module} not ready:\n{self.tail()}")

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def metric(self, name: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill(self) -> None:
        """kill -9: no batch finished, no ack flushed, no lease released."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
