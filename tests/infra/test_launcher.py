"""The local-stack launcher and the infra files, tested without the services.

`make run`, `make demo` and the end-to-end tests all start the platform through infra/stack.py, so a
broken launcher or nats config breaks all of them at once. These tests use the real nats-server binary
on free ports (never 4222, never the 14222 a developer's `make run` may hold) and, for the processes,
`infra.stub_service`, a stand-in that answers /readyz like a service.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from infra.stack import (
    LOCAL_NATS_CONF,
    PROCFILE,
    REPO_ROOT,
    NatsServer,
    ProcessSpec,
    Stack,
    StackError,
    gateway_services,
    module_is_runnable,
    nats_server_binary,
    parse_procfile,
    parse_procfile_line,
    port_is_free,
    run_nats,
    service_env,
    start_stack,
    where_to_look,
    with_authorization,
)
from services.kit import busauth
from services.kit.bus import NoCredential, connect
from tests.support.ports import free_port

INFRA = REPO_ROOT / "infra"
CLUSTER = INFRA / "nats" / "cluster"
NATS_CONFS = sorted((INFRA / "nats").rglob("*.conf"))
DESIGN_PORTS = {
    "gateway": 8000,
    "eligibility": 8001,
    "eligibility-relay": 8011,
    "penalties": 8002,
    "resettlement": 8003,
    "training": 8004,
    "monitoring": 8005,
    "federation": 8006,
}
# Peer cities of the demo federation run the same module on ports of their own (8106, 8206, ...).
PEER_CITY_PORTS = {"federation-gz": 8106, "federation-dg": 8206, "federation-zs": 8306, "federation-zq": 8406}
STUB = "infra.stub_service"


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=5.0)


def nats_check(conf: Path, store: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOUSING_NATS_PORT": str(free_port()),
        "HOUSING_NATS_HTTP_PORT": str(free_port()),
        "HOUSING_NATS_STORE": str(store),
    }
    return subprocess.run(
        [str(nats_server_binary()), "-t", "-c", str(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --------------------------------------------------------------------------------------------------
# nats-server configs


def test_the_expected_nats_configs_exist() -> None:
    assert [p.relative_to(INFRA / "nats").as_posix() for p in NATS_CONFS] == [
        "cluster/n1.conf",
        "cluster/n2.conf",
        "cluster/n3.conf",
        "local.conf",
    ]


def with_credentials(conf: Path, tmp_path: Path) -> Path:
    """`conf` as a server runs it: the cluster's files beside the credentials they include, the local
    one as the launcher writes it (`with_authorization`)."""
    credentials = tmp_path / "conf" / "credentials"
    if conf.parent == CLUSTER:
        shutil.copytree(CLUSTER, tmp_path / "conf", ignore=shutil.ignore_patterns("credentials"))
        busauth.write(credentials)
        return tmp_path / "conf" / conf.name
    busauth.write(credentials)
    return with_authorization(conf, credentials)


@pytest.mark.parametrize("conf", NATS_CONFS, ids=lambda p: p.name)
def test_nats_config_is_accepted_by_nats_server(conf: Path, tmp_path: Path) -> None:
    result = nats_check(with_credentials(conf, tmp_path), tmp_path / "store")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("conf", NATS_CONFS, ids=lambda p: p.name)
def test_every_nats_server_requires_the_bus_credentials(conf: Path, tmp_path: Path) -> None:
    """No server the project starts runs open: each includes the authorization busauth writes."""
    effective = with_credentials(conf, tmp_path).read_text()
    assert re.search(r'^include "?\./(credentials/)?nats-auth\.conf"?$', effective, re.MULTILINE)
    assert "authorization" not in conf.read_text().replace("# Who may", "")  # no second, open block


@pytest.mark.parametrize("conf", NATS_CONFS, ids=lambda p: p.name)
def test_nats_config_fsyncs_every_write(conf: Path) -> None:
    # JetStream acks before fsync by default (Jepsen, NATS 2.12.1).
    assert re.search(r"^\s*sync_interval:\s*always\s*$", conf.read_text(), re.MULTILINE)


def test_cluster_configs_are_accepted_with_the_compose_network(tmp_path: Path) -> None:
    """In compose, network.compose.inc is mounted as network.inc beside each node's file."""
    shutil.copy(CLUSTER / "network.compose.inc", tmp_path / "network.inc")
    busauth.write(tmp_path / "credentials")  # compose mounts the bus-credentials volume there
    for node in ("n1", "n2", "n3"):
        shutil.copy(CLUSTER / f"{node}.conf", tmp_path / f"{node}.conf")
        result = nats_check(tmp_path / f"{node}.conf", tmp_path / node)
        assert result.returncode == 0, result.stdout + result.stderr


