"""The console's words and formats on their own: every code the services' contracts can answer has
words in both languages, money is exact (Decimal, never float) as ¥12,345.00, dates read in the
reader's language, nested values never come out as JSON, and the services' sentences are said again
with their figures; the legal basis of every seeded rule names a regulation, not a file."""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, get_args

import pytest

from contracts import eligibility, federation, monitoring, penalties, resettlement, training
from gateway.readable import Reader, money
from gateway.settings import GatewaySettings
from gateway.wording import WORDS, known, word
from services.eligibility import rules
from services.resettlement.domain import CASE_STATES, UNIT_STATES
from services.training.domain import ReferralState

VOCABULARIES: list[Any] = [
    rules.Outcome,
    rules.Status,
    eligibility.ReviewOutcome,
    eligibility.ExitRoute,
    eligibility.ProposedOutcome,
    monitoring.Condition,
    monitoring.ViolationKind,
    monitoring.CredentialKind,
    federation.Result,
    training.ReferralSource,
    training.Verifier,
    ReferralState,
    penalties.SanctionKind,
    penalties.Violation,
    penalties.BasisKind,
    resettlement.PlacementClass,
    resettlement.Pool,
]
STATES = [
    "open",
    "proposed",
    "assessment",
    "appealed",
    "decided",
    "active",
    "issued",
    "notice_served",
    "executed",
    "lifted",
    "withdrawn",
    "overdue",
    "exited",
    "upheld",
    "dismissed",
    "raised",
    "assigned",
    "confirmed",
    "rectified",
    "unmatched",
    "attributed",
]


def test_every_code_of_the_contracts_has_words_in_both_languages() -> None:
    codes = {str(c) for vocabulary in VOCABULARIES for c in get_args(vocabulary)}
    codes |= set(UNIT_STATES) | set(CASE_STATES) | set(STATES) | set(rules.EXIT_RULES)
    missing = sorted(c for c in codes if not known(c))
    assert not missing, missing
    for code in codes:
        zh, en = word(code, "zh"), word(code, "en")
        assert zh != code and re.search(r"[\u4e00-\u9fff]", zh), (code, zh)
        assert en and "_" not in en, (code, en)


def test_each_chinese_word_is_chinese_and_each_english_one_is_not_a_code() -> None:
    for code, (zh, en) in WORDS.items():
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert not re.fullmatch(r"[a-z]+(_[a-z]+)+", en), code


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("12345.00", "¥12,345.00"),
        ("12345", "¥12,345.00"),
        (12345, "¥12,345.00"),
        (Decimal("6172.5"), "¥6,172.50"),
        ("0.10", "¥0.10"),
        (0.1, "¥0.10"),  # a float's shortest text, exactly: never 0.1000000000000000055...
        ("-5000.00", "-¥5,000.00"),
        ("1234567.89", "¥1,234,567.89"),
        ("***", "***"),  # masked for a role without personal:read
        (None, "—"),
    ],
)
def test_money_is_exact_and_grouped(value: object, shown: str) -> None:
    assert money(value) == shown


def test_dates_months_and_instants_in_the_readers_language() -> None:
    zh, en = Reader("zh"), Reader("en")
    assert zh.day("2026-11-27") == "2026年11月27日" and en.day("2026-11-27") == "27 Nov 2026"
    assert zh.month("2027-03") == "2027年3月" and en.month("2027-03") == "Mar 2027"
    # timestamps in the city's local time (Foshan, UTC+8): 20:30 UTC is the next morning there
    assert zh.when("2026-11-27T20:30:00+00:00") == "2026年11月28日 04:30"
    assert en.when("2026-11-27T20:30:00Z") == "28 Nov 2026, 04:30"


