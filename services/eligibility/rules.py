"""Exit rules as pure functions over dated, regional parameters (OpenFisca style). No I/O but reading
the parameter files at start-up.

A decision must be explainable to the household and auditable years later, so `evaluate` returns, for
every rule, what it looked at (value and source fact), what it compared against (value in force, its
effective date and legal reference) and how. It never guesses: a missing, stale or conflicting input,
or a region without a parameter, makes the household `needs_manual`, not `qualifies`.

Parameters: one YAML file per rule under `parameters/`, values keyed by region and effective date.
Supervisors add dated values at run time (events in the store); `ParameterTable` merges both and
`parameters_at(region, date)` picks, for each rule, the value with the latest effective date on or
before that date. History is never overwritten: a second value for the same rule, region and date is
refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from contracts.federation import CITY_NAMES

PARAMETER_DIR = Path(__file__).with_name("parameters")

INCOME = "income_per_capita"
HOUSING = "housing_area"
ASSETS = "financial_assets"
STALENESS = "staleness_days"
EXIT_RULES: tuple[str, ...] = (INCOME, HOUSING, ASSETS)
"""The rules whose breach triggers exit, in the order explanations list them."""

HOUSEHOLD_SCOPE = "household"
CENT = Decimal("0.01")

Outcome = Literal["qualifies", "exit_triggered", "needs_manual"]
Status = Literal["exit", "clear", "missing", "stale", "conflict", "no_parameter", "unverified"]

CROSS_REGION = "cross_region"
CROSS_REGION_REFERENCE = (
    "Guangdong cross-region housing security cooperation agreement (Foshan with Guangzhou, Dongguan, "
    "Zhongshan and Zhaoqing): households verified in the neighbour cities"
)
"""The cross-region rule's legal basis: the agreement the checks are made under (the legal basis
eligibility names to the peers, settings.cross_region_legal_basis), never a file of this repository."""
CrossRegionResult = Literal["match", "no_match", "unverified"]
"""A peer city's answer as federation reports it: a category is true there (`match`: holds subsidised
housing, receives a housing subsidy or owns property above the size), none is (`no_match`), or it
could not tell (`unverified`: peer down, bad answer, no subject hash)."""


class ParameterError(ValueError):
    """A parameter value that cannot be added (unknown rule, duplicate date, bad value)."""


@dataclass(frozen=True)
class RuleSpec:
    """What a rule file says about the rule itself."""

    rule: str
    description: str
    unit: str
    kind: str
    exit_when: Literal["greater_than", "never"]


@dataclass(frozen=True)
class ParameterValue:
    """One dated value of one rule in one region."""

    rule: str
    region: str
    effective_from: date
    value: Decimal
    unit: str
    legal_reference: str
    added_by: str = "parameter file"


@dataclass(frozen=True)
class InForce:
    """The values in force in one region on one date: what a decision on that date uses."""

    region: str
    on: date
    values: Mapping[str, ParameterValue]

    def get(self, rule: str) -> ParameterValue | None:
        return self.values.get(rule)


@dataclass(frozen=True)
class ParameterTable:
    """Every dated value of every rule: the files' defaults plus supervisors' additions."""

    specs: Mapping[str, RuleSpec]
    values: tuple[ParameterValue, ...]
    _index: dict[tuple[str, str], list[ParameterValue]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for value in self.values:
            self._index.setdefault((value.rule, value.region), []).append(value)
        for values in self._index.values():
            values.sort(key=lambda v: v.effective_from)

    def check(self, value: ParameterValue) -> None:
        """Refuse a value that would overwrite history or does not fit its rule."""
        spec = self.specs.get(value.rule)
        if spec is None:
            raise ParameterError(f"unknown rule {value.rule!r}; known: {', '.join(sorted(self.specs))}")
        if value.unit != spec.unit:
            raise ParameterError(f"{value.rule} is in {spec.unit}, not {value.unit}")
        if value.value < 0:
            raise ParameterError("a threshold is never negative")
        for existing in self._index.get((value.rule, value.region), []):
            if existing.effective_from == value.effective_from:
                raise ParameterError(
                    f"{value.rule} in {value.region} already has a value from {value.effective_from}; "
                    "history is never overwritten: add a value with a later effective date"
                )

    def with_values(self, extra: Iterable[ParameterValue]) -> ParameterTable:
        return ParameterTable(self.specs, (*self.values, *extra))

    def value_at(self, rule: str, region: str, on: date) -> ParameterValue | None:
        current = None
        for value in self._index.get((rule, region), []):
            if value.effective_from > on:
                break
            current = value
        return current

    def history(self, rule: str | None = None, region: str | None = None) -> list[ParameterValue]:
        return sorted(
            (
                v
                for v in self.values
                if (rule is None or v.rule == rule) and (region is None or v.region == region)
            ),
            key=lambda v: (v.rule, v.region, v.effective_from),
        )

    def regions(self) -> list[str]:
        return sorted({v.region for v in self.values})


def parameters_at(table: ParameterTable, region: str, on: date) -> InForce:
    """The value of every rule in force in `region` on `on` (rules without one are absent)."""
    found = {rule: table.value_at(rule, region, on) for rule in table.specs}
    return InForce(region, on, {rule: value for rule, value in found.items() if value is not None})


def load_table(directory: Path = PARAMETER_DIR) -> ParameterTable:
    """Read every `*.yaml` rule file: the defaults, versioned with the code."""
    specs: dict[str, RuleSpec] = {}
    values: list[ParameterValue] = []
    for path in sorted(directory.glob("*.yaml")):
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = RuleSpec(
            rule=str(raw["rule"]),
            description=str(raw["description"]),
            unit=str(raw["unit"]),
            kind=str(raw["kind"]),
            exit_when=raw["exit_when"],
        )
        specs[spec.rule] = spec
        for region, entries in (raw.get("values") or {}).items():
            for entry in entries:
                values.append(
                    ParameterValue(
                        rule=spec.rule,
                        region=str(region),
                        effective_from=_as_date(entry["effective_from"]),
                        value=Decimal(str(entry["value"])),
                        unit=spec.unit,
                        legal_reference=str(entry["legal_reference"]),
                    )
                )
    return ParameterTable(specs, tuple(values))


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# -- the snapshot a decision is made on ------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The department record an input value comes from."""

    department: str
    reference: str
    described_on: date

    def __deepcopy__(self, memo: dict[int, Any]) -> Source:
        return self  # immutable: aggregates holding it are deep-copied on every load


