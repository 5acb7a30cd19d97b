"""`make demo`: a Foshan-sized city through the platform, in one command, with a report.

1. Writes the synthetic population (`infra.population`, seeded; `--scale`, default 0.05 = 615 households
   in units) under `var/demo/population`, dated today in Foshan so that no fact is stale.
2. Starts the stack as `make run` does (`infra.stack.start_stack`) from `infra/local/Procfile`, plus
   the two neighbour cities it does not start (Zhongshan, Zhaoqing); every neighbour answers from the
   population's data (`infra/city/procfile.py`). State goes to `var/demo/stack`, wiped at each run.
3. Loads the city as its departments would (`infra/city/load.py`), waits for a steady state
   (`infra/city/settle.py`), then lets simulated people work (`infra/city/operators.py`, stated models):
   inspectors, reviewers and supervisors (four eyes), households, the housing and training officers.
4. Prints the report (`infra/city/report.py`): the platform's figures, read from the same `GET /figures`
   the console's dashboard shows, beside the paper's; decision accuracy against the ground truth; and
   writes it to `var/demo/report.md`. Exit code 1 when a check against the truth fails.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from infra.city.data import FOSHAN, load_city, write_population
from infra.city.load import Urls
from infra.city.procfile import SIMULATED_CLOCK, city_specs, write_procfile
from infra.city.report import Report
from infra.city.run import Run, run_city
from infra.stack import ASSERTION_KEY, DEFAULT_VAR_DIR, Stack, StackError, demo_federation, start_stack
from services.kit import clock

DEFAULT_SCALE = Decimal("0.05")
DEMO_DIR = DEFAULT_VAR_DIR / "demo"


def say(message: str) -> None:
    print(f"demo | {time.strftime('%H:%M:%S')} {message}", flush=True)


def urls_of(stack: Stack) -> Urls:
    return Urls(
        services={name: s.base_url for name, s in stack.services.items()},
        nats=stack.nats.url,
        nats_monitor=stack.nats.monitor_url,
        credentials=stack.credentials,
        assertion_key=stack.var_dir / ASSERTION_KEY,
        clock_file=stack.var_dir / SIMULATED_CLOCK,
    )


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool


def checks(run: Run) -> list[Check]:
    """What the truth says the platform must have done; the demo fails when one does not hold."""
    report: Report = run.report
    work = report.work
    return [
        Check(
            f"automated first review as the truth predicts ({report.automated.correct} correct, "
            f"predicted {report.predicted.correct})",
            report.automated.confusion == report.predicted.confusion,
        ),
        Check(
            f"every warning the truth expects was raised ({report.warned_as_expected} of "
            f"{report.expected_warned_households})",
            report.warned_as_expected == report.expected_warned_households,
        ),
        Check(
            f"every case decided by four eyes ({len(work.four_eyes)} approvals, all by a second operator)",
            bool(work.four_eyes) and all(a != b for a, b in work.four_eyes),
        ),
        Check("nothing dead-lettered", report.deadletters == 0),
        Check(
            "the console's figures are the services' figures",
            report.gateway_figures_match is not False,
        ),
    ]


def run_demo(stack: Stack, population: Path, *, quiet_s: float = 3.0) -> tuple[Run, list[Check]]:
    city = load_city(population)
    run = asyncio.run(run_city(city, urls_of(stack), say=say, quiet_s=quiet_s))
    return run, checks(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.demo", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=Decimal, default=DEFAULT_SCALE, help="share of Foshan (default 0.05)")
    parser.add_argument("--seed", type=int, default=2026, help="population and people's seed (default 2026)")
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="folder of the run (wiped first)")
    args = parser.parse_args(argv)
    if not Decimal(0) < args.scale <= 1:
        parser.error("--scale is in (0, 1]")
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    population = out / "population"
    var_dir = out / "stack"
    # The demo federation first: the population hashes the subjects with its linkage keys.
    linkage = demo_federation(var_dir, echo=False) / "linkage"
    today = clock.local_today(FOSHAN)
    say(f"writing the population (scale {args.scale}, seed {args.seed}, as of {today}) to {population}")
    write_population(population, scale=args.scale, seed=args.seed, as_of=today, linkage_dir=linkage)
    procfile = write_procfile(city_specs(population, var_dir=var_dir), out / "Procfile")
    say(f"starting the stack (logs under {var_dir / 'log'}) ...")
    try:
        with start_stack(procfile=procfile, var_dir=var_dir, echo=False) as stack:
            run, results = run_demo(stack, population)
    except StackError as exc:
        print(f"demo: the stack did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; the stack is stopped")
        return 130
    text = run.report.markdown()
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    for check in results:
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.what}")
    print(f"report written to {out / 'report.md'}")
    return 0 if all(c.ok for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
