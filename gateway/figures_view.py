"""The dashboard's figures, one source for each, and the services' series in words.

"Cross-region verifications" used to be counted on the dashboard from the federation service's latest
exchanges (at most 500 log rows, of every kind: requests, answers, refusals), while the federation
page listed the log itself: two different things under one name, which disagreed as soon as the log
outgrew 500 rows. A verification is a household checked in the neighbour cities; eligibility keeps
that state per household and answers it as `GET /cross-region/status` (households, never checked,
awaiting answers, due, matched, unverified). The dashboard's tile and the federation page's summary
both read that one answer (`checked`); the federation log is shown as what it is, events, with its own
count (`log_total`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.charts import numeric_series
from gateway.readable import Reader
from gateway.wording import known

CROSS_REGION = "cross_region_verifications"


def checked(status: Any) -> int | None:
    """Households verified in the neighbour cities: checked, and every city asked has answered
    (eligibility's own counts: households, less those never checked and those awaiting answers)."""
    if not isinstance(status, Mapping):
        return None
    counts = [status.get(k) for k in ("households", "never_checked", "awaiting_answers")]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in counts):
        return None
    households, never, awaiting = (int(n) for n in counts)  # type: ignore[arg-type]
    return households - never - awaiting


def with_checks(figures: dict[str, Any], status: Any) -> dict[str, Any]:
    """The dashboard's figures with the cross-region tile from eligibility's status (None, shown as a
    dash, when eligibility could not say: never the federation log's row count instead)."""
    headline = dict(figures.get("headline") or {})
    headline[CROSS_REGION] = checked(status)
    return {**figures, "headline": headline}


def log_total(rows: Any) -> int | None:
    """How many events the federation log holds: its newest row's sequence number (of a list, or of
    a page of one: `{"items": [...], ...}`)."""
    if isinstance(rows, Mapping):
        rows = rows.get("items")
    if not isinstance(rows, list):
        return None
    numbers = [int(r["seq"]) for r in rows if isinstance(r, Mapping) and isinstance(r.get("seq"), int)]
    return max(numbers) if numbers else None


def series(figures: Mapping[str, Any], r: Reader) -> list[tuple[str, dict[str, float]]]:
    """Every flat series of counts of every service, titled and labelled in words (estate and course
    names are proper names and stay as they are)."""
    out: list[tuple[str, dict[str, float]]] = []
    for service, data in (figures.get("services") or {}).items():
        if not isinstance(data, Mapping):
            continue
        for key, value in data.items():
            found = numeric_series(value)
            if not found:
                continue
            labelled = {(r.word(k) if known(k) else k): v for k, v in found.items()}
            out.append((f"{r.word(service)} · {r.word(key)}", labelled))
    return out


def _by_month(figures: Any) -> dict[str, Mapping[str, Any]]:
    rows = figures.get("by_month") if isinstance(figures, Mapping) else None
    return {str(r["month"]): r for r in rows or [] if isinstance(r, Mapping) and r.get("month")}


def departments_figures(figures: Mapping[str, Any]) -> dict[str, Any] | None:
    """The dashboard's departments: eligibility's own counts of the record requests to departments and
    of the coordination register (`GET /figures`: `record_requests`, `coordination`), with one row per
    month that either counts (None when eligibility gave neither)."""
    eligibility = (figures.get("services") or {}).get("eligibility") or {}
    requests, problems = eligibility.get("record_requests"), eligibility.get("coordination")
    if not isinstance(requests, Mapping) and not isinstance(problems, Mapping):
        return None
    asked, raised = _by_month(requests), _by_month(problems)
    months = [
        {"month": m, "requests": asked.get(m) or {}, "problems": raised.get(m) or {}}
        for m in sorted(set(asked) | set(raised))
    ]
    return {
        "requests": requests if isinstance(requests, Mapping) else {},
        "problems": problems if isinstance(problems, Mapping) else {},
        "months": months,
    }