@dataclass(frozen=True)
class Observation:
    """One value a department reported, in the scope it describes (household, member or property)."""

    value: Decimal
    source: Source
    scope: str = HOUSEHOLD_SCOPE

    def __deepcopy__(self, memo: dict[int, Any]) -> Observation:
        return self


@dataclass(frozen=True)
class Snapshot:
    """What the household looks like to the rules: for each fact kind and scope, the observations of
    the latest date described (several when departments reported that date more than once)."""

    region: str
    facts: Mapping[str, Mapping[str, tuple[Observation, ...]]]
    cross_region: Mapping[str, CrossRegionResult] = field(default_factory=dict)
    """Answers of the current cross-region check, by peer city (empty: no check answered yet)."""
    members: tuple[str, ...] = ()
    """The current members' ids (the scopes of member facts), in the household's order. The income rule
    divides their own incomes over them; member incomes of anyone else (a person who left) are not
    read, and with no members given only a household figure is."""
    cross_region_matched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per city that answered, the categories true there (what a `match` is named by)."""

    def scopes(self, kind: str) -> Mapping[str, tuple[Observation, ...]]:
        return self.facts.get(kind, {})


@dataclass(frozen=True)
class RuleResult:
    """One rule applied: input, source, parameter, comparison."""

    rule: str
    status: Status
    observed: Decimal | None
    unit: str
    sources: tuple[Source, ...]
    threshold: Decimal | None
    effective_from: date | None
    legal_reference: str
    comparison: str

    @property
    def triggered(self) -> bool:
        return self.status == "exit"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    decided_on: date
    region: str
    results: tuple[RuleResult, ...]

    def result(self, rule: str) -> RuleResult:
        return next(r for r in self.results if r.rule == rule)


def evaluate(snapshot: Snapshot, parameters: InForce) -> Decision:
    """The automated first review: a proposal with its full explanation, never the final word."""
    tolerance = parameters.get(STALENESS)
    oldest = parameters.on - timedelta(days=int(tolerance.value)) if tolerance is not None else None
    results = (
        _income(snapshot, parameters, oldest),
        _housing(snapshot.scopes("property"), parameters),
        _assets(snapshot.scopes("financial_assets"), parameters, oldest),
        *(
            (_cross_region(snapshot.cross_region, snapshot.cross_region_matched),)
            if snapshot.cross_region
            else ()
        ),
    )
    if any(r.status == "exit" for r in results):
        outcome: Outcome = "exit_triggered"
    elif any(r.status != "clear" for r in results):
        outcome = "needs_manual"
    else:
        outcome = "qualifies"
    return Decision(outcome, parameters.on, snapshot.region, results)


def outcome(snapshot: Snapshot, parameters: InForce) -> Outcome:
    """`evaluate(snapshot, parameters).outcome` without building the explanation: what-if asks it of
    every household twice. The same steps as `evaluate`, statuses only (a test holds them equal)."""
    tolerance = parameters.get(STALENESS)
    oldest = parameters.on - timedelta(days=int(tolerance.value)) if tolerance is not None else None
    statuses = (
        _income_status(snapshot, parameters, oldest),
        _housing_status(snapshot.scopes("property"), parameters),
        _assets_status(snapshot.scopes("financial_assets"), parameters, oldest),
        _cross_region(snapshot.cross_region).status if snapshot.cross_region else "clear",
    )
    if "exit" in statuses:
        return "exit_triggered"
    if any(status != "clear" for status in statuses):
        return "needs_manual"
    return "qualifies"


def _latest_status(observations: tuple[Observation, ...], on: date, oldest: date | None) -> Status | Decimal:
    """`_latest` in short: the value to decide on, or the status saying why there is none."""
    usable = _on_or_before(observations, on)
    if not usable:
        return "missing"
    first = usable[0].value
    if len(usable) > 1 and any(o.value != first for o in usable):
        return "conflict"
    if oldest is not None and usable[0].source.described_on < oldest:
        return "stale"
    return first


def _compare_status(rule: str, observed: Decimal, parameters: InForce) -> Status:
    value = parameters.get(rule)
    if value is None:
        return "no_parameter"
    return "exit" if observed > value.value else "clear"


def _single_status(
    rule: str, scopes: Mapping[str, tuple[Observation, ...]], parameters: InForce, oldest: date | None
) -> Status:
    found = _latest_status(scopes.get(HOUSEHOLD_SCOPE, ()), parameters.on, oldest)
    return found if isinstance(found, str) else _compare_status(rule, found, parameters)


def _housing_status(scopes: Mapping[str, tuple[Observation, ...]], parameters: InForce) -> Status:
    total = Decimal("0.00")
    for ref in scopes:
        found = _latest_status(scopes[ref], parameters.on, None)
        if isinstance(found, str):
            if found == "conflict":
                return found
            continue
        total += found
    return _compare_status(HOUSING, total, parameters)


def _assets_status(
    scopes: Mapping[str, tuple[Observation, ...]], parameters: InForce, oldest: date | None
) -> Status:
    if HOUSEHOLD_SCOPE in scopes or not scopes:
        return _single_status(ASSETS, scopes, parameters, oldest)
    total = Decimal("0.00")
    for scope in sorted(scopes):
        found = _latest_status(scopes[scope], parameters.on, oldest)
        if isinstance(found, str):
            return found
        total += found
    return _compare_status(ASSETS, total, parameters)


def _on_or_before(observations: tuple[Observation, ...], on: date) -> tuple[Observation, ...]:
    for observation in observations:
        if observation.source.described_on > on:
            return tuple(o for o in observations if o.source.described_on <= on)
    return observations  # the usual case (what-if evaluates every household: keep it cheap)


def _result(
    rule: str,
    parameters: InForce,
    status: Status,
    observed: Decimal | None,
    sources: Iterable[Source],
    comparison: str,
) -> RuleResult:
    value = parameters.get(rule)
    return RuleResult(
        rule=rule,
        status=status,
        observed=observed,
        unit=value.unit if value else "",
        sources=tuple(sources),
        threshold=value.value if value else None,
        effective_from=value.effective_from if value else None,
        legal_reference=value.legal_reference if value else "no parameter in force",
        comparison=comparison,
    )


def _compare(
    rule: str, observed: Decimal, parameters: InForce, sources: Iterable[Source], shown: str | None = None
) -> RuleResult:
    """`shown`: how the comparison text writes `observed` (a calculation ending in it; default: the
    value alone)."""
    value = parameters.get(rule)
    if value is None:
        text = f"no {rule} value in force" if shown is None else f"{shown}; no {rule} value in force"
        return _result(rule, parameters, "no_parameter", observed, sources, text)
    shown = str(observed) if shown is None else shown
    if observed > value.value:
        text = f"{shown} > {value.value} {value.unit}: exit condition met"
        return _result(rule, parameters, "exit", observed, sources, text)
    text = f"{shown} <= {value.value} {value.unit}: within the limit"
    return _result(rule, parameters, "clear", observed, sources, text)


def _latest(
    rule: str, observations: tuple[Observation, ...], parameters: InForce, oldest: date | None, what: str
) -> RuleResult | Observation:
    """The one observation to decide on, or the result saying why there is none."""
    usable = _on_or_before(observations, parameters.on)
    if not usable:
        return _result(
            rule, parameters, "missing", None, (), f"no {what} reported on or before {parameters.on}"
        )
    sources = [o.source for o in usable]
    if len({o.value for o in usable}) > 1:
        values = ", ".join(f"{o.value} ({o.source.department} {o.source.reference})" for o in usable)
        return _result(rule, parameters, "conflict", None, sources, f"conflicting {what}: {values}")
    if oldest is not None and usable[0].source.described_on < oldest:
        text = f"{what} describes {usable[0].source.described_on}, older than {oldest}: stale"
        return _result(rule, parameters, "stale", usable[0].value, sources, text)
    return usable[0]


def _single_value(
    rule: str,
    scopes: Mapping[str, tuple[Observation, ...]],
    parameters: InForce,
    oldest: date | None,
    what: str,
) -> RuleResult:
    found = _latest(rule, scopes.get(HOUSEHOLD_SCOPE, ()), parameters, oldest, what)
    if isinstance(found, RuleResult):
        return found
    return _compare(rule, found.value, parameters, [found.source])


@dataclass(frozen=True)
class _MemberIncomes:
    """Each current member's own monthly income on record on or before the decision date (a member
    without one: no observation), in the household's order."""

    found: Mapping[str, tuple[Observation, ...]]

    @property
    def latest(self) -> date:
        return max(usable[0].source.described_on for usable in self.found.values() if usable)

    @property
    def oldest(self) -> date:
        return min(usable[0].source.described_on for usable in self.found.values() if usable)

    @property
    def missing(self) -> list[str]:
        return [member for member, usable in self.found.items() if not usable]

    @property
    def conflicting(self) -> list[str]:
        return [member for member, usable in self.found.items() if len({o.value for o in usable}) > 1]

    def values(self) -> list[Decimal]:
        return [usable[0].value for usable in self.found.values()]

    def per_capita(self) -> Decimal:
        return (sum(self.values(), Decimal("0")) / len(self.found)).quantize(CENT, rounding=ROUND_HALF_UP)


