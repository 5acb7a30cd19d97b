"""`make run`'s start, checked: `python -m infra.ci.stack_smoke`.

Starts what `make run` starts (nats-server, the streams, every service of `infra/local/Procfile` with
its demo federation, the gateway) through `infra.stack.start_stack`, into a var/ of its own under a
temporary directory and with nats-server on free ports, waits until every process answers `/readyz`,
then logs in at the gateway with a demo account and reads the review queue through it, checks that
the gateway is the only door (no service port answers a read without a service assertion, nor with
made-up `X-Operator-*` headers; an anonymous bus client is refused), and stops everything. Exit
status 0 when all that worked, 1 otherwise (with the failing process's log tail).

`make test-shifted` runs it under libfaketime (`infra.ci.shifted`): a key window, a token lifetime or a
dated default that has gone off by then stops the stack from starting or the login from working. The
services keep the Procfile's ports (8000-8006, 8106, 8206), so a running `make run` is reported as a
busy port rather than worked around.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

from infra.stack import Stack, StackError, start_stack, without_api

ACCOUNT_ROLE = "reviewer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login_and_read(base_url: str) -> str:
    """A demo reviewer's token from the gateway, then `/api/review-queue` with it; what went wrong, or ''."""
    from gateway.users import demo_credentials

    account, _, password = next(row for row in demo_credentials() if row[1] == ACCOUNT_ROLE)
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30.0) as client:
        answer = client.post(
            "/auth/token", data={"grant_type": "password", "username": account, "password": password}
        )
        if answer.status_code != 200:
            return f"POST /auth/token as {account}: {answer.status_code} {answer.text[:500]}"
        token = answer.json()["access_token"]
        queue = client.get("/api/review-queue", headers={"Authorization": f"Bearer {token}"})
        if queue.status_code != 200:
            return f"GET /api/review-queue as {account}: {queue.status_code} {queue.text[:500]}"
        console = client.get("/login")
        if console.status_code != 200:
            return f"GET /login: {console.status_code}"
    return ""


def only_the_front_door(stack: Stack) -> str:
    """What answers without a verifiable identity (docs/security.md), or ''."""
    import asyncio

    from services.kit.bus import NoCredential, connect

    forged = {"X-Operator-Id": "mallory", "X-Operator-Role": "admin"}
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        for name, service in stack.services.items():
            if name == "gateway":
                continue
            if without_api(service.env):  # a relay of its own: no API, only its health listener
                if client.get(f"{service.base_url}/readyz").status_code != 200:
                    return f"{name}/readyz is not open"
                continue
            for headers in ({}, forged):
                answer = client.get(f"{service.base_url}/households", headers=headers)
                if answer.status_code != 401:
                    return f"GET {name}/households with {headers or 'nothing'}: {answer.status_code}"
            if client.get(f"{service.base_url}/readyz").status_code != 200:
                return f"{name}/readyz is not open"

    async def anonymous() -> str:
        try:
            nc = await connect(stack.nats.url, "anonymous", attempts=2)
        except NoCredential:
            return ""
        await nc.close()
        return "an anonymous client connected to the bus"

    return asyncio.run(anonymous())


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stack-smoke-") as tmp:
        var_dir = Path(tmp) / "var"
        # the services' own files (the gateway's issuer key, federation's audit) go there too, not in var/
        os.environ["VAR_DIR"] = str(var_dir)
        try:
            with start_stack(
                var_dir=var_dir, nats_port=free_port(), nats_http_port=free_port(), echo=False
            ) as stack:
                ready = time.monotonic() - started
                names = ", ".join(stack.services)
                problem = login_and_read(stack.base_url("gateway")) if "gateway" in stack.services else ""
                problem = problem or only_the_front_door(stack)
                stack.check_alive()
        except StackError as exc:
            print(f"stack_smoke: the stack did not start: {exc}", file=sys.stderr)
            return 1
        if problem:
            print(f"stack_smoke: {problem}", file=sys.stderr)
            for log in sorted((var_dir / "log").glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
            return 1
    print(
        f"stack_smoke: {names} ready in {ready:.1f} s; a demo {ACCOUNT_ROLE} logged in and read the review"
        f" queue through the gateway; no service port and no bus took a caller without an identity;"
        f" stopped after {time.monotonic() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
