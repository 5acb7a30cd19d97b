"""The kit's orjson transcoder writes and reads exactly the library's stdlib JSON, so stores written
before it (and any written by the library's own `JSONTranscoder`) load unchanged."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoder, TranscodingNotRegisteredError
from eventsourcing.persistence import UUIDAsHex as LibraryUUIDAsHex

from services.kit.settings import ServiceSettings
from services.kit.store import DateAsISO, FastJSONTranscoder, ServiceApplication, UUIDAsHex
from tests.kit.sample import FactReport, Feed, Tally, TallyApp


class Colour(StrEnum):
    RED = "red"


def transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    """The library's stdlib transcoder and ours, with the transcodings every service registers."""
    app = ServiceApplication.__new__(ServiceApplication)
    stdlib, fast = JSONTranscoder(), FastJSONTranscoder()
    Application.register_transcodings(app, stdlib)  # the library's own UUID, Decimal, datetime
    stdlib.register(DateAsISO())
    ServiceApplication.register_transcodings(app, fast)
    return stdlib, fast


STATES: list[Any] = [
    {
        "timestamp": datetime(2026, 11, 27, 13, 21, 18, 278740, tzinfo=UTC),
        "household_id": UUID("9db0677418e141b8a648f32759bad5a8"),
        "described_on": date(2026, 11, 27),
        "fact": {"kind": "income", "monthly_income": Decimal("3658.92")},
        "amounts": [Decimal("0.10"), Decimal("-1E+3"), Decimal("12345678901234567890.123456789")],
        "rules": [{"sources": [{"on": date(2020, 1, 1)}], "threshold": None, "hit": True}],
        "cities": ("CN-GZ", "CN-DG"),
        "text": 'Foshan 佛山 "quoted" \\ back\nslash \u2028 \U0001f3e0',
        "naive": datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 (stored as written)
        "offset": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=8))),
        "counts": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1],
        "ratio": 0.1,
        "small": 1e-300,
        "big": 1e16,
        "empty": {},
        "none": [],
    },
    [UUID("3f2b8c1e-9d4a-4c7e-8b1f-5a6d7e8f9a0b"), [date(1999, 12, 31), [Decimal("1")]]],
    {"nested": {"_type_": "uuid_hex", "_data_": "c0ffee00c0ffee00c0ffee00c0ffee00"}},
    {"__trace__": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
    # What orjson would write or read differently: the library's encoder and decoder handle these.
    {"huge": 2**64, "negative_huge": -(2**63) - 1},
    {"nan": math.nan, "inf": math.inf, "ninf": -math.inf},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    {"colour": Colour.RED, "reason": Colour.RED},
    "a string",
    12,
    None,
]


@pytest.mark.parametrize("state", STATES, ids=range(len(STATES)))
def test_writes_what_the_library_writes_and_reads_what_it_reads(state: Any) -> None:
    stdlib, fast = transcoders()
    written = stdlib.encode(state)
    assert fast.encode(state) == written
    assert _same(fast.decode(written), stdlib.decode(written))


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (1 == 1.0 == True is not good enough), NaN included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def test_types_without_a_transcoding_are_refused_as_the_library_refuses_them() -> None:
    stdlib, fast = transcoders()
    for transcoder in (stdlib, fast):
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.encode({"when": timedelta(days=1)})
        with pytest.raises(TypeError):
            transcoder.encode({UUID(int=1): "a UUID as a key"})
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.decode(b'{"x":{"_type_":"unknown","_data_":1}}')
        with pytest.raises(ValueError):
            transcoder.decode(b'{"x": ')


class _StdlibFeed(Feed):
    """The feed as it was before the kit encoded with orjson: the library's stdlib transcoder."""

    name = "Feed"

    def construct_transcoder(self) -> Transcoder:
        transcoder = JSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


class _StdlibTally(TallyApp):
    name = "Tally"  # the library names an application after its class: same tables as TallyApp's

    def construct_transcoder(self) -> Transcoder:
        transcoder = JSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


def test_a_store_written_with_the_stdlib_transcoder_loads(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    old = _StdlibFeed(ServiceSettings(service_name="feed", var_dir=tmp_path), persistence)
    household = uuid4()
    report_id = old.report("ref-1", household, Decimal("3960.10"))
    written = [old.mapper.to_domain_event(stored) for stored in old.recorder.select_events(report_id)]
    old.close()

    new = Feed(ServiceSettings(service_name="feed", var_dir=tmp_path), persistence)
    assert isinstance(new.mapper.transcoder, FastJSONTranscoder)
    report: FactReport = new.repository.get(report_id)
    assert (report.reference, report.household_id, report.monthly_income) == (
        "ref-1",
        household,
        Decimal("3960.10"),
    )
    assert isinstance(report.monthly_income, Decimal)
    assert isinstance(report.household_id, UUID)
    read = [new.mapper.to_domain_event(stored) for stored in new.recorder.select_events(report_id)]
    assert [e.__dict__ for e in read] == [e.__dict__ for e in written]
    new.close()


def test_events_written_by_the_kit_read_back_with_the_stdlib_transcoder(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    settings = ServiceSettings(service_name="tally", var_dir=tmp_path)
    new = TallyApp(settings, persistence)
    tally = Tally(uuid4())
    tally.count("a")
    tally.count("b")
    new.save(tally)
    stored = list(new.recorder.select_events(tally.id))
    new.close()

    old = _StdlibTally(settings, persistence)
    reloaded: Tally = old.repository.get(tally.id)
    assert reloaded.references == ["a", "b"]
    assert reloaded.household_id == tally.household_id
    assert [s.state for s in old.recorder.select_events(tally.id)] == [s.state for s in stored]
    old.close()


@pytest.mark.parametrize(
    "spelling",
    [
        *(u.hex for u in (UUID("3f2b8c1e-9d4a-4c7e-8b1f-5a6d7e8f9a0b"), UUID(int=0), UUID(int=2**128 - 1))),
        "{" + "0" * 32 + "}",
        "12345678-1234-5678-1234-567812345678",
        "urn:uuid:12345678123456781234567812345678",
        "x" * 32,
        "0" * 31,
        "é" * 32,
    ],
)
def test_uuids_decode_as_the_library_decodes_them(spelling: str) -> None:
    ours, library = UUIDAsHex(), LibraryUUIDAsHex()
    try:
        expected: UUID | type[Exception] = library.decode(spelling)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError):
            ours.decode(spelling)
        return
    decoded = ours.decode(spelling)
    assert isinstance(expected, UUID)
    assert (decoded, hash(decoded), str(decoded), decoded.is_safe) == (
        expected,
        hash(expected),
        str(expected),
        expected.is_safe,
    )
    assert ours.encode(decoded) == library.encode(expected)