def _member_incomes(snapshot: Snapshot, on: date) -> _MemberIncomes | None:
    """The current members' own incomes, or None when none of them has one on record."""
    scopes = snapshot.scopes("income")
    if not snapshot.members or scopes.keys() <= {HOUSEHOLD_SCOPE}:
        return None  # the usual case: only a household figure (keep it cheap: what-if asks every one)
    found = {member: _on_or_before(scopes.get(member, ()), on) for member in snapshot.members}
    return _MemberIncomes(found) if any(found.values()) else None


def _income_inputs(
    snapshot: Snapshot, on: date
) -> tuple[tuple[Observation, ...], _MemberIncomes | None, _MemberIncomes | None]:
    """What the income rule decides on: (the household's per-capita figure, the member incomes to
    divide instead, if any, and those on record). Member incomes are used when a current member has
    one, unless the household figure describes the same or a later date than the latest of them."""
    household = _on_or_before(snapshot.scopes("income").get(HOUSEHOLD_SCOPE, ()), on)
    members = _member_incomes(snapshot, on)
    if members is None or (household and household[0].source.described_on >= members.latest):
        return household, None, members
    return household, members, members


def _income_status(snapshot: Snapshot, parameters: InForce, oldest: date | None) -> Status:
    """`_income` in short: the same figure, the same statuses, no explanation."""
    household, members, _ = _income_inputs(snapshot, parameters.on)
    if members is None:
        found = _latest_status(household, parameters.on, oldest)
        return found if isinstance(found, str) else _compare_status(INCOME, found, parameters)
    if members.conflicting:
        return "conflict"
    if members.missing:
        return "missing"
    if oldest is not None and members.oldest < oldest:
        return "stale"
    return _compare_status(INCOME, members.per_capita(), parameters)


