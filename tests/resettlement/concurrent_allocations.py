"""One replica group of the concurrency test: `apps` application objects on one store, each exit
decision placed from its own thread, all threads released at once. Run in the test process and, in a
child process, as `python -m tests.resettlement.concurrent_allocations` (a separate OS process on the
same store: nothing in memory is shared with the other group)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

from contracts.eligibility import ExitDecided
from services.resettlement.application import ResettlementApp
from services.resettlement.settings import ResettlementSettings


def run_group(
    settings: ResettlementSettings,
    env: dict[str, str],
    decisions: Sequence[ExitDecided],
    *,
    apps: int,
    threads: int,
    start: threading.Event | None = None,
    ready: Callable[[], None] | None = None,
) -> tuple[list[UUID], int]:
    """Place every decision; returns the case ids and how many commits lost a race (and were run
    again). Each thread uses the application of its index."""
    replicas = [ResettlementApp(settings, env) for _ in range(apps)]
    if ready is not None:
        ready()
    barrier = threading.Barrier(threads)
    try:

        def work(index: int) -> list[UUID]:
            app = replicas[index % apps]
            barrier.wait()
            if start is not None:
                start.wait()
            return [app.exit_decided(d) for d in decisions[index::threads]]

        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(work, range(threads)))
        return [case_id for chunk in results for case_id in chunk], sum(app.conflicts for app in replicas)
    finally:
        for app in replicas:
            app.close()


def main() -> None:
    """stdin: {"var_dir", "env", "decisions", "apps", "threads", "go"}; waits for the `go` file."""
    spec = json.loads(sys.stdin.read())
    decisions = [ExitDecided.model_validate(d) for d in spec["decisions"]]
    settings = ResettlementSettings(var_dir=Path(spec["var_dir"]), resettlement_pools_file=None)
    go = Path(spec["go"])
    start = threading.Event()

    def watch() -> None:
        while not go.exists():
            threading.Event().wait(0.005)
        start.set()

    threading.Thread(target=watch, daemon=True).start()
    cases, conflicts = run_group(
        settings,
        spec["env"],
        decisions,
        apps=spec["apps"],
        threads=spec["threads"],
        start=start,
        ready=lambda: print("ready", flush=True),
    )
    print(json.dumps({"cases": [str(c) for c in cases], "conflicts": conflicts}), flush=True)


if __name__ == "__main__":
    main()
