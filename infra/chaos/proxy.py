"""A TCP proxy that can drop, stall or slow the connections it carries, switched at runtime.

A crash of nats-server or of a service is one kind of fault; a network that silently stops carrying
bytes is another, and clients notice it much later (a stalled TCP connection stays "open" until some
timeout or ping fails). Putting this proxy between the services and nats-server lets a test cut the
link without killing anyone:

- `pass`: bytes flow both ways, optionally at `rate` bytes per second per direction;
- `drop`: every open connection is aborted (RST, as when a host or a NAT entry disappears) and new
  ones are accepted and closed at once, so clients see the peer gone and reconnect;
- `stall`: connections stay open and new ones are accepted, but nothing is forwarded (nor any upstream
  connection opened) until the mode changes back, as with a black-holed route; what was read before
  is held and delivered afterwards, so late and redelivered messages reach the far side together.

Each mode can be set for a number of seconds, after which the proxy goes back to `pass`.

In a test (synchronous code), `ProxyThread` runs the proxy on its own event loop:

    with ProxyThread(target_port=nats_port) as proxy:       # proxy.port: where clients connect
        proxy.set_mode(Mode.STALL, for_s=8.0)

From a shell (`python -m infra.chaos.proxy --help`):

    python -m infra.chaos.proxy run --listen 127.0.0.1:4333 --target 127.0.0.1:14222 --control 127.0.0.1:4334
    python -m infra.chaos.proxy ctl 127.0.0.1:4334 stall 10
    python -m infra.chaos.proxy ctl 127.0.0.1:4334 status
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from enum import StrEnum
from types import TracebackType

CHUNK = 64 * 1024


class Mode(StrEnum):
    PASS = "pass"  # noqa: S105 - a mode, not a password
    DROP = "drop"
    STALL = "stall"


@dataclass
class Stats:
    """Counters a test reads to show that the fault really happened (a proxy that never cut anything
    would make a fault test pass for the wrong reason)."""

    accepted: int = 0
    refused: int = 0
    """connections accepted and closed at once in `drop` mode"""
    aborted: int = 0
    """open connections cut when `drop` was set"""
    stalled: int = 0
    """connections held by a `stall` (each connection counted once per stall)"""
    bytes_up: int = 0
    bytes_down: int = 0
    active: int = 0


class _Connection:
    """One client connection and, once opened, its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.closed = False
        self.stall_seen = 0
        """the last stall (by number) that held this connection"""

    def abort(self) -> None:
        """Reset both sides at once: no FIN, no flush of what is buffered, as a vanished peer."""
        self.closed = True
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()

    def close(self) -> None:
        self.closed = True
        for writer in (self.client, self.upstream):
            if writer is not None and not writer.transport.is_closing():
                writer.close()