def test_nested_values_read_as_words_and_tables_never_json() -> None:
    r = Reader("zh")
    states = str(r.show({"free": 3, "occupied": 10}))
    assert "空置可分配: 3" in states and "已入住: 10" in states and "{" not in states
    employment = str(r.show({"employer": "Midea", "start_date": "2027-05-01", "stable": False}))
    assert "用人单位" in employment and "2027年5月1日" in employment and "否" in employment
    lines = str(r.show([{"month": "2027-03", "rent": "13579.50"}]))
    assert "<table" in lines and "2027年3月" in lines and "¥13,579.50" in lines
    nested = str(r.show({"query_ids": ["q-1", "q-2"]}))
    assert str(r.show([])) == "—" and "q-1、q-2" in nested and "[" not in nested


def test_the_services_sentences_are_said_again_with_their_figures() -> None:
    zh, en = Reader("zh"), Reader("en")
    rule = {
        "comparison": "4200.00 > 3960.00 yuan/person/month: exit condition met",
        "unit": "yuan/person/month",
    }
    assert zh.rule_text(rule) == "¥4,200.00 > ¥3,960.00：达到退出条件"
    assert en.rule_text(rule) == "¥4,200.00 > ¥3,960.00: exit condition met"
    masked = {
        "comparison": "*** > 3960.00 yuan/person/month: exit condition met",
        "unit": "yuan/person/month",
    }
    assert zh.rule_text(masked) == "*** > ¥3,960.00：达到退出条件"
    division = {
        "comparison": "(3000.00 + 5000.00) / 2 members = 4000.00 > 3960.00 yuan/person/month: "
        "exit condition met",
        "unit": "yuan/person/month",
    }
    assert zh.rule_text(division).startswith("(¥3,000.00 + ¥5,000.00) / 2 人 = ¥4,000.00 > ¥3,960.00")
    missing = {"comparison": "no financial assets reported on or before 2026-11-27", "unit": "yuan"}
    assert zh.rule_text(missing) == "截至 2026年11月27日 未报送金融资产"
    cross = {"comparison": "match in CN-GZ (Guangzhou): holds subsidised housing", "unit": ""}
    assert zh.rule_text(cross) == "外市有记录：广州：在外市享有保障房"
    assert zh.say("Sanction imposed: rent_surcharge for sublet") == "作出处罚：加收租金（转租）"
    assert (
        en.say("Sanction imposed: rent_surcharge for sublet") == "Sanction imposed: Rent surcharge for sublet"
    )
    assert zh.say("Tenancy recorded: base rent 12345.00 yuan") == "登记租约：基准租金 ¥12,345.00"
    assert zh.say("automated review: exit condition met (income_per_capita, housing_area)") == (
        "自动初审：达到退出条件（人均月收入、家庭自有住房面积）"
    )
    typed = "Tenant says the lodger is her brother; checked on site"
    assert zh.say(typed) == typed  # an operator's own words are shown as typed


def test_the_seeded_legal_basis_names_a_regulation_not_a_file() -> None:
    table = rules.load_table()
    for value in table.values:
        reference = value.legal_reference
        assert not re.search(r"\.(md|ya?ml|py|txt)\b|seed/|BRIEF", reference), (value.rule, reference)
    exit_rules = [v for v in table.values if v.rule in rules.EXIT_RULES]
    assert exit_rules and all("佛山市公共租赁住房管理办法" in v.legal_reference for v in exit_rules)
    assert not re.search(r"\.md\b|seed/", rules.CROSS_REGION_REFERENCE)


@pytest.mark.parametrize(
    ("configured", "link"),
    [
        (None, None),
        ("", None),
        ("http://jaeger.test/trace/", "http://jaeger.test/trace/0af7651916cd43dd8448eb211c80319c"),
        ("http://jaeger.test/trace", "http://jaeger.test/trace/0af7651916cd43dd8448eb211c80319c"),
        (
            "https://t.example/?id={trace_id}&x=1",
            "https://t.example/?id=0af7651916cd43dd8448eb211c80319c&x=1",
        ),
    ],
)
def test_the_trace_link_is_the_configured_tracing_ui(configured: str | None, link: str | None) -> None:
    settings = GatewaySettings(tracing_ui_url=configured)
    assert settings.trace_link("0af7651916cd43dd8448eb211c80319c") == link
