"""HTTP: the wire endpoints peers call, our public keys, and operator views of the exchange log.

The wire endpoints read the raw body and headers themselves (the signature covers bytes, not parsed
JSON) and hand them to `Responder`; they answer with exactly its status, headers and bytes. Operator
and internal routes are for the gateway and the intake, not for peers (PROTOCOL.md lists only the
wire routes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from contracts.federation import PeerSubject
from federation.application import FederationApp
from federation.inbound import Refused, Responder, problem
from federation.keys import public_x
from federation.signing import Headers
from services.kit.http import Problem


class SubjectsIn(BaseModel):
    subjects: list[PeerSubject] = Field(description="Per member, per peer city: the pair's id_hash.")


def _reply(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
    response = Response(content=body, status_code=status)
    for name, value in headers:
        response.headers[name] = value
    return response


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def wire_router(responder: Responder) -> APIRouter:
    router = APIRouter(prefix="/federation/v1", tags=["federation wire protocol v1"])
    limit = responder.settings.federation_max_body_bytes

    async def handle(request: Request, batch: bool) -> Response:
        body = await _read(request, limit)
        headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
        path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        if body is None:
            refused = Refused(413, "too-large", "Request too large", f"at most {limit} bytes")
            await run_in_threadpool(
                responder.app.record_rejection, None, 413, refused.detail, {"path": path, "headers": {}}
            )
            reply = problem(refused)
        else:
            # In the event loop, not a thread: the work is CPU (signatures) plus one short local insert,
            # and threads would only add GIL contention and hand-offs (see bench/federation.py).
            reply = responder.handle(path, headers, body, batch=batch)
        return _reply(reply.status, reply.headers, reply.body)

    @router.post("/household-status", summary="Status of one subject (signed request, signed answer)")
    async def household_status(request: Request) -> Response:
        return await handle(request, batch=False)

    @router.post("/household-status:batch", summary="Status of up to BATCH_MAX subjects of one case")
    async def household_status_batch(request: Request) -> Response:
        return await handle(request, batch=True)

    @router.get("/keys", summary="Our public keys (JWK set) with validity windows")
    async def keys() -> dict[str, Any]:
        return {"keys": jwks(responder)}

    return router


def jwks(responder: Responder) -> list[dict[str, Any]]:
    """Keys from our own directory entry (with windows), plus the signing key if it is not listed."""
    me = responder.directory.me
    current = public_x(responder.private_key.public_key())
    city = responder.settings.federation_city
    listed = [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": key.x,
            "kid": key.key_id,
            "use": "sig",
            "alg": "EdDSA",
            "city": city,
            "nbf": int(key.not_before.timestamp()),
            "exp": int(key.not_after.timestamp()),
        }
        for key in (me.keys if me else ())
    ]
    if all(k["x"] != current for k in listed):
        listed.append(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": current,
                "kid": f"{city}-current",
                "use": "sig",
                "alg": "EdDSA",
                "city": city,
            }
        )
    return listed


def operator_router(app: FederationApp) -> APIRouter:
    router = APIRouter(prefix="/federation/v1", tags=["operators"])

    @router.get("/exchanges", summary="The most recent federation events, newest first")
    def exchanges(limit: int = 50) -> list[dict[str, Any]]:
        limit = max(1, min(limit, 500))
        last = app.process_recorder.max_notification_id() or 0
        notifications = app.notification_log.select(start=max(1, last - limit + 1), limit=limit)
        out = []
        for n in reversed(notifications):
            event = app.mapper.to_domain_event(n)
            entry: dict[str, Any] = {
                "seq": n.id,
                "kind": n.topic.rsplit(".", 1)[-1],
                "id": str(n.originator_id),
            }
            for name in (
                "city",
                "claimed_city",
                "status",
                "reason",
                "result",
                "query_ids",
                "purpose",
                "matches",
            ):
                if hasattr(event, name):
                    entry[name] = getattr(event, name)
            entry["at"] = str(getattr(event, "timestamp", datetime.now(UTC)))
            out.append(entry)
        return out

    @router.get("/checks/{check_id}", summary="The per-city results of one cross-region check")
    def check(check_id: UUID) -> dict[str, Any]:
        found = app.check(check_id)
        if found is None:
            raise Problem(404, "Unknown check", str(check_id))
        return {
            "check_id": str(check_id),
            "household_id": str(found.household_id),
            "cities": found.cities,
            "results": found.results,
            "pending": found.pending_cities,
        }

    @router.put(
        "/households/{household_id}/subjects", status_code=204, summary="Per-peer subject hashes (intake)"
    )
    def subjects(household_id: UUID, body: SubjectsIn) -> Response:
        app.record_subjects(household_id, [s.model_dump(mode="json") for s in body.subjects])
        return Response(status_code=204)

    return router
