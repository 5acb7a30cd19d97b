"""Monitoring's contracts take on the wire only what their JSON schema documents: moments as ISO 8601
strings with an offset, days as `YYYY-MM-DD`, quantities as decimal strings, scores as integers.
Pydantic's lax mode alone took `"at": 0` (Unix seconds: 1970), numeric quantities and day counts, which
the bus and HTTP fuzzers found accepted though the document refuses them. Valid senders are unaffected
(every catalogue sample still round-trips: tests/contracts/test_payloads.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts.monitoring import (
    DoorAccess,
    OccupancyWarningAssigned,
    OccupancyWarningRaised,
    OccupancyWarningWithdrawn,
    UtilityReading,
    ViolationConfirmed,
)
from tests.contracts.samples_monitoring import DECLARED
from tests.contracts.test_payloads import SAMPLES

DOOR = SAMPLES["housing.signals.door-access"]
READING = SAMPLES["housing.signals.utility-reading"]
RAISED = SAMPLES["housing.monitoring.warning-raised"]


def refuses(model: type[BaseModel], payload: dict[str, Any]) -> None:
    """Refused from parsed JSON (how the codec and the signal intake validate) and from JSON text."""
    with pytest.raises(ValidationError):
        model.model_validate(payload)
    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps(payload))


@pytest.mark.parametrize(
    "at",
    [
        0,
        1_762_299_062,
        1.5,
        True,
        "0",
        "1762299062",
        "2026-11-05T07:31:02",  # no offset
        "2026-11-05 07:31:02+08:00",  # not ISO 8601's T
        "2026-11-05T07:31+08:00",  # no seconds (RFC 3339 wants them)
        "2026-11-05",
        "",
        None,
    ],
)
def test_a_door_access_moment_is_an_iso_string_with_offset(at: object) -> None:
    refuses(DoorAccess, {**DOOR, "at": at})


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-05T07:31:02+08:00",
        "2026-11-04T23:31:02Z",
        "2026-11-04T23:31:02.123456Z",
        "2026-11-04t23:31:02z",  # RFC 3339 allows lower case
        "2026-11-04T18:01:02-05:30",
    ],
)
def test_valid_moments_still_pass_and_mean_the_same_instant(at: str) -> None:
    moment = DoorAccess.model_validate({**DOOR, "at": at}).at
    assert moment.tzinfo is not None
    assert abs(moment - datetime(2026, 11, 4, 23, 31, 2, tzinfo=UTC)) < timedelta(seconds=1)


def test_python_senders_still_pass_aware_datetimes_and_decimals() -> None:
    at = datetime(2026, 11, 5, 7, 31, 2, tzinfo=timezone(timedelta(hours=8)))
    door = DoorAccess(**{**DOOR, "at": at})
    assert door.model_dump(mode="json")["at"] == "2026-11-05T07:31:02+08:00"
    with pytest.raises(ValidationError):
        DoorAccess(**{**DOOR, "at": at.replace(tzinfo=None)})
    reading = UtilityReading(**{**READING, "water_m3": Decimal("0.4")})
    assert reading.model_dump(mode="json")["water_m3"] == "0.4"
    raised = OccupancyWarningRaised(**{**RAISED, "raised_on": date(2026, 11, 5)})
    assert raised.raised_on == date(2026, 11, 5)


@pytest.mark.parametrize("value", [12, 0, 0.4, True, "1e3", "-1", "0.4567", "", " 1"])
@pytest.mark.parametrize("field", ["water_m3", "electricity_kwh"])
def test_a_quantity_is_a_decimal_string(field: str, value: object) -> None:
    refuses(UtilityReading, {**READING, field: value})


def test_an_unread_meter_is_null_and_a_read_one_a_string() -> None:
    reading = UtilityReading.model_validate({**READING, "water_m3": None, "electricity_kwh": "12"})
    assert (reading.water_m3, reading.electricity_kwh) == (None, Decimal("12"))


@pytest.mark.parametrize(
    ("model", "payload", "field"),
    [
        (OccupancyWarningRaised, RAISED, "raised_on"),
        (OccupancyWarningAssigned, SAMPLES["housing.monitoring.warning-assigned"], "assigned_on"),
        (ViolationConfirmed, SAMPLES["housing.monitoring.violation-confirmed"], "confirmed_on"),
        (OccupancyWarningWithdrawn, DECLARED["housing.monitoring.warning-withdrawn"], "withdrawn_on"),
    ],
)
@pytest.mark.parametrize("value", [0, 20397, "0", "20261105", "2026-11-05T00:00:00Z", True])
def test_a_day_is_an_iso_date(
    model: type[BaseModel], payload: dict[str, Any], field: str, value: object
) -> None:
    refuses(model, {**payload, field: value})


@pytest.mark.parametrize("score", ["87", 87.0, True, None])
def test_a_risk_score_is_an_integer(score: object) -> None:
    refuses(OccupancyWarningRaised, {**RAISED, "risk_score": score})
