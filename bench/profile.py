"""Where each process spends its time during a benchmark: py-spy sampling every process of a stack from
the outside (no change to the process, `--nonblocking` so it is never paused), folded stacks read back
into the functions that cost the most.

Why py-spy and not cProfile: the services run as their own processes under the launcher; py-spy attaches
to a pid, samples at a fixed rate with little overhead (the processes are not slowed by a tracer), and
sees C extensions' time (SQLite, the JSON codec) as the Python line that called them."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.support import cpu_seconds

RATE = 20
"""Samples per second per process: measured, 50 cost each of twelve processes 2-3 % of a core (a
quarter of a core in all); 20 keeps that small and still gives thousands of samples a minute."""


@dataclass
class Profile:
    process: str
    cpu_s: float = 0.0
    """User and system CPU of the process over the profile (`/proc/<pid>/stat`)."""
    samples: int = 0
    busy: int = 0
    """Samples where a thread was running Python (not waiting in a selector or a lock)."""
    own: Counter[str] = field(default_factory=Counter)
    """function (file:line) -> samples where it was running itself"""
    ours: Counter[str] = field(default_factory=Counter)
    """our function (services/, gateway/, contracts/) -> samples with it on the stack"""


IDLE = frozenset(
    {
        "select (selectors.py)",
        "poll (selectors.py)",
        "wait (threading.py)",
        "_run_once (base_events.py)",
        "_worker (thread.py)",  # a pool thread waiting for work
        "Runner.run (runners.py)",  # the event loop in uvloop's C select (no Python frame below it)
        "run_forever (base_events.py)",
    }
)
"""Leaves (as `short` names them) of a thread that waits rather than works."""
OURS = ("services/", "gateway/", "contracts/", "federation/")
PLUMBING = ("(__main__.py)", "(service.py)", "(http.py)", "(runtime.py)")
"""Frames on every stack of a process (its entry point, the server): they say nothing of where."""


class Profiler:
    """`start(name, pid)` for each process, `stop()` at the end of the measured part, `read()` after."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.pids: dict[str, int] = {}
        self.cpu: dict[str, float] = {}
        beside = Path(sys.executable).parent / "py-spy"  # the venv's, when its bin is not on PATH
        self.command = str(beside) if beside.exists() else shutil.which("py-spy")

    def start(self, name: str, pid: int) -> None:
        if self.command is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pids[name], self.cpu[name] = pid, cpu_seconds(pid)
        out = self.folder / f"{name}.txt"
        command = [self.command, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw"]
        self.children[name] = subprocess.Popen(
            [*command, "--nonblocking", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        for name, pid in self.pids.items():
            self.cpu[name] = cpu_seconds(pid) - self.cpu[name]
        for child in self.children.values():
            child.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for child in self.children.values():
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()

    def read(self) -> list[Profile]:
        profiles = [fold(name, self.folder / f"{name}.txt") for name in self.children]
        for profile in profiles:
            profile.cpu_s = self.cpu.get(profile.process, 0.0)
        return profiles


def fold(name: str, path: Path) -> Profile:
    """A raw (collapsed) py-spy file: `frame;frame;...;leaf count` a line, root first."""
    profile = Profile(name)
    if not path.exists():
        return profile
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        profile.samples += count
        leaf = short(frames[-1])
        if leaf in IDLE:
            continue
        profile.busy += count
        profile.own[leaf] += count
        for frame in {short(f) for f in frames if any(marker in f for marker in OURS)}:
            profile.ours[frame] += count
    return profile


def short(frame: str) -> str:
    """`function (path/to/module.py:12)` as `function (module.py)`, so lines of one function add up."""
    function, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0].rstrip(")")
    return f"{function} ({module})"


def section(profiles: list[Profile], top: int = 6) -> list[str]:
    """Markdown: per process, its busy share and the functions that cost the most."""
    if not profiles:
        return ["(py-spy not installed: no profile)"]
    lines = [
        f"py-spy at {RATE} samples/s per process over the load and the settling (`bench/profile.py`). "
        "CPU s: the process's user and system time over that span (2 cores: at most twice the wall "
        "time for all processes together); busy thread-s: samples of threads not waiting, summed over "
        "threads (a thread in SQLite or a pydantic validator counts, one waiting for a lock or work "
        "does not); then our functions (services/, gateway/, contracts/, federation/) with the share of "
        "the busy samples they were on the stack for, and the leaf functions (library or ours) that "
        "were running themselves.",
        "",
        "| process | CPU s | busy thread-s | where its time goes (inclusive) | hottest leaves (self) |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for p in sorted(profiles, key=lambda p: -p.cpu_s):
        if not p.samples:
            continue
        busy = p.busy or 1
        chosen = [(f, n) for f, n in p.ours.most_common() if not f.endswith(PLUMBING)][:top]
        ours = "; ".join(f"{f} {n / busy:.0%}" for f, n in chosen)
        own = "; ".join(f"{f} {n / busy:.0%}" for f, n in p.own.most_common(top))
        lines.append(f"| {p.process} | {p.cpu_s:.0f} | {p.busy / RATE:.0f} | {ours} | {own} |")
    return lines