def _income(snapshot: Snapshot, parameters: InForce, oldest: date | None) -> RuleResult:
    """Per-capita monthly income: a department's household figure, or the current members' own
    incomes summed and divided by the number of members (`_income_inputs` says which; the comparison
    names it). Every member needs an income on record (one without is `missing`, never zero); a member
    figure is as stale as the oldest of them; the sources are every member's."""
    household, members, on_record = _income_inputs(snapshot, parameters.on)
    if members is None:
        result = _single_value(
            INCOME, {HOUSEHOLD_SCOPE: household}, parameters, oldest, "per-capita monthly income"
        )
        if on_record is None:
            return result
        described = household[0].source.described_on
        when = (
            "the same date: a tie" if on_record.latest == described else f"{on_record.latest} at the latest"
        )
        note = f"; the household's per-capita figure of {described} is used (member incomes describe {when})"
        return replace(result, comparison=result.comparison + note)
    count = len(members.found)
    sources = [o.source for usable in members.found.values() for o in usable]
    note = ""
    if household:
        note = (
            f"; member incomes are used (the latest describes {members.latest}), not the household's "
            f"per-capita figure of {household[0].source.described_on}"
        )
    if members.conflicting:
        values = "; ".join(
            f"member {member}: "
            + ", ".join(
                f"{o.value} ({o.source.department} {o.source.reference})" for o in members.found[member]
            )
            for member in members.conflicting
        )
        text = f"conflicting monthly income of {len(members.conflicting)} of {count} members: {values}"
        return _result(INCOME, parameters, "conflict", None, sources, text + note)
    if members.missing:
        lacking = ", ".join(f"member {member}" for member in members.missing)
        text = (
            f"no monthly income reported on or before {parameters.on} for {len(members.missing)} of "
            f"{count} members ({lacking}): the per-capita income needs every member's income"
        )
        return _result(INCOME, parameters, "missing", None, sources, text + note)
    per_capita = members.per_capita()
    division = (
        f"({' + '.join(str(v) for v in members.values())}) / {count} member{'s' if count > 1 else ''}"
        f" = {per_capita}"
    )
    if oldest is not None and members.oldest < oldest:
        text = f"{division}; the oldest member income describes {members.oldest}, older than {oldest}: stale"
        return _result(INCOME, parameters, "stale", per_capita, sources, text + note)
    result = _compare(INCOME, per_capita, parameters, sources, shown=division)
    return replace(result, comparison=result.comparison + note)


