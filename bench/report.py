"""The benchmark report: machine, date, versions, then one section per benchmark."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from services.kit import clock


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
        f"| date | {clock.now():%Y-%m-%d %H:%M} UTC |",
        f"| CPU | {_cpu_model()}, {os.cpu_count()} cores |",
        f"| memory | {_memory()} |",
        f"| OS | {platform.platform()} |",
        f"| Python | {platform.python_version()} |",
        f"| nats-server | {_nats_server_version()} |",
        *(f"| {name} | {version(name)} |" for name in packages),
    ]
    return "\n".join(lines)


def _split(text: str) -> list[str]:
    """A report's `## ` sections, each with its heading (the title block before them is dropped)."""
    parts: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            parts.append(line)
        elif parts:
            parts[-1] += "\n" + line
    return [part.strip() for part in parts]


def _dated(section: str, when: str) -> str:
    heading, _, rest = section.partition("\n")
    return f"{heading}\n\n_Measured {when}._\n{rest}" if heading.startswith("## ") else section


def write_report(path: Path, sections: list[str], *, merge: bool = False) -> None:
    """Write the report; with `merge` (a partial run), replace only the sections this run produced and
    keep the others as they were, each with the date it was measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Benchmarks\n\nWritten by `make bench` (`python -m bench`); "
        "each section says when it was measured, on the machine below. "
        "Benchmarks are not tests: nothing asserts a time.\n"
    )
    when = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    fresh = [sections[0], *(_dated(section, when) for section in sections[1:])]
    if merge and path.exists():
        kept = _split(path.read_text())
        by_heading = {section.partition("\n")[0]: section for section in fresh}
        merged = [by_heading.pop(section.partition("\n")[0], section) for section in kept]
        fresh = merged + list(by_heading.values())
    path.write_text(header + "\n" + "\n\n".join(fresh) + "\n")
