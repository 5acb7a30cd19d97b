"""`python -m infra.population --seed 2026 --out var/population [--scale 1.0] [--days 35] [--as-of DATE]`"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from infra.population.generate import Options, generate
from infra.population.peers import DEFAULT_LINKAGE_DIR
from services.eligibility.settings import DEV_PERSON_HASH_KEY


def _scale(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not Decimal(0) < value <= Decimal(1):
        raise argparse.ArgumentTypeError("scale is in (0, 1]")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.population", description=__doc__)
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--out", type=Path, default=Path("var/population"), help="output folder")
    parser.add_argument("--scale", type=_scale, default=Decimal("1.0"), help="share of Foshan, in (0, 1]")
    parser.add_argument("--days", type=int, default=35, help="days of door-access history (default 35)")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date(2026, 11, 26),
        help="snapshot date: facts describe its month, signals end the day before (default 2026-11-26)",
    )
    parser.add_argument(
        "--peer-ids",
        choices=("hashed", "raw"),
        default="hashed",
        help="peers' data sets name people by linkage hash (default) or by ID number (federation's "
        "current loader)",
    )
    parser.add_argument(
        "--person-hash-key",
        default=DEV_PERSON_HASH_KEY,
        help="eligibility's PERSON_HASH_KEY (default: the local stack's dev key)",
    )
    parser.add_argument(
        "--linkage-dir", type=Path, default=DEFAULT_LINKAGE_DIR, help="Foshan-peer linkage keys"
    )
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days is at least 1")
    options = Options(
        seed=args.seed,
        scale=args.scale,
        days=args.days,
        as_of=args.as_of,
        peer_ids=args.peer_ids,
        person_hash_key=args.person_hash_key,
        linkage_dir=args.linkage_dir,
    )
    started = time.perf_counter()
    summary = generate(options, args.out)
    elapsed = time.perf_counter() - started
    print(json.dumps({"out": str(args.out), "seconds": round(elapsed, 1), **summary["totals"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
