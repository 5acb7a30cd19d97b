"""Wiring: settings → directory, keys, status book → Application, responder, worker, runtime, HTTP app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI

from federation.api import operator_router, wire_router
from federation.application import FederationApp
from federation.audit import AuditWriter
from federation.handlers import HANDLERS, translate
from federation.inbound import Responder
from federation.index import TenantIndex
from federation.keys import load_private_key
from federation.outbound import PeerClient
from federation.peers import load_directory
from federation.readmodel import load_book
from federation.settings import FederationSettings
from federation.worker import OutboundWorker
from services.kit.http import create_app
from services.kit.runtime import Consumes, Runtime


class Loop(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class FederationRuntime(Runtime):
    """The kit's runtime plus federation's own loops: the outbound worker and the audit writer."""

    loops: list[Loop] = field(default_factory=list)

    async def start(self) -> None:
        await super().start()
        for loop in self.loops:
            self._tasks.append(asyncio.create_task(loop.run(self._stop), name=type(loop).__name__))


@dataclass
class Node:
    app: FederationApp
    responder: Responder
    client: PeerClient
    worker: OutboundWorker
    audit: AuditWriter
    index: TenantIndex
    runtime: FederationRuntime


def build(settings: FederationSettings, env: dict[str, str] | None = None) -> tuple[FastAPI, Node]:
    directory = load_directory(settings.federation_peers_file, settings.federation_city)
    private_key = load_private_key(settings.federation_private_key_file)
    app = FederationApp(settings, env)
    book = load_book(settings.federation_data_file, directory)
    responder = Responder(app, settings, directory, private_key, book)
    index = TenantIndex(app, book)
    index.catch_up()
    client = PeerClient(settings, directory, private_key)
    worker = OutboundWorker(app, client)
    audit = AuditWriter(app, settings.audit_path())
    runtime = FederationRuntime(
        app,
        translate=translate,
        consumes=((Consumes("ELIGIBILITY", HANDLERS),) if settings.federation_consume_checks else ()),
        loops=[worker, audit, index],
    )
    api = create_app(
        runtime,
        [wire_router(responder), operator_router(app)],
        title=f"federation ({settings.federation_city})",
        description="Signed household-status queries between cities (wire protocol: federation/PROTOCOL.md).",
    )
    return api, Node(app, responder, client, worker, audit, index, runtime)
