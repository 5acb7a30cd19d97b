"""Run every benchmark and write docs/benchmarks.md (`make bench`).

`python -m bench --only backbone,monitoring` runs a subset and replaces only those sections of the report.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench import backbone, city, eligibility, federation, floods, frontdoor, monitoring
from bench.report import machine_section, write_report

REPO = Path(__file__).resolve().parents[1]

BENCHMARKS: dict[str, Callable[[], Coroutine[Any, Any, str]]] = {
    "backbone": backbone.run,
    "eligibility": eligibility.run,
    "monitoring": monitoring.run,
    "federation": federation.run,
    "frontdoor": frontdoor.run,
    "city": city.run,
    "floods": floods.run,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    sections = [machine_section()]
    for name in chosen:
        print(f"== {name}")
        sections.append(asyncio.run(BENCHMARKS[name]()))
    write_report(args.out, sections, merge=args.only is not None)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