class ChaosProxy:
    """The proxy on the running event loop; every method must be called from that loop."""

    def __init__(
        self,
        target_host: str = "127.0.0.1",
        target_port: int = 0,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.mode = Mode.PASS
        self.rate: int | None = None
        self.stats = Stats()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._revert: asyncio.TimerHandle | None = None
        self._stalls = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, *self.listen, reuse_address=True)

    async def close(self) -> None:
        if self._revert is not None:
            self._revert.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.abort()
        self._flowing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def set_mode(self, mode: Mode, *, for_s: float | None = None) -> None:
        """Switch now; with `for_s`, switch back to `pass` after that many seconds."""
        if self._revert is not None:
            self._revert.cancel()
            self._revert = None
        self.mode = mode
        if mode is Mode.DROP:
            for connection in list(self._connections):
                connection.abort()
                self.stats.aborted += 1
        if mode is Mode.STALL:
            if self._flowing.is_set():
                self._stalls += 1
            self._flowing.clear()
        else:
            self._flowing.set()  # waiting pumps wake up; under `drop` they find their connection cut
        if for_s is not None:
            self._revert = asyncio.get_running_loop().call_later(for_s, self.set_mode, Mode.PASS)

    def set_rate(self, bytes_per_s: int | None) -> None:
        """Limit each direction of each connection; None for no limit."""
        if bytes_per_s is not None and bytes_per_s <= 0:
            raise ValueError("rate must be positive (or None for no limit)")
        self.rate = bytes_per_s

    def status(self) -> dict[str, object]:
        return {"mode": self.mode.value, "rate": self.rate, **asdict(self.stats)}

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode is Mode.DROP:
            self.stats.refused += 1
            writer.transport.abort()
            return
        self.stats.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # so that close() can end it before the loop goes away
        connection = _Connection(writer)
        self._connections.add(connection)
        self.stats.active += 1
        try:
            if not self._flowing.is_set():
                self._held(connection)
                await self._flowing.wait()
            if connection.closed:
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                connection.abort()  # the target is down: the client sees its connection reset
                return
            connection.upstream = up_writer
            if connection.closed:  # dropped while connecting
                connection.abort()
                return
            await asyncio.gather(
                self._pump(connection, reader, up_writer, up=True),
                self._pump(connection, up_reader, writer, up=False),
            )
        except asyncio.CancelledError:
            connection.abort()  # close(): the proxy goes away, and its connections with it
        finally:
            connection.close()
            self._connections.discard(connection)
            self._tasks.discard(task)
            self.stats.active -= 1

    def _held(self, connection: _Connection) -> None:
        if connection.stall_seen != self._stalls:
            connection.stall_seen = self._stalls
            self.stats.stalled += 1

    async def _pump(
        self, connection: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        try:
            while not connection.closed:
                rate = self.rate
                data = await reader.read(CHUNK if rate is None else max(1, min(CHUNK, rate // 10)))
                if not data:
                    break
                if not self._flowing.is_set():
                    self._held(connection)
                    await self._flowing.wait()
                if connection.closed:
                    break
                writer.write(data)
                await writer.drain()
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                if rate is not None:
                    await asyncio.sleep(len(data) / rate)
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended: end the other, so the client sees what the server did (and vice versa).
            connection.close()


class ProxyThread:
    """A ChaosProxy on an event loop of its own thread, for synchronous tests and tools."""

    def __init__(
        self,
        target_host: str = "127.0.0.1",
        target_port: int = 0,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self._args = (target_host, target_port)
        self._listen = (listen_host, listen_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-proxy", daemon=True)
        self.proxy: ChaosProxy | None = None

    def start(self) -> ProxyThread:
        self._thread.start()

        async def create() -> ChaosProxy:
            proxy = ChaosProxy(*self._args, listen_host=self._listen[0], listen_port=self._listen[1])
            await proxy.start()
            return proxy

        self.proxy = asyncio.run_coroutine_threadsafe(create(), self._loop).result(timeout=10)
        return self

    @property
    def port(self) -> int:
        assert self.proxy is not None
        return self.proxy.port

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def set_mode(self, mode: Mode, *, for_s: float | None = None) -> None:
        self._call(lambda proxy: proxy.set_mode(mode, for_s=for_s))

    def set_rate(self, bytes_per_s: int | None) -> None:
        self._call(lambda proxy: proxy.set_rate(bytes_per_s))

    def status(self) -> dict[str, object]:
        result: dict[str, object] = {}
        self._call(lambda proxy: result.update(proxy.status()))
        return result

    def _call(self, action: object) -> None:
        assert self.proxy is not None and callable(action)
        proxy = self.proxy

        async def run() -> None:
            action(proxy)

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self.proxy is not None:
            asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# The command: `run` a proxy with a control port, `ctl` it from another shell


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def apply_command(proxy: ChaosProxy, line: str) -> dict[str, object]:
    """One control line: `pass`, `drop [SECONDS]`, `stall [SECONDS]`, `rate BYTES_PER_S|off`, `status`."""
    words = line.split()
    if not words:
        raise ValueError("empty command")
    verb, rest = words[0].lower(), words[1:]
    if verb in {m.value for m in Mode} and len(rest) <= 1:
        proxy.set_mode(Mode(verb), for_s=float(rest[0]) if rest else None)
    elif verb == "rate" and len(rest) == 1:
        proxy.set_rate(None if rest[0] == "off" else int(rest[0]))
    elif verb != "status" or rest:
        raise ValueError(f"unknown command {line.strip()!r}")
    return proxy.status()


async def _serve(listen: tuple[str, int], target: tuple[str, int], control: tuple[str, int] | None) -> None:
    proxy = ChaosProxy(*target, listen_host=listen[0], listen_port=listen[1])
    await proxy.start()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with_errors: dict[str, object]
        async for raw in reader:
            try:
                with_errors = apply_command(proxy, raw.decode("utf-8", errors="replace"))
            except ValueError as exc:
                with_errors = {"error": str(exc)}
            writer.write(json.dumps(with_errors).encode() + b"\n")
            await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(handle, *control)] if control else []
    print(
        f"proxy 127.0.0.1:{proxy.port} -> {target[0]}:{target[1]}"
        + (f", control {control[0]}:{control[1]}" if control else ""),
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        for server in servers:
            server.close()
        await proxy.close()


def send_command(control: tuple[str, int], line: str, *, timeout: float = 5.0) -> dict[str, object]:
    """Send one control line to a running proxy and return its status (or its error)."""
    with socket.create_connection(control, timeout=timeout) as sock:
        sock.sendall(line.strip().encode() + b"\n")
        answer = sock.makefile("rb").readline()
    result: dict[str, object] = json.loads(answer)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.chaos.proxy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a proxy until interrupted")
    run.add_argument("--listen", type=_address, required=True, help="HOST:PORT clients connect to")
    run.add_argument("--target", type=_address, required=True, help="HOST:PORT of the real server")
    run.add_argument("--control", type=_address, help="HOST:PORT for control lines (see `ctl`)")
    ctl = commands.add_parser(
        "ctl", help="switch a running proxy: pass | drop [S] | stall [S] | rate N|off | status"
    )
    ctl.add_argument("control", type=_address)
    ctl.add_argument("words", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "run":
        with suppress(KeyboardInterrupt):
            asyncio.run(_serve(args.listen, args.target, args.control))
        return 0
    answer = send_command(args.control, " ".join(args.words))
    print(json.dumps(answer))
    return 1 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(main())
