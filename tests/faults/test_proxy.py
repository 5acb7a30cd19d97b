"""The chaos proxy itself: each mode does what a fault test relies on, against a real echo server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from infra.chaos.proxy import ChaosProxy, Mode, ProxyThread, send_command
from tests.support.nats import free_port

pytestmark = pytest.mark.timeout(60)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[ChaosProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    chaos = ChaosProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    await chaos.start()
    try:
        yield chaos
    finally:
        await chaos.close()
        server.close()


async def _connect(proxy: ChaosProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def _roundtrip(proxy: ChaosProxy, payload: bytes = b"ping\n") -> bytes:
    reader, writer = await _connect(proxy)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    finally:
        writer.close()


async def _cut(reader: asyncio.StreamReader) -> bool:
    """True when the connection ends (EOF or reset) rather than delivering bytes."""
    try:
        return await asyncio.wait_for(reader.read(1), 10) == b""
    except ConnectionError:
        return True


async def test_pass_forwards_both_ways(proxy: ChaosProxy) -> None:
    payload = bytes(range(256)) * 1000
    assert await _roundtrip(proxy, payload) == payload
    assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(payload)


async def test_drop_cuts_open_connections_and_refuses_new_ones_until_pass(proxy: ChaosProxy) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"a")
    assert await asyncio.wait_for(reader.readexactly(1), 10) == b"a"

    proxy.set_mode(Mode.DROP)
    assert await _cut(reader)
    writer.close()
    new_reader, new_writer = await _connect(proxy)
    assert await _cut(new_reader)
    new_writer.close()
    assert proxy.stats.aborted == 1 and proxy.stats.refused == 1

    proxy.set_mode(Mode.PASS)
    assert await _roundtrip(proxy) == b"ping\n"


async def test_stall_holds_bytes_and_delivers_them_in_order_on_release(proxy: ChaosProxy) -> None:
    reader, writer = await _connect(proxy)
    proxy.set_mode(Mode.STALL)
    writer.write(b"first ")
    late_reader, late_writer = await _connect(proxy)  # accepted, but not connected upstream yet
    late_writer.write(b"late")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    assert not late_reader.at_eof()

    proxy.set_mode(Mode.PASS)
    writer.write(b"second")
    assert await asyncio.wait_for(reader.readexactly(12), 10) == b"first second"
    assert await asyncio.wait_for(late_reader.readexactly(4), 10) == b"late"
    assert proxy.stats.stalled == 2

    proxy.set_mode(Mode.STALL)  # a second stall counts the same connection again
    writer.write(b"third")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    proxy.set_mode(Mode.PASS)
    assert await asyncio.wait_for(reader.readexactly(5), 10) == b"third"
    assert proxy.stats.stalled == 3
    writer.close()
    late_writer.close()


async def test_a_timed_mode_reverts_to_pass(proxy: ChaosProxy) -> None:
    proxy.set_mode(Mode.STALL, for_s=0.3)
    assert await _roundtrip(proxy) == b"ping\n"  # waits out the stall
    assert proxy.mode is Mode.PASS and proxy.stats.stalled == 1
    proxy.set_mode(Mode.DROP, for_s=0.3)
    await asyncio.sleep(0.6)
    assert await _roundtrip(proxy) == b"ping\n"


async def test_a_down_target_resets_the_client(proxy: ChaosProxy) -> None:
    proxy.target = ("127.0.0.1", free_port())
    reader, writer = await _connect(proxy)
    assert await _cut(reader)
    writer.close()


async def test_rate_limits_throughput(proxy: ChaosProxy) -> None:
    proxy.set_rate(20_000)
    started = time.monotonic()
    payload = b"x" * 10_000
    assert await _roundtrip(proxy, payload) == payload
    # a lower bound only: 10 kB at 20 kB/s in 2 kB reads is 4 pauses of 0.1 s before the last chunk
    # goes up (the echo of each chunk overlaps), so never less than 0.4 s, however fast the host
    assert time.monotonic() - started >= 0.39
    with pytest.raises(ValueError):
        proxy.set_rate(0)


def test_the_thread_wrapper_and_the_command_line() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        target = listener.getsockname()[1]
        with ProxyThread(target_port=target) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
                server_side, _ = listener.accept()
                client.sendall(b"hello")
                assert server_side.recv(5) == b"hello"
                proxy.set_mode(Mode.DROP)
                assert server_side.recv(5) in (b"",)
                server_side.close()
            assert proxy.status()["aborted"] == 1

    listen, control = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.chaos.proxy",
            "run",
            "--listen",
            f"127.0.0.1:{listen}",
            "--target",
            "127.0.0.1:1",
            "--control",
            f"127.0.0.1:{control}",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert b"control" in process.stdout.readline()
        assert send_command(("127.0.0.1", control), "stall 5")["mode"] == "stall"
        ctl = [sys.executable, "-m", "infra.chaos.proxy", "ctl", f"127.0.0.1:{control}"]
        assert b'"mode": "pass"' in subprocess.run([*ctl, "pass"], capture_output=True, check=True).stdout
        assert subprocess.run([*ctl, "explode"], capture_output=True).returncode == 1
    finally:
        process.terminate()
        process.wait(10)
