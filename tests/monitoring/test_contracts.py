"""Monitoring's contracts: signals on SIGNALS (bare JSON), warnings on MONITORING, no personal identifiers,
and signal validation (the round trips of every sample are in tests/contracts/test_payloads.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts.catalogue import EVENTS, STREAMS, EventSpec
from contracts.monitoring import DoorAccess, UtilityReading
from services.kit.bus import connect, ensure_streams
from tests.contracts.test_payloads import FORBIDDEN_FIELD, SAMPLES, nats_subset
from tests.support.nats import NatsServer

MONITORING_EVENTS = [spec for spec in EVENTS if spec.context in ("monitoring", "signals")]


@pytest.mark.parametrize("spec", MONITORING_EVENTS, ids=lambda s: s.type)
def test_each_subject_is_in_exactly_one_stream(spec: EventSpec) -> None:
    owners = [s.name for s in STREAMS for f in s.subjects if nats_subset(spec.subject, f)]
    assert owners == (["SIGNALS"] if spec.context == "signals" else ["MONITORING"])
    assert spec.enveloped is (spec.context != "signals")


def test_no_personal_identifiers_in_monitoring_contracts() -> None:
    models: list[type[BaseModel]] = [spec.payload for spec in MONITORING_EVENTS]
    fields = [f"{m.__name__}.{f}" for m in models for f in m.model_fields if FORBIDDEN_FIELD.search(f)]
    assert fields == []


@pytest.mark.parametrize(
    "changes",
    [
        {"water_m3": 0.4},
        {"water_m3": "-1"},
        {"water_m3": "1e3"},
        {"month": "2026-13"},
    ],
)
def test_utility_readings_are_exact_decimals(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        UtilityReading.model_validate({**SAMPLES["housing.signals.utility-reading"], **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"at": "2026-11-05T07:31:02"},
        {"direction": "both"},
        {"credential_id": "has space"},
        {"credential_kind": "pin"},
    ],
)
def test_door_access_refuses(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DoorAccess.model_validate({**SAMPLES["housing.signals.door-access"], **changes})


async def test_the_kit_creates_the_signals_stream(nats_server: NatsServer) -> None:
    nc = await connect(nats_server.url, "test", identity="admin")
    try:
        assert "SIGNALS" in await ensure_streams(nc.jetstream())
        info = await nc.jetstream().stream_info("SIGNALS")
        assert info.config.subjects == ["housing.signals.>"]
    finally:
        await nc.close()