def _housing(scopes: Mapping[str, tuple[Observation, ...]], parameters: InForce) -> RuleResult:
    """Sum of every property on record (all members, all cities). A property record is a holding, not
    a flow: it is not subject to staleness. No record means no registered property (0 m²)."""
    total = Decimal("0.00")
    sources: list[Source] = []
    for ref in sorted(scopes):
        found = _latest(HOUSING, scopes[ref], parameters, None, f"area of property {ref}")
        if isinstance(found, RuleResult):
            if found.status == "conflict":
                return found
            continue  # described after the decision date: not known yet
        total += found.value
        sources.append(found.source)
    return _compare(HOUSING, total, parameters, sources)


MATCHED_WORDS = {
    "holds_subsidised_housing": "holds subsidised housing",
    "receives_housing_subsidy": "receives a housing subsidy",
    "owns_property_over_threshold": "owns property over the threshold",
}
"""A peer's category, as the explanation says it."""


def _city(code: str) -> str:
    name = CITY_NAMES.get(code)
    return code if name is None else f"{code} ({name})"


def _cross_region(
    answers: Mapping[str, CrossRegionResult], matched: Mapping[str, tuple[str, ...]] | None = None
) -> RuleResult:
    """Peer cities' answers: any match is an exit condition; an unverified city is never "clear".
    A match names the city and what its register says there."""
    found = matched or {}
    matches = sorted(city for city, result in answers.items() if result == "match")
    unverified = sorted(city for city, result in answers.items() if result == "unverified")
    status: Status
    if matches:
        named = []
        for city in matches:
            what = " and ".join(MATCHED_WORDS.get(c, c) for c in found.get(city, ()))
            named.append(f"{_city(city)}: {what or 'holds housing support or property there'}")
        status, text = "exit", f"match in {'; '.join(named)}"
    elif unverified:
        status, text = (
            "unverified",
            f"not verified in {', '.join(map(_city, unverified))}: a person must look",
        )
    else:
        status, text = "clear", f"no match in {', '.join(sorted(answers))}"
    return RuleResult(CROSS_REGION, status, None, "", (), None, None, CROSS_REGION_REFERENCE, text)


