"""The generated population as the city demo reads it: files streamed line by line, the ground truth
kept per household, in units (`households`) and on a rent subsidy (`subsidised`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.population.generate import Options, generate
from infra.population.peers import DEFAULT_LINKAGE_DIR

EXIT = "exit"
FOSHAN = ZoneInfo("Asia/Shanghai")
"""The city's time zone, as the services' `CITY_TIME_ZONE` default."""

RETAIN = "retain"


def write_population(
    out: Path, *, scale: Decimal, seed: int, as_of: date, linkage_dir: Path = DEFAULT_LINKAGE_DIR
) -> dict[str, Any]:
    """`python -m infra.population --peer-ids raw` in-process: peers name people by ID number because
    federation's data-file loader reads only that form today (docs/population.md). `linkage_dir`: the
    linkage keys of the federation that will answer (`infra.stack.demo_federation(var_dir) / "linkage"`),
    so that the subject hashes Foshan is given are the ones its peers compute."""
    return generate(
        Options(seed=seed, scale=scale, as_of=as_of, peer_ids="raw", linkage_dir=linkage_dir), out
    )


def ndjson(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def raw_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield line.rstrip(b"\n")


@dataclass(frozen=True)
class Truth:
    """What one household really is (truth.json), and the decision the truth calls right. A household
    on a rent subsidy has no estate (None); its `line` is in `subsidy/households.ndjson`."""

    ref: str
    line: int
    estate: str | None
    members: tuple[str, ...]
    kind: str
    violating: bool
    exit_triggers: tuple[str, ...]
    data_issue: str | None
    income_per_capita: Decimal
    financial_assets: Decimal | None
    expected_decision: str
    expected_with_cross_region: str
    cross_region_matches: int
    expected_warnings: tuple[str, ...]

    @property
    def correct(self) -> str:
        """The right outcome of a review: exit when the household meets an exit condition in Foshan's
        facts or a neighbour city holds a record that ends its eligibility; else it keeps the flat."""
        return EXIT if self.exit_triggers or self.cross_region_matches else RETAIN


@dataclass(frozen=True)
class City:
    folder: Path
    meta: dict[str, Any]
    summary: dict[str, Any]
    households: list[Truth]
    """Households in units, in the order of households.ndjson (line 1 first)."""
    subsidy_households: int
    subsidised: list[Truth] = field(default_factory=list)
    """Households on a rent subsidy, in the order of subsidy/households.ndjson."""

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.meta["as_of"])


def load_city(folder: Path) -> City:
    document = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    units: list[Truth] = []
    subsidised: list[Truth] = []
    for h in document["households"]:
        (units if h["group"] == "unit" else subsidised).append(
            Truth(
                ref=h["ref"],
                line=h["line"],
                estate=h["estate"],
                members=tuple(h["members"]),
                kind=h["kind"],
                violating=h["violating"],
                exit_triggers=tuple(h["exit_triggers"]),
                data_issue=h["data_issue"],
                income_per_capita=Decimal(h["income_per_capita"]),
                financial_assets=None if h["financial_assets"] is None else Decimal(h["financial_assets"]),
                expected_decision=h["expected_decision"],
                expected_with_cross_region=h["expected_decision_with_cross_region"],
                cross_region_matches=len(h["cross_region_matches"]),
                expected_warnings=tuple(h["expected_warnings"] or ()),
            )
        )
    units.sort(key=lambda t: t.line)
    subsidised.sort(key=lambda t: t.line)
    return City(folder, document["meta"], summary, units, len(subsidised), subsidised)
