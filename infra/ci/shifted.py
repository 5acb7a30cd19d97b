"""Run one command with the system clock moved by libfaketime: `python -m infra.ci.shifted +400d CMD...`.

The dev group's `libfaketime` wheel ships the preload library; this wrapper finds it, checks that it
really moves the clock of a Python process by about the shift asked for, prints the real and the
shifted time, then replaces itself with CMD under `LD_PRELOAD`, `FAKETIME` (libfaketime's syntax:
`+400d`, `+1100d`, `-2h`, ...) and `FAKETIME_DONT_FAKE_MONOTONIC=1` (monotonic clocks keep running
true, so timeouts, sleeps and asyncio's loop are unaffected). Every process CMD starts inherits the
three variables and runs shifted too, except static binaries (nats-server) and servers already running
(PostgreSQL). The wrapper itself runs unshifted, and so do make, pip and uv: only CMD is preloaded.

libfaketime also moves the times `stat()` reports, so every `.pyc` looks older than its source to a
shifted Python: CMD gets a bytecode cache of its own per shift (`PYTHONPYCACHEPREFIX`, under
`var/pycache/`), and the unshifted runs' `__pycache__` stay valid.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from services.kit.clock import epoch_seconds, system_clock

REPO = Path(__file__).resolve().parents[2]
SHIFT = re.compile(r"^[+-]\d+(\.\d+)?[smhdy]?$")
SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}


def library() -> Path:
    """`libfaketime.so.1` inside the installed wheel."""
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or spec.origin is None:
        raise SystemExit("infra.ci.shifted: the libfaketime wheel is not installed (make venv)")
    path = Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not path.is_file():
        raise SystemExit(f"infra.ci.shifted: {path} is missing")
    return path


def shift_seconds(shift: str) -> float:
    """The offset `shift` asks for, in seconds (a relative FAKETIME only: `+400d`, `-90m`, `+3y`)."""
    if not SHIFT.match(shift):
        raise SystemExit(f"infra.ci.shifted: {shift!r} is not a relative shift such as +400d or +1100d")
    unit = shift[-1] if shift[-1].isalpha() else ""
    return float(shift[: len(shift) - len(unit)]) * SECONDS[unit]


def shifted_env(shift: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    preload = [str(library())] + [p for p in env.get("LD_PRELOAD", "").split(":") if p]
    env.update(LD_PRELOAD=":".join(dict.fromkeys(preload)), FAKETIME=shift, FAKETIME_DONT_FAKE_MONOTONIC="1")
    env.setdefault("PYTHONPYCACHEPREFIX", str(REPO / "var" / "pycache" / f"shift{shift}"))
    return env


def measured_offset(env: Mapping[str, str]) -> float:
    """Seconds between a preloaded Python's wall clock and ours (this process is not preloaded)."""
    # the system's clock here (this process is not preloaded), beside the preloaded one's
    probe = "from services.kit.clock import epoch_seconds; print(epoch_seconds())"
    before = epoch_seconds(system_clock)
    out = subprocess.run(
        [sys.executable, "-c", probe], env=dict(env), capture_output=True, text=True, check=True, cwd=REPO
    )
    after = epoch_seconds(system_clock)
    return float(out.stdout.strip()) - (before + after) / 2


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    shift, command = args[0], args[1:]
    wanted = shift_seconds(shift)
    env = shifted_env(shift)
    offset = measured_offset(env)
    if abs(offset - wanted) > 60:
        print(
            f"infra.ci.shifted: libfaketime moved the clock by {offset:.0f} s, not {wanted:.0f} s ({shift})",
            file=sys.stderr,
        )
        return 1
    real = system_clock()
    moved = real + timedelta(seconds=offset)
    real_text, moved_text = f"{real:%Y-%m-%d %H:%M} UTC", f"{moved:%Y-%m-%d %H:%M} UTC"
    print(f"infra.ci.shifted: clock {shift}: {real_text} -> {moved_text}: {' '.join(command)}", flush=True)
    os.execvpe(command[0], command, env)  # noqa: S606 - CMD is the caller's command line, as given


if __name__ == "__main__":
    sys.exit(main())
