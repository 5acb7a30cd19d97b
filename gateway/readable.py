"""Values as an operator reads them: money as ¥12,345.00 (Decimal, never float), dates in the reader's
language, codes as words, generated sentences translated, and nested answers as small tables or
"label: value" lines, never a JSON literal.

The services answer machine-shaped JSON (amounts as decimal text, ISO dates, codes, lists of objects);
the console renders every value through one `Reader` per page (its language and the city's UTC
offset), so that each page shows the same thing the same way and a new field of a service shows up
readable without a template change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from gateway import explain, phrases
from gateway.wording import field, known, word

CITY_ZONE = ZoneInfo("Asia/Shanghai")

DASH = "—"
MASK = "***"
CENT = Decimal("0.01")
EMPTY = Markup("—")
JOIN = {"zh": Markup("、"), "en": Markup(", ")}

MONEY_KEYS = frozenset(
    {
        "base_rent",
        "rent",
        "total_due",
        "amount",
        "yuan",
        "monthly_income",
        "monthly_subsidy",
        "subsidy",
        "income",
        "financial_assets",
        "assets",
    }
)
"""Fields whose decimal text is an amount of yuan."""

RATE_KEYS = frozenset({"rate", "surcharge_rate", "monthly_rise"})
"""Fields whose decimal text is a share (0.50 = 50 %)."""

HIDDEN_KEYS = frozenset({"adjustment_id", "version", "person_hash"})
"""Internal identifiers that say nothing to an operator, left out of nested views."""

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_/-]*$")


def decimal(value: object) -> Decimal | None:
    """Exact decimal of a service's amount (decimal text or an int); None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))  # never arithmetic on the float: its shortest text, exactly
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def money(value: object) -> str:
    """¥12,345.00; a masked amount stays `***`; something that is not an amount is shown as it is."""
    if value in (None, ""):
        return DASH
    amount = decimal(value)
    if amount is None:
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def number(value: object) -> str:
    """A count with thousands separators (12,345); a decimal keeps its digits."""
    amount = decimal(value)
    if amount is None:
        return str(value)
    if amount == amount.to_integral_value() and "." not in str(value):
        return f"{int(amount):,}"
    return f"{amount:,}"


def percent(value: object) -> str:
    """0.50 → 50 %."""
    share = decimal(value)
    if share is None:
        return str(value)
    shown = (share * 100).normalize()
    return f"{shown:f} %"


def day(value: object, lang: str) -> str:
    """2026-11-27 → 2026年11月27日 / 27 Nov 2026."""
    if value in (None, ""):
        return DASH
    text = str(value)
    try:
        found = date.fromisoformat(text[:10])
    except ValueError:
        return text
    if lang == "en":
        return f"{found.day} {MONTHS_EN[found.month - 1]} {found.year}"
    return f"{found.year}年{found.month}月{found.day}日"


def month(value: object, lang: str) -> str:
    """2027-03 → 2027年3月 / Mar 2027."""
    text = str(value)
    if not _MONTH.match(text):
        return text
    year, number_ = int(text[:4]), int(text[5:7])
    return f"{MONTHS_EN[number_ - 1]} {year}" if lang == "en" else f"{year}年{number_}月"


def instant(value: object, lang: str, zone: tzinfo = CITY_ZONE) -> str:
    """An ISO timestamp in the city's local time, to the minute, in the reader's language."""
    if value in (None, ""):
        return DASH
    text = str(value)
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    local = found.astimezone(zone)
    return f"{day(local.date().isoformat(), lang)}{', ' if lang == 'en' else ' '}{local:%H:%M}"


def short_id(value: str) -> Markup:
    """An id shortened to its first 8 characters, the whole id in the tooltip."""
    return Markup('<code title="{0}">{1}</code>').format(value, value[:8])


