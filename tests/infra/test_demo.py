"""The walking skeleton end to end: the launcher starts its nats-server, the streams, eligibility and
the gateway as real processes; the demo registers households, posts department facts and reads the
automated decisions back, as `make demo` does (on free ports, so a running `make run` is no obstacle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.demo import HOUSEHOLDS, run_demo
from infra.stack import start_stack
from tests.support.nats import free_port


def test_demo_flow_on_a_real_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "NATS_URL", "POSTGRES_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    procfile = tmp_path / "Procfile"
    eligibility = free_port()
    services = f'{{"eligibility":"http://127.0.0.1:{eligibility}"}}'
    procfile.write_text(
        f"eligibility: HTTP_PORT={eligibility} python -m services.eligibility\n"
        f"gateway: HTTP_PORT={free_port()} SERVICES='{services}' python -m gateway\n"
    )
    with start_stack(
        procfile=procfile,
        var_dir=tmp_path / "var",
        nats_port=free_port(),
        nats_http_port=free_port(),
        echo=False,
    ) as stack:
        assert run_demo(stack.base_url("eligibility"), stack.base_url("gateway"))
    output = capsys.readouterr().out
    assert f"{len(HOUSEHOLDS)} of {len(HOUSEHOLDS)} decisions as expected" in output
    assert "1 duplicate" in output and "1 rejected" in output
    assert "refused line" in output and "amount" in output
    assert "gateway sees: eligibility ready\n" in output  # the launcher told it what runs, nothing else
    assert "440604" not in output  # no ID number printed, not even the synthetic ones