def _assets(
    scopes: Mapping[str, tuple[Observation, ...]], parameters: InForce, oldest: date | None
) -> RuleResult:
    """A household-level total when a department reports one; otherwise the sum over members."""
    if HOUSEHOLD_SCOPE in scopes or not scopes:
        return _single_value(ASSETS, scopes, parameters, oldest, "financial assets")
    total = Decimal("0.00")
    sources: list[Source] = []
    for scope in sorted(scopes):
        found = _latest(ASSETS, scopes[scope], parameters, oldest, "financial assets of a member")
        if isinstance(found, RuleResult):
            return found
        total += found.value
        sources.append(found.source)
    return _compare(ASSETS, total, parameters, sources)


# -- records: decisions as stored in events and shown by the API ---------------------------------------


def decision_record(decision: Decision) -> dict[str, Any]:
    """JSON-friendly form stored in the `Evaluated` event (values as exact decimal text)."""
    return {
        "outcome": decision.outcome,
        "decided_on": decision.decided_on,
        "region": decision.region,
        "rules": [
            {
                "rule": r.rule,
                "status": r.status,
                "observed": None if r.observed is None else str(r.observed),
                "unit": r.unit,
                "sources": [
                    {"department": s.department, "reference": s.reference, "described_on": s.described_on}
                    for s in r.sources
                ],
                "threshold": None if r.threshold is None else str(r.threshold),
                "effective_from": r.effective_from,
                "legal_reference": r.legal_reference,
                "comparison": r.comparison,
            }
            for r in decision.results
        ],
    }