def test_cluster_nodes_use_distinct_ports_and_routes_reach_each() -> None:
    ports: list[int] = []
    cluster_ports: list[int] = []
    for node in ("n1", "n2", "n3"):
        text = (CLUSTER / f"{node}.conf").read_text()
        ports += [int(p) for p in re.findall(r"^(?:port|http_port):\s*(\d+)", text, re.MULTILINE)]
        cluster_ports += [int(p) for p in re.findall(r"^\s+port:\s*(\d+)", text, re.MULTILINE)]
        assert re.search(rf"^server_name:\s*{node}$", text, re.MULTILINE)
        assert re.search(r"^\s+name:\s*housing$", text, re.MULTILINE)
    all_ports = ports + cluster_ports
    assert len(all_ports) == 9 and len(set(all_ports)) == 9
    assert not {4222, 14222, 18222} & set(all_ports)
    for inc in ("network.inc", "network.compose.inc"):
        routed = {int(p) for p in re.findall(r"nats-route://[^:\s]+:(\d+)", (CLUSTER / inc).read_text())}
        assert routed == set(cluster_ports), inc


# --------------------------------------------------------------------------------------------------
# The Procfile


def test_procfile_lists_every_process_once_on_its_design_port() -> None:
    specs = parse_procfile(include_disabled=True)
    names = [s.name for s in specs]
    ports = [s.http_port for s in specs]
    assert len(names) == len(set(names))
    assert len(ports) == len(set(ports))
    assert {s.name: s.http_port for s in specs} == {**DESIGN_PORTS, **PEER_CITY_PORTS}
    # a process runs its service's module (`eligibility-relay` is eligibility's relay, SERVICE_NAME)
    assert all(
        s.module in (f"services.{s.env.get('SERVICE_NAME', s.name)}", s.name, "federation") for s in specs
    )


def test_procfile_active_processes_end_with_the_gateway() -> None:
    names = [s.name for s in parse_procfile()]
    assert "eligibility" in names
    assert names[-1] == "gateway"


def test_procfile_line_parses_into_name_env_module() -> None:
    spec = parse_procfile_line("eligibility: LOG_LEVEL=DEBUG HTTP_PORT=8001 python -m services.eligibility")
    assert spec == ProcessSpec(
        name="eligibility",
        env={"LOG_LEVEL": "DEBUG", "HTTP_PORT": "8001"},
        module="services.eligibility",
    )
    assert spec.base_url == "http://127.0.0.1:8001"


@pytest.mark.parametrize(
    "line",
    [
        "x: python -m a",  # no HTTP_PORT
        "x: HTTP_PORT=abc python -m a",
        "x: HTTP_PORT=1 python a.py",
        "x: HTTP_PORT=1 python -m a --flag",
        "x HTTP_PORT=1 python -m a",
        "X: HTTP_PORT=1 python -m a",
    ],
)
def test_procfile_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(ValueError):
        parse_procfile_line(line)


