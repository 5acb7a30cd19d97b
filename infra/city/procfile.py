"""The city's Procfile: `make run`'s processes, each peer city answering from the generated
population's data.

`make run` (infra/local/Procfile) starts Foshan's services, its federation and its four neighbours;
the city demo points every peer's `FEDERATION_DATA_FILE` at `<population>/peers/<city>/data.yaml`
(and would add a neighbour the Procfile lacks, `peer_spec`). Everything else is the Procfile line as
written.

With `ports` (the tests: free ports so that a running `make run` is no obstacle) every HTTP port is
moved, and the five cities' peer directories under `var_dir/federation/` are rewritten with the new
base URLs (a signed request names its target, so the directory must say where each city really answers).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from federation.demo import DEMO_PORTS, ensure_demo
from infra.stack import PROCFILE, VAR_PLACEHOLDER, ProcessSpec, parse_procfile, without_api

PEERS = {"CN-GZ": "gz", "CN-DG": "dg", "CN-ZS": "zs", "CN-ZQ": "zq"}
"""Foshan's four neighbours (seed/BRIEF.md item 10) and their process name suffix."""
PEER_PORTS = DEMO_PORTS
"""Where each city's federation answers in the local stack."""


def peer_spec(city: str, port: int) -> ProcessSpec:
    """A peer city's federation process, as infra/local/Procfile writes Guangzhou's."""
    directory = f"{VAR_PLACEHOLDER}/federation/{city}"
    return ProcessSpec(
        name=f"federation-{PEERS[city]}",
        env={
            "HTTP_PORT": str(port),
            "SERVICE_NAME": f"federation-{city.lower()}",
            "FEDERATION_CITY": city,
            "FEDERATION_PRIVATE_KEY_FILE": f"{directory}/signing-key.DEMO-ONLY.pem",
            "FEDERATION_PEERS_FILE": f"{directory}/peers.yaml",
            "FEDERATION_DATA_FILE": f"{directory}/data.yaml",
            "FEDERATION_CONSUME_CHECKS": "false",
        },
        module="federation",
    )


SIMULATED_CLOCK = "simulated-clock"
"""The file under the run's VAR_DIR whose offset every process of the city demo adds to its clock."""


def city_specs(
    population: Path,
    *,
    procfile: Path = PROCFILE,
    var_dir: Path,
    port_of: Callable[[str, int], int] | None = None,
    env: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ProcessSpec]:
    """The processes of the city demo, in start order (the gateway last).

    `port_of(name, port)` moves a process's HTTP port (tests); `env` adds variables per process name.
    """
    specs = parse_procfile(procfile)
    present = {s.env.get("FEDERATION_CITY") for s in specs if s.module == "federation"}
    extra = [peer_spec(city, PEER_PORTS[city]) for city in PEERS if city not in present]
    gateway = [s for s in specs if s.module == "gateway"]
    ordered = [s for s in specs if s.module != "gateway"] + extra + gateway
    moved = {s.name: (port_of(s.name, s.http_port) if port_of else s.http_port) for s in ordered}
    peers_files: dict[str, str] = {}
    if port_of is not None:
        city_ports = {
            (s.env.get("FEDERATION_CITY") or "CN-FS"): moved[s.name]
            for s in ordered
            if s.module == "federation"
        }
        peers_files = write_directories(city_ports, var_dir / "federation")
    result: list[ProcessSpec] = []
    for spec in ordered:
        # VAR_DIR: the services' own files (monitoring's checkpoint, penalties' notices, federation's
        # audit log) beside the event stores of this run, not in the repository's var/.
        # SIMULATED_CLOCK_FILE: the demo is a simulation; it moves every process's time together.
        changes: dict[str, str] = {
            "HTTP_PORT": str(moved[spec.name]),
            "VAR_DIR": str(var_dir),
            "SIMULATED_CLOCK_FILE": str(var_dir / SIMULATED_CLOCK),
        }
        if moved[spec.name] != spec.http_port:
            # Moved to a port chosen for this run: its derived health port (+1000) could be another
            # process's chosen port, so the run goes without health listeners.
            changes["HEALTH_PORT"] = str(moved[spec.name]) if without_api(spec.env) else "0"
        if spec.module == "federation":
            city = spec.env.get("FEDERATION_CITY") or "CN-FS"
            if city in PEERS:
                changes["FEDERATION_DATA_FILE"] = str(population / "peers" / city / "data.yaml")
            if city in peers_files:
                changes["FEDERATION_PEERS_FILE"] = peers_files[city]
        if spec.module == "gateway" and "SERVICES" in spec.env:
            changes["SERVICES"] = spec.env["SERVICES"]
        result.append(
            ProcessSpec(
                name=spec.name,
                env={**spec.env, **changes, **(env or {}).get(spec.name, {})},
                module=spec.module,
            )
        )
    return result


def write_directories(city_ports: Mapping[str, int], out: Path) -> dict[str, str]:
    """Each city's peer directory in the demo federation `out` (`<var_dir>/federation`; written first
    when missing or stale, `federation.demo.ensure_demo`), rewritten in place with every city's base
    URL on its moved port; returns each city's directory file."""
    ensure_demo(out)
    files: dict[str, str] = {}
    for city in city_ports:
        target = out / city / "peers.yaml"
        directory = yaml.safe_load(target.read_text(encoding="utf-8"))
        for code, entry in directory["cities"].items():
            if code in city_ports:
                entry["base_url"] = f"http://127.0.0.1:{city_ports[code]}"
        target.write_text(yaml.safe_dump(directory, sort_keys=False), encoding="utf-8")
        files[city] = str(target)
    return files


def procfile_text(specs: list[ProcessSpec]) -> str:
    """Procfile lines that `infra.stack.parse_procfile` reads back into the same specs."""
    lines = ["# Written by infra/city/procfile.py for the city demo; not for editing."]
    for spec in specs:
        assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in spec.env.items())
        lines.append(f"{spec.name}: {assignments} python -m {spec.module}")
    return "\n".join(lines) + "\n"


def write_procfile(specs: list[ProcessSpec], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(procfile_text(specs), encoding="utf-8")
    return path
