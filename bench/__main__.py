"""Run every benchmark and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench import backbone
from bench.report import machine_section, write_report

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events per end-to-end run")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    sections = [machine_section()]
    sections.append(asyncio.run(backbone.run(events=args.events)))
    write_report(args.out, sections)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