def test_procfile_rejects_duplicate_ports(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("a: HTTP_PORT=9001 python -m a\n# b: HTTP_PORT=9001 python -m b\n")
    assert [s.name for s in parse_procfile(procfile)] == ["a"]
    with pytest.raises(ValueError, match="duplicate HTTP_PORT"):
        parse_procfile(procfile, include_disabled=True)


# --------------------------------------------------------------------------------------------------
# What the launcher gives each process


def test_service_env_uses_our_nats_and_sqlite_under_var(tmp_path: Path) -> None:
    spec = parse_procfile_line("eligibility: HTTP_PORT=8001 python -m services.eligibility")
    env = service_env(
        spec,
        nats_url="nats://127.0.0.1:14222",
        var_dir=tmp_path,
        base={"NATS_URL": "nats://127.0.0.1:4222", "HOME": "/root"},
    )
    assert env["NATS_URL"] == "nats://127.0.0.1:14222"
    assert env["HTTP_PORT"] == "8001"
    assert env["HOME"] == "/root"
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(tmp_path / "eligibility.sqlite")
    assert env["SERVICE_LOG_DIR"] == str(tmp_path / "log")


def test_service_env_keeps_a_chosen_persistence_module(tmp_path: Path) -> None:
    spec = parse_procfile_line("eligibility: HTTP_PORT=8001 python -m services.eligibility")
    base = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_HOST": "127.0.0.1"}
    env = service_env(spec, nats_url="nats://127.0.0.1:14222", var_dir=tmp_path, base=base)
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert "SQLITE_DBNAME" not in env


@pytest.mark.parametrize(
    ("module", "runnable"),
    [
        ("infra.stack", True),
        (STUB, True),
        ("infra", False),  # a package without __main__
        ("infra.no_such_module", False),
        ("no_such_package.service", False),
    ],
)
def test_module_is_runnable(module: str, runnable: bool) -> None:
    assert module_is_runnable(module) is runnable


# --------------------------------------------------------------------------------------------------
# nats-server started by the launcher


@pytest.fixture(scope="module")
def local_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    tmp = tmp_path_factory.mktemp("local-nats")
    with run_nats(
        port=free_port(),
        http_port=free_port(),
        store_dir=tmp / "store",
        log_path=tmp / "nats.log",
        conf=LOCAL_NATS_CONF,
        echo=False,
    ) as server:
        yield server


def test_local_nats_listens_where_asked(local_nats: NatsServer) -> None:
    with http() as client:
        varz = client.get(f"{local_nats.monitor_url}/varz").json()
    assert varz["server_name"] == "housing-local"
    assert varz["port"] == local_nats.port
    assert varz["host"] == "127.0.0.1"
    assert varz["max_payload"] == 1024 * 1024
    with socket.create_connection(("127.0.0.1", local_nats.port), timeout=5) as sock:
        assert sock.recv(4) == b"INFO"


def test_local_nats_has_jetstream_in_the_given_store(local_nats: NatsServer) -> None:
    with http() as client:
        jsz = client.get(f"{local_nats.monitor_url}/jsz").json()
    assert not jsz.get("disabled", False)
    assert Path(jsz["config"]["store_dir"]).is_relative_to(local_nats.store_dir)


def test_local_nats_fsyncs_every_write(local_nats: NatsServer) -> None:
    with http() as client:
        config = client.get(f"{local_nats.monitor_url}/jsz").json()["config"]
    if "sync_always" not in config:
        pytest.skip("this nats-server does not report sync_always in /jsz")
    assert config["sync_always"] is True


def test_run_nats_stops_the_server_on_exit(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    with run_nats(
        port=port, http_port=http_port, store_dir=tmp_path / "s", log_path=tmp_path / "n.log", echo=False
    ) as server:
        process = server.child.process
    assert process.poll() is not None
    assert port_is_free(port)
    assert "Server is ready" in (tmp_path / "n.log").read_text()


def test_launcher_never_uses_port_4222(tmp_path: Path) -> None:
    with (
        pytest.raises(StackError, match="4222"),
        run_nats(
            port=4222, http_port=free_port(), store_dir=tmp_path, log_path=tmp_path / "n.log", echo=False
        ),
    ):
        pass


def test_launcher_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = int(holder.getsockname()[1])
        with (
            pytest.raises(StackError, match=f"port {busy} .* in use"),
            run_nats(
                port=busy, http_port=free_port(), store_dir=tmp_path, log_path=tmp_path / "n", echo=False
            ),
        ):
            pass


# --------------------------------------------------------------------------------------------------
# The whole launcher, with stand-in processes


def write_procfile(tmp_path: Path, *lines: str) -> Path:
    procfile = tmp_path / "Procfile"
    procfile.write_text("# stand-ins for the launcher's tests\n" + "\n".join(lines) + "\n")
    return procfile


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings a developer's shell or CI may carry must not change what these tests check."""
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "SERVICE_LOG_DIR", "NATS_URL"):
        monkeypatch.delenv(name, raising=False)


async def only_with_a_credential(stack: Stack) -> None:
    """`make run`'s bus: an anonymous client is refused; the operator's credential, made under var/
    as a secret, is taken."""
    with pytest.raises(NoCredential):
        await connect(stack.nats.url, "anonymous", attempts=2)
    assert stack.credentials is not None
    assert stat.S_IMODE((stack.credentials / "admin.nk").stat().st_mode) == 0o600
    nc = await connect(stack.nats.url, "operator", identity="admin", credentials=stack.credentials)
    await nc.close()


@pytest.mark.usefixtures("clean_env")
def test_start_stack_starts_stops_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = free_port(), free_port()
    procfile = write_procfile(
        tmp_path,
        f"first: HTTP_PORT={first} python -m {STUB}",
        f"ghost: HTTP_PORT={free_port()} python -m infra.no_such_service",
        f"second: HTTP_PORT={second} python -m {STUB}",
    )
    var = tmp_path / "var"
    with start_stack(
        procfile=procfile,
        var_dir=var,
        nats_port=free_port(),
        nats_http_port=free_port(),
        create_streams_first=False,
    ) as stack:
        assert list(stack.services) == ["first", "second"]
        assert [s.name for s in stack.skipped] == ["ghost"]
        with http() as client:
            assert client.get(f"{stack.base_url('second')}/readyz").status_code == 200
            env = client.get(f"{stack.base_url('first')}/env").json()
        assert env == {
            "NATS_URL": stack.nats.url,
            "HTTP_PORT": str(first),
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(var / "first.sqlite"),
            "SERVICE_LOG_DIR": str(var / "log"),
        }
        box = where_to_look(stack)
        processes = [s.child.process for s in stack.services.values()]
        asyncio.run(only_with_a_credential(stack))

    assert stack.nats.monitor_url in box
    assert f"http://127.0.0.1:{first}/docs" in box
    assert "ghost" in box
    assert all(p.poll() is not None for p in processes)
    assert stack.nats.child.process.poll() is not None
    assert "stub: SIGTERM received" in (var / "log" / "first.log").read_text()
    assert (var / "log" / "nats.log").exists()
    out = capsys.readouterr().out
    assert re.search(r"^first  \| stub: listening", out, re.MULTILINE)
    stops = [out.index(f"{name} stopped") for name in ("second", "first", "nats-server")]
    assert stops == sorted(stops), "processes stop in reverse order, nats-server last"


@pytest.mark.usefixtures("clean_env")
def test_start_stack_reports_a_process_that_exits_early(tmp_path: Path) -> None:
    nats_port = free_port()
    procfile = write_procfile(tmp_path, f"crash: STUB_EXIT_CODE=3 HTTP_PORT={free_port()} python -m {STUB}")
    with (
        pytest.raises(StackError) as failure,
        start_stack(
            procfile=procfile,
            var_dir=tmp_path / "var",
            nats_port=nats_port,
            nats_http_port=free_port(),
            create_streams_first=False,
            echo=False,
        ),
    ):
        pytest.fail("the stack must not come up")
    message = str(failure.value)
    assert "crash exited with code 3" in message
    assert "stub: exiting early with code 3" in message  # the log's tail
    assert port_is_free(nats_port), "nats-server is stopped too"


def _read_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


@pytest.mark.usefixtures("clean_env")
def test_make_run_command_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    procfile = write_procfile(tmp_path, f"only: HTTP_PORT={free_port()} python -m {STUB}")
    env = {
        **os.environ,
        "HOUSING_NATS_PORT": str(free_port()),
        "HOUSING_NATS_HTTP_PORT": str(free_port()),
    }
    command = [sys.executable, "-m", "infra.stack", "--procfile", str(procfile)]
    command += ["--var-dir", str(tmp_path / "var"), "--no-streams"]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while not any("Ctrl-C stops everything" in line for line in seen):
            try:
                seen.append(lines.get(timeout=90))
            except queue.Empty:
                pytest.fail("the launcher did not print its box:\n" + "".join(seen))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0, "".join(seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert "only stopped" in output
    assert "stack | stopped" in output


# --------------------------------------------------------------------------------------------------
# Files for running beyond one machine


def test_compose_file_is_complete() -> None:
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert {"nats-n1", "nats-n2", "nats-n3", "postgres", "otel-collector", "jaeger", "streams"} <= set(
        services
    )
    # every process of this city's stack (peer cities' `<service>-<city>` processes are other
    # deployments) is a compose service on the same module and port
    ours = [spec for spec in parse_procfile(include_disabled=True) if "-" not in spec.name]
    assert {spec.name for spec in ours} <= set(services)
    for spec in ours:
        service = services[spec.name]
        assert service["command"] == [spec.module], spec.name
        assert service["environment"]["HTTP_PORT"] == str(spec.http_port), spec.name
        env = service["environment"]
        assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        assert env["POSTGRES_SCHEMA"] == spec.name
        assert {"NATS_URL", "POSTGRES_HOST", "POSTGRES_DBNAME", "OTEL_EXPORTER_OTLP_ENDPOINT"} <= set(env)
        if spec.name != "gateway":
            # services whose state is all in their store run two replicas (leases share the loops;
            # every read asks the shared store for newer events)
            scales = spec.name in ("eligibility", "penalties", "resettlement", "training")
            assert service["deploy"]["replicas"] == (2 if scales else 1), spec.name
            assert env["AGGREGATE_CACHE_FASTFORWARD"] == "y"
    routed = json.loads(services["gateway"]["environment"]["SERVICES"])
    assert set(routed) == {spec.name for spec in ours} - {"gateway"}
    assert services["streams"]["environment"]["STREAM_REPLICAS"] == "3"
    for node in ("n1", "n2", "n3"):
        assert services[f"nats-{node}"]["image"].startswith("nats:2.12")
    for service in services.values():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (INFRA / source).exists(), source


def test_collector_config_sends_traces_to_jaeger() -> None:
    collector = yaml.safe_load((INFRA / "otel" / "collector.yaml").read_text())
    traces = collector["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"]
    for exporter in traces["exporters"]:
        assert exporter in collector["exporters"]
    assert any("jaeger" in str(collector["exporters"][e]) for e in traces["exporters"])


def test_procfile_is_where_the_launcher_reads_it() -> None:
    assert PROCFILE == INFRA / "local" / "Procfile"
    assert PROCFILE.is_file()


def test_the_gateway_is_told_this_citys_services_and_not_the_peer_cities() -> None:
    specs = [
        parse_procfile_line("eligibility: HTTP_PORT=8001 python -m services.eligibility"),
        parse_procfile_line("federation: HTTP_PORT=8006 python -m federation"),
        parse_procfile_line("federation-gz: HTTP_PORT=8106 FEDERATION_CITY=CN-GZ python -m federation"),
        parse_procfile_line("gateway: HTTP_PORT=8000 python -m gateway"),
    ]
    assert json.loads(gateway_services(specs)) == {
        "eligibility": "http://127.0.0.1:8001",
        "federation": "http://127.0.0.1:8006",
    }


def test_collector_scrapes_every_service_of_the_compose_file() -> None:
    collector = yaml.safe_load((INFRA / "otel" / "collector.yaml").read_text())
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())["services"]
    jobs = collector["receivers"]["prometheus"]["config"]["scrape_configs"]
    scraped = {name: sd["port"] for job in jobs for sd in job["dns_sd_configs"] for name in sd["names"]}
    ours = {
        name: int(s["environment"]["HTTP_PORT"])
        for name, s in compose.items()
        if "HTTP_PORT" in s.get("environment", {})
    }
    assert scraped == ours
