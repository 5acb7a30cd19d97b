"""The demo federation is generated, never committed, and never expires on a calendar date: written
when missing, kept while fresh, renewed (signing keys and windows; linkage keys kept) when a key window
has not begun or ends within 30 days, all by the clock it is given; the Procfile's federation lines name
exactly the files the stack generates under its var directory."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from federation.demo import DEMO_CITIES, DEMO_PORTS, KEY_LIFETIME, SIGNING_KEY, ensure_demo
from federation.keys import load_private_key, public_x
from federation.peers import load_directory
from federation.service import build
from infra.city.procfile import city_specs
from infra.stack import REPO_ROOT, demo_federation, expand_var, parse_procfile
from services.kit.clock import ManualClock
from tests.federation.conftest import SINGLE, Demo, query, signed

T0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
"""Far from the day this was written: nothing here may depend on the machine's date."""


def files(out: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob(pattern))}


def test_written_when_missing_kept_while_fresh_renewed_near_the_end_or_before_the_start(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    out = tmp_path / "federation"
    assert "no demo key" in (ensure_demo(out, clock=clock) or "")
    for secret in [*out.glob("*/" + SIGNING_KEY), *out.glob("linkage/*.key")]:
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    assert len(list(out.glob("linkage/*.key"))) == 10  # every pair of the five cities
    for code in DEMO_CITIES:
        directory = load_directory(out / code / "peers.yaml", code)
        windows = {(k.not_before, k.not_after) for city in directory.cities.values() for k in city.keys}
        assert windows == {(T0 - timedelta(days=1), T0 + KEY_LIFETIME)}
    keys, linkage = files(out, "*/" + SIGNING_KEY), files(out, "linkage/*")

    clock.advance(days=335)  # 30 days left: still fine
    assert ensure_demo(out, clock=clock) is None
    assert files(out, "*/" + SIGNING_KEY) == keys

    clock.advance(days=1)  # 29 days left: renewed from today, linkage keys kept
    assert "expires" in (ensure_demo(out, clock=clock) or "")
    renewed = files(out, "*/" + SIGNING_KEY)
    assert renewed.keys() == keys.keys() and all(renewed[k] != keys[k] for k in keys)
    assert files(out, "linkage/*") == linkage
    me = load_directory(out / "CN-FS" / "peers.yaml", "CN-FS").cities["CN-FS"].keys[0]
    assert (me.not_before, me.not_after) == (clock() - timedelta(days=1), clock() + KEY_LIFETIME)

    clock.now = T0  # a clock set back before the renewed windows begin
    assert "valid only from" in (ensure_demo(out, clock=clock) or "")
    assert ensure_demo(out, clock=clock) is None


def test_a_half_written_or_mismatched_set_is_written_again(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    out = tmp_path / "federation"
    ensure_demo(out, clock=clock)
    (out / "CN-ZQ" / "data.yaml").unlink()
    assert "data.yaml" in (ensure_demo(out, clock=clock) or "")
    (out / "CN-GZ" / SIGNING_KEY).write_bytes((out / "CN-DG" / SIGNING_KEY).read_bytes())
    assert "not in its own directory entry" in (ensure_demo(out, clock=clock) or "")
    assert ensure_demo(out, clock=clock) is None


def test_processes_starting_together_take_turns_and_leave_one_whole_set(tmp_path: Path) -> None:
    """Compose's containers (or two stacks) on one var directory: four writers at once on an empty
    folder; exactly one writes, and the set it leaves is whole and agrees with itself."""
    from concurrent.futures import ThreadPoolExecutor

    out = tmp_path / "federation"
    start = threading.Barrier(4)

    def one() -> str | None:
        start.wait()
        return ensure_demo(out, clock=ManualClock(T0))

    with ThreadPoolExecutor(4) as pool:
        reasons = list(pool.map(lambda _: one(), range(4)))
    assert sum(r is not None for r in reasons) == 1, reasons
    assert ensure_demo(out, clock=ManualClock(T0)) is None


@pytest.mark.parametrize("days", [400, 1100])
def test_years_later_a_stale_set_is_refused_and_the_renewed_one_answers(tmp_path: Path, days: int) -> None:
    """What `make run` meets after `days` days: with the keys written on T0 Foshan refuses Guangzhou
    (no key valid at `created`); after the renewal at start, Foshan answers."""
    clock = ManualClock(T0)
    out = tmp_path / "federation"
    ensure_demo(out, clock=clock)
    clock.advance(days=days)
    demo = Demo(out, DEMO_PORTS)

    def ask(store: str) -> int:
        (tmp_path / store).mkdir()
        settings = demo.settings("CN-FS", tmp_path / store)
        api, node = build(settings, demo.env("CN-FS", tmp_path / store), clock)
        try:
            raw, headers = signed(demo, query(demo))  # Guangzhou, dated by `clock`
            client = TestClient(api, base_url=demo.base_url("CN-FS"))
            status: int = client.post(SINGLE, content=raw, headers=headers.items()).status_code
            return status
        finally:
            node.app.close()

    assert ask("stale") == 401
    assert ensure_demo(out, clock=clock) is not None
    assert ask("renewed") == 200


def test_the_procfiles_federation_lines_name_the_files_the_stack_generates(tmp_path: Path) -> None:
    """Foshan and every peer city of its directory run; the peers answer from their generated DEMO
    registers, Foshan from its own events (no data file); eligibility hashes with the linkage keys of
    Foshan's generated directory."""
    var = tmp_path / "var"
    procfile = parse_procfile(include_disabled=True)
    specs = [s for s in procfile if s.module == "federation"]
    extra = [s for s in city_specs(tmp_path / "population", var_dir=var) if s.module == "federation"]
    assert {s.env.get("FEDERATION_CITY", "CN-FS") for s in extra} == set(DEMO_CITIES)
    assert sorted(s.env.get("FEDERATION_CITY", "CN-FS") for s in specs) == sorted(DEMO_CITIES)
    demo_federation(var, echo=False)
    foshan_peers: Path | None = None
    for spec in [*specs, *extra]:
        env = expand_var(spec.env, var)
        city = env.get("FEDERATION_CITY", "CN-FS")
        key, peers = Path(env["FEDERATION_PRIVATE_KEY_FILE"]), Path(env["FEDERATION_PEERS_FILE"])
        assert key.is_relative_to(var.resolve()) and peers.is_relative_to(var.resolve()), spec.name
        me = load_directory(peers, city).me
        assert me is not None and public_x(load_private_key(key).public_key()) in {k.x for k in me.keys}
        if spec in specs and city == "CN-FS":
            assert "FEDERATION_DATA_FILE" not in env, "Foshan answers from its own registers"
            directory = load_directory(peers, city)
            assert set(directory.peers) == set(DEMO_CITIES) - {"CN-FS"}
            assert all(peer.linkage_keys for peer in directory.peers.values()), "a peer without a key"
            foshan_peers = peers
        elif spec in specs:
            data = Path(env["FEDERATION_DATA_FILE"])
            assert data.is_relative_to(var.resolve()) and data.is_file(), spec.name
    eligibility = [s for s in procfile if s.module == "services.eligibility"]  # the API's and the relay's
    assert [s.name for s in eligibility] == ["eligibility", "eligibility-relay"]
    for process in eligibility:
        assert Path(expand_var(process.env, var)["LINKAGE_KEYS_FILE"]) == foshan_peers
    committed = REPO_ROOT / "infra" / "federation"
    assert [p.name for p in committed.rglob("*") if p.is_file()] == ["README.md"], "keys are never committed"


def test_demo_init_writes_a_set_and_keeps_a_fresh_one(tmp_path: Path) -> None:
    out = tmp_path / "federation"

    def demo_init(*options: str) -> str:
        command = [sys.executable, "-m", "federation", "demo-init", "--out", str(out), *options]
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "written" in demo_init("--if-stale")
    keys = files(out, "*/" + SIGNING_KEY)
    assert set(keys) == {f"{code}/{SIGNING_KEY}" for code in DEMO_CITIES}
    assert "kept" in demo_init("--if-stale") and files(out, "*/" + SIGNING_KEY) == keys
    assert "written" in demo_init() and files(out, "*/" + SIGNING_KEY) != keys
