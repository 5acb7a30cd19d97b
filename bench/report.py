"""The benchmark report: machine, date, versions, then one section per benchmark."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _nats_server_version() -> str:
    binary = Path(sys.executable).with_name("nats-server")
    try:
        return subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        return "unknown"


def machine_section() -> str:
    packages = ["eventsourcing", "nats-py", "fastapi", "psycopg", "pydantic"]
    lines = [
        "## Machine",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |",
        f"| CPU | {_cpu_model()}, {os.cpu_count()} cores |",
        f"| memory | {_memory()} |",
        f"| OS | {platform.platform()} |",
        f"| Python | {platform.python_version()} |",
        f"| nats-server | {_nats_server_version()} |",
        *(f"| {name} | {version(name)} |" for name in packages),
    ]
    return "\n".join(lines)


def write_report(path: Path, sections: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Benchmarks\n\nWritten by `make bench` (`python -m bench`); "
        "figures from one run on the machine below. "
        "Benchmarks are not tests: nothing asserts a time.\n"
    )
    path.write_text(header + "\n" + "\n\n".join(sections) + "\n")
