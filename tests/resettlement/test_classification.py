"""The classification rule and the waitlist priority rule, with their parameters (no storage)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.resettlement.application import read_pools_file
from services.resettlement.domain import PARAMETERS_FILE, classify, load_policy, priority
from services.resettlement.settings import FOSHAN_POOLS, ResettlementSettings

POLICY = load_policy(PARAMETERS_FILE).in_force(date(2026, 11, 2))
ON = date(2026, 11, 2)


def member(birth: date, disabled: bool = False) -> dict[str, Any]:
    return {"member_id": uuid4(), "birth_date": birth, "disabled": disabled}


def test_defaults_come_from_the_parameters_file() -> None:
    assert (POLICY.elderly_age, POLICY.loan_rate_discount_pp, POLICY.offer_days, POLICY.max_offers) == (
        60,
        Decimal("0.50"),
        14,
        2,
    )


@pytest.mark.parametrize(
    ("low_income", "wants_to_buy", "members", "expected"),
    [
        (True, False, [member(date(1990, 1, 1))], "special_hardship"),
        (True, True, [member(date(1990, 1, 1))], "special_hardship"),  # low income cannot buy
        (False, True, [member(date(1966, 11, 2))], "special_hardship"),  # 60 on the decision day
        (False, True, [member(date(1966, 11, 3))], "purchase"),  # 60 the day after
        (False, False, [member(date(1990, 1, 1), disabled=True)], "special_hardship"),
        (False, True, [member(date(1990, 1, 1))], "purchase"),
        (False, False, [member(date(1990, 1, 1))], "market_rental"),
        (False, False, None, "market_rental"),  # members unknown here: said so in the reasons
    ],
)
def test_classes(
    low_income: bool, wants_to_buy: bool, members: list[dict[str, Any]] | None, expected: str
) -> None:
    found = classify(
        low_income=low_income, wants_to_buy=wants_to_buy, members=members, decided_on=ON, policy=POLICY
    )
    assert found.placement_class == expected
    assert found.pool == {"special_hardship": "transitional", "purchase": "affordable"}.get(expected)
    assert len(found.reasons) == 6 and found.reasons[-1].startswith("policy in force since 2020-01-01")


def test_the_reasons_say_what_was_met() -> None:
    found = classify(
        low_income=False,
        wants_to_buy=False,
        members=[member(date(1950, 1, 1)), member(date(1980, 1, 1), disabled=True), member(date(2010, 1, 1))],
        decided_on=ON,
        policy=POLICY,
    )
    assert found.vulnerable
    assert found.reasons[:3] == (
        "low income (exit decision): no",
        "member aged 60 or more on 2026-11-02: yes (1 of 3)",
        "member disabled: yes (1 of 3)",
    )


def test_thresholds_are_parameters_and_dated(tmp_path: Path) -> None:
    file = tmp_path / "placement.yaml"
    file.write_text(
        PARAMETERS_FILE.read_text(encoding="utf-8")
        + """  - effective_from: 2027-01-01
    elderly_age: 65
    loan_rate_discount_pp: "0.75"
    offer_days: 7
    max_offers: 1
    legal_reference: a later measure
"""
    )
    book = load_policy(file)
    sixty_two = [member(date(1964, 6, 1))]
    before = classify(
        low_income=False, wants_to_buy=True, members=sixty_two, decided_on=ON, policy=book.in_force(ON)
    )
    after_day = date(2027, 2, 1)
    after = classify(
        low_income=False,
        wants_to_buy=True,
        members=sixty_two,
        decided_on=after_day,
        policy=book.in_force(after_day),
    )
    assert (before.placement_class, after.placement_class) == ("special_hardship", "purchase")
    assert book.in_force(after_day).loan_rate_discount_pp == Decimal("0.75")
    assert replace(book.in_force(ON), legal_reference="x").elderly_age == 60


def test_waitlist_priority_rule() -> None:
    a, b = UUID(int=1), UUID(int=2)
    keys = {
        "vulnerable, late": priority(
            declines=0, vulnerable=True, low_income=False, decided_on=date(2026, 12, 1), household_id=b
        ),
        "low income, early": priority(
            declines=0, vulnerable=False, low_income=True, decided_on=date(2026, 1, 1), household_id=a
        ),
        "neither, early": priority(
            declines=0, vulnerable=False, low_income=False, decided_on=date(2026, 1, 1), household_id=a
        ),
        "neither, early, b": priority(
            declines=0, vulnerable=False, low_income=False, decided_on=date(2026, 1, 1), household_id=b
        ),
        "vulnerable, declined once": priority(
            declines=1, vulnerable=True, low_income=True, decided_on=date(2025, 1, 1), household_id=a
        ),
    }
    assert sorted(keys, key=keys.__getitem__) == [
        "vulnerable, late",
        "low income, early",
        "neither, early",
        "neither, early, b",
        "vulnerable, declined once",
    ]


def test_pools_files_yaml_and_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Foshan's file holds 86 transitional and 120 affordable-for-sale units; CSV reads the same."""
    units = read_pools_file(FOSHAN_POOLS)
    assert Counter(u.pool for u in units) == {"transitional": 86, "affordable": 120}
    assert len({(u.pool, u.estate, u.building, u.unit) for u in units}) == 206
    csv_file = tmp_path / "pools.csv"
    lines = ["# a comment", "pool,estate,building,unit,area_m2"]
    lines += [
        f"{u.pool},{u.estate},{u.building},{u.unit},{'' if u.area_m2 is None else u.area_m2}" for u in units
    ]
    csv_file.write_text("\n".join(lines) + "\n")
    assert read_pools_file(csv_file) == units
    csv_file.write_text("pool,estate,building,unit,area_m2\nrental,A,1,1,\n")
    with pytest.raises(ValueError, match="unknown pool"):
        read_pools_file(csv_file)
    # The compose file names the file relative to the repository; empty loads nothing.
    monkeypatch.chdir(tmp_path)
    relative = ResettlementSettings(resettlement_pools_file="infra/resettlement/foshan-pools.yaml")  # type: ignore[arg-type]
    assert relative.resettlement_pools_file == FOSHAN_POOLS
    assert ResettlementSettings(resettlement_pools_file="").resettlement_pools_file is None  # type: ignore[arg-type]
