"""Ports for the processes a test starts, never handed out twice, whichever worker or run asks.

Binding port 0 and handing the number to a child races: between the pick and the child's bind,
another xdist worker (or another pytest run on the machine) can pick the same number, and one of the
children fails with EADDRINUSE. So `free_port()` reserves what it hands out:

- from 20000-30999, below the kernel's ephemeral range (Linux: 32768-60999), so no outgoing
  connection's source port and no `bind(port 0)` can land on one;
- by a POSIX record lock on byte `port` of one file in the temp directory, which every process asking
  here shares; the kernel holds it until this process exits (a crash included), so no process of any
  worker or run gets a port another still holds, and none is freed while its child may still use it;
- with `port + 1000`, the health port a service derives from its `HTTP_PORT` (services/kit/health.py);
- only when nothing binds it now (a server outside this scheme, a socket in TIME_WAIT).

Each worker starts at its own offset in the range (`PYTEST_XDIST_WORKER`), so workers seldom meet.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
import threading
from pathlib import Path

LOW, HIGH = 20000, 31000
"""Ports handed out: [LOW, HIGH). Their companions (+1000) stay below 32768 too."""
COMPANION = 1000
LOCK_FILE = Path(tempfile.gettempdir()) / "housing-tests-ports.lock"

_mutex = threading.Lock()
_held: set[int] = set()
"""This process's reservations: a record lock does not stop its own holder from taking it again."""
_fd: int | None = None
"""Open for the process's lifetime: closing any descriptor of the file would drop all its locks."""
_cursor: int | None = None


def free_port() -> int:
    """A port of 127.0.0.1 that nothing binds and no other process of the tests was or will be given
    (see the module's docstring); it stays reserved until this process exits."""
    global _cursor
    with _mutex:
        if _cursor is None:
            _cursor = _first()
        for _ in range(HIGH - LOW):
            port = _cursor
            _cursor = LOW + (_cursor + 1 - LOW) % (HIGH - LOW)
            if _reserve(port):
                return port
    raise RuntimeError(f"no free port left in {LOW}-{HIGH - 1} (held here: {len(_held)})")


def _first() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...; unset without xdist
    index = int(worker[2:]) + 1 if worker[2:].isdigit() else 0
    return LOW + (index * 997) % (HIGH - LOW)


def _reserve(port: int) -> bool:
    """Lock `port` and its companion, and keep them if both are free to bind."""
    pair = (port, port + COMPANION)
    if any(p in _held for p in pair):
        return False
    locked: list[int] = []
    for p in pair:
        if not _lock(p):
            break
        locked.append(p)
    else:
        if all(_bindable(p) for p in pair):
            _held.update(pair)
            return True
    for p in locked:
        fcntl.lockf(_lock_fd(), fcntl.LOCK_UN, 1, p)
    return False


def _lock(port: int) -> bool:
    try:
        fcntl.lockf(_lock_fd(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:  # held by another process
        return False
    return True


def _lock_fd() -> int:
    global _fd
    if _fd is None:
        _fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        with contextlib.suppress(OSError):  # not ours: its owner opened it up
            os.fchmod(_fd, 0o666)  # other users' runs share it (umask took the write bits)
    return _fd


def _bindable(port: int) -> bool:
    """Without SO_REUSEADDR this fails on a port any socket holds, even one in TIME_WAIT: stricter
    than the children (which set it), so a port that passes is one they can bind."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