class Reader:
    """How one page shows values: in `lang`, with timestamps in the city's local time."""

    def __init__(self, lang: str, zone: tzinfo = CITY_ZONE) -> None:
        self.lang, self.zone = lang, zone

    # -- words ------------------------------------------------------------------------------------

    def word(self, code: object) -> str:
        return DASH if code in (None, "") else word(code, self.lang)

    def label(self, key: str, value: object = None) -> str:
        """A field's name (a list-valued field may read differently)."""
        return field(key, self.lang, many=isinstance(value, list | tuple))

    def say(self, text: object) -> str:
        """A sentence a service generated, in the reader's language (as written when no pattern
        knows it; a code alone becomes its words)."""
        if text in (None, ""):
            return ""
        sentence = str(text)
        if known(sentence) and _CODE.match(sentence):
            return self.word(sentence)
        return phrases.say(sentence, self)

    # -- scalars ----------------------------------------------------------------------------------

    def money(self, value: object) -> str:
        return money(value)

    def day(self, value: object) -> str:
        return day(value, self.lang)

    def month(self, value: object) -> str:
        return month(value, self.lang)

    def when(self, value: object) -> str:
        return instant(value, self.lang, self.zone)

    def yes_no(self, value: object) -> str:
        return self.word("true" if value else "false")

    def amount(self, value: object, unit: str | None) -> str:
        """A rule's or a fact's figure in its unit: yuan as money, m² and days with their unit."""
        if value in (None, ""):
            return DASH
        if str(value) == MASK:
            return MASK
        if unit and unit.startswith("yuan"):
            return money(value)  # a rate's "per person a month" is the rule's name's to say
        if unit in ("m2", "days"):
            return f"{number(value)} {self.word(unit)}"
        return number(value) if decimal(value) is not None else str(value)

    def scalar(self, value: object, key: str = "") -> str | Markup:
        """One value as text (Markup for a shortened id)."""
        if value is None or value == "":
            return DASH
        if isinstance(value, bool):
            return self.yes_no(value)
        if isinstance(value, int | float | Decimal):
            if key in RATE_KEYS:
                return percent(value)
            return money(value) if key in MONEY_KEYS else number(value)
        text = str(value)
        if text == MASK:
            return MASK
        if key in MONEY_KEYS:
            return money(text)
        if key in RATE_KEYS:
            return percent(text)
        if key.endswith("_pp") and decimal(text) is not None:
            return f"{text} {'percentage points' if self.lang == 'en' else '个百分点'}"
        if _UUID.match(text):
            return short_id(text)
        if _INSTANT.match(text):
            return self.when(text)
        if _DAY.match(text):
            return self.day(text)
        if _MONTH.match(text):
            return self.month(text)
        if key and known(f"{key}={text}"):
            return self.word(f"{key}={text}")  # a code that reads differently in this field
        if _CODE.match(text) and known(text):
            return self.word(text)
        return self.say(text)

    # -- anything ---------------------------------------------------------------------------------

    def show(self, value: Any, key: str = "", hide: Iterable[str] = ()) -> Markup:
        """Any value of a service's answer as HTML: scalars as text, an object as "label: value" lines
        (a flat object of counts on one line), a list of objects as a small table."""
        hidden = frozenset(hide) | HIDDEN_KEYS
        if isinstance(value, Mapping):
            items = [(str(k), v) for k, v in value.items() if str(k) not in hidden]
            if not items:
                return EMPTY
            if all(isinstance(v, int | float) and not isinstance(v, bool) for _, v in items):
                parts = [Markup("{0}: {1}").format(self.word(k), number(v)) for k, v in items]
                return Markup('<span class="kv-line">{0}</span>').format(Markup(" · ").join(parts))
            lines = [
                Markup("<dt>{0}</dt><dd>{1}</dd>").format(self.label(k, v), self.show(v, k, hidden))
                for k, v in items
            ]
            return Markup('<dl class="kv">{0}</dl>').format(Markup("").join(lines))
        if isinstance(value, list | tuple):
            if not value:
                return EMPTY
            if all(isinstance(v, Mapping) for v in value):
                return self.table(list(value), hide=hidden)
            shown = [self.show(v, key, hidden) for v in value]
            short = all(not isinstance(v, Mapping | list | tuple) and len(str(v)) <= 24 for v in value)
            if short and len(value) <= 6:
                return JOIN.get(self.lang, JOIN["en"]).join(shown)
            return Markup('<ul class="lines">{0}</ul>').format(
                Markup("").join(Markup("<li>{0}</li>").format(s) for s in shown)
            )
        shown_scalar = self.scalar(value, key)
        if key == "household_id" and isinstance(value, str) and _UUID.match(value):
            return Markup('<a href="/console/households/{0}">{1}</a>').format(value, value[:8])
        return shown_scalar if isinstance(shown_scalar, Markup) else escape(shown_scalar)

    def columns(
        self,
        rows: list[Mapping[str, Any]],
        limit: int = 9,
        hide: Iterable[str] = (),
        prefer: Iterable[str] = (),
    ) -> list[str]:
        """The keys of a list of objects worth a column: the preferred ones first (those present),
        then the others in the order the service wrote them, up to `limit`."""
        hidden = frozenset(hide) | HIDDEN_KEYS
        present: list[str] = []
        for row in rows[:50]:
            for k in row:
                if k not in present and k not in hidden:
                    present.append(str(k))
        ordered = [k for k in prefer if k in present] + [k for k in present if k not in prefer]
        return ordered[:limit]

    def table(
        self,
        rows: list[Mapping[str, Any]],
        hide: Iterable[str] = (),
        prefer: Iterable[str] = (),
        limit: int = 9,
        css: str = "grid nested",
    ) -> Markup:
        """A list of objects as a table with worded headers."""
        cols = self.columns(rows, limit=limit, hide=hide, prefer=prefer)
        head = Markup("").join(Markup("<th>{0}</th>").format(self.label(c)) for c in cols)
        body = Markup("").join(
            Markup("<tr>{0}</tr>").format(
                Markup("").join(Markup("<td>{0}</td>").format(self.show(r.get(c), c, hide)) for c in cols)
            )
            for r in rows
        )
        return Markup('<table class="{0}"><thead><tr>{1}</tr></thead><tbody>{2}</tbody></table>').format(
            css, head, body
        )

    def record(
        self, value: Mapping[str, Any], prefer: Iterable[str] = (), hide: Iterable[str] = ()
    ) -> Markup:
        """One object as "label: value" lines, the preferred fields first."""
        hidden = frozenset(hide) | HIDDEN_KEYS
        first = [k for k in prefer if k in value and k not in hidden]
        keys = first + [str(k) for k in value if k not in first and k not in hidden]
        lines = [
            Markup("<dt>{0}</dt><dd>{1}</dd>").format(self.label(k, value[k]), self.show(value[k], k, hidden))
            for k in keys
        ]
        return Markup('<dl class="kv record">{0}</dl>').format(Markup("").join(lines))

    def event(self, entry: Mapping[str, Any]) -> str:
        """A timeline entry's summary in the reader's language."""
        return phrases.event(str(entry.get("summary") or ""), str(entry.get("type") or ""), self)

    def unavailable(self, error: object) -> str:
        """Why a part of the page is missing (its service's problem), in words."""
        return explain.unavailable(error, self.lang)

    # -- a rule's explanation ---------------------------------------------------------------------

    def rule_text(self, rule: Mapping[str, Any]) -> str:
        """What a rule compared, in words: from the comparison eligibility wrote (by pattern), with
        amounts in the rule's unit."""
        return phrases.rule(rule, self)
