"""Wiring: settings → directory, keys, status book → Application, responder, worker, runtime, HTTP app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI

from federation.api import install_front_door, operator_router, wire_router
from federation.application import FederationApp
from federation.audit import AuditWriter
from federation.handlers import HANDLERS, translate
from federation.inbound import Responder
from federation.index import TenantIndex
from federation.keys import load_private_key
from federation.outbound import PeerClient
from federation.peers import load_directory
from federation.readmodel import load_book
from federation.refusals import RefusalLog
from federation.settings import FederationSettings
from federation.worker import OutboundWorker
from services.kit.clock import Clock
from services.kit.http import create_app
from services.kit.lease import Lease, lease_bucket, run_leased
from services.kit.runtime import Consumes, Runtime


class Loop(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class FederationRuntime(Runtime):
    """The kit's runtime plus federation's own loops.

    `leased` loops (the outbound worker, the audit writer) run in one replica of the city at a time,
    each under its own kit lease (`<service>.outbound`, `<service>.audit`): a standby takes a loop
    over when the replica running it dies. `loops` (the tenant index, which every answering process
    needs) run in every replica."""

    loops: list[Loop] = field(default_factory=list)
    leased: dict[str, Loop] = field(default_factory=dict)

    async def start(self) -> None:
        await super().start()
        for loop in self.loops:
            self._tasks.append(asyncio.create_task(loop.run(self._stop), name=type(loop).__name__))
        if self.leased:
            assert self.nc is not None
            settings = self.app.settings
            kv = await lease_bucket(self.nc.jetstream(), settings.lease_ttl_s, settings.stream_replicas)
            for name, loop in self.leased.items():
                lease = Lease(kv, f"{self.service}.{name}", self.instance, settings.lease_ttl_s)
                task = run_leased(lease, loop.run, self._stop, service=self.service)
                self._tasks.append(asyncio.create_task(task, name=name))


@dataclass
class Node:
    app: FederationApp
    responder: Responder
    client: PeerClient
    worker: OutboundWorker
    audit: AuditWriter
    index: TenantIndex
    runtime: FederationRuntime


def build(
    settings: FederationSettings, env: dict[str, str] | None = None, clock: Clock | None = None
) -> tuple[FastAPI, Node]:
    """`clock` (tests: a `ManualClock`) is the application's, and through it the responder's, the peer
    client's and the refusal log's; without one they follow the process's clock (`services.kit.clock`)."""
    directory = load_directory(settings.federation_peers_file, settings.federation_city)
    private_key = load_private_key(settings.federation_private_key_file)
    app = FederationApp(settings, env, clock)
    book = load_book(settings.federation_data_file, directory, app.clock())
    refusals = RefusalLog(
        settings.refusals_path(),
        settings.federation_refusals_max_bytes,
        settings.federation_refusals_backups,
        clock=app.clock,
    )
    responder = Responder(app, settings, directory, private_key, book, refusals)
    index = TenantIndex(app, book)
    index.catch_up()
    client = PeerClient(settings, directory, private_key, clock=app.clock)
    worker = OutboundWorker(app, client)
    audit = AuditWriter(app, settings.audit_path())
    runtime = FederationRuntime(
        app,
        translate=translate,
        consumes=((Consumes("ELIGIBILITY", HANDLERS),) if settings.federation_consume_checks else ()),
        loops=[index],
        leased={"outbound": worker, "audit": audit},
    )
    api = create_app(
        runtime,
        [operator_router(app, responder)],
        open_routers=[wire_router(responder)],  # peers sign their queries (PROTOCOL.md), not the gateway
        title=f"federation ({settings.federation_city})",
        description="Signed household-status queries between cities (wire protocol: federation/PROTOCOL.md).",
    )
    install_front_door(api, responder)
    return api, Node(app, responder, client, worker, audit, index, runtime)
