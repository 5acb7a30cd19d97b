"""The service-assertion key where the stacks make it: `make run`'s launcher before any process starts
(the services pin its public half at their start), and compose's one-shot job before the services."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import yaml

from infra.stack import ASSERTION_KEY, PROCFILE, identity_env, parse_procfile, service_identity
from services.kit.identity import GATEWAY_ISSUER, Minter, Verifier, public_path_of

INFRA = Path(__file__).resolve().parents[2] / "infra"


def test_the_launcher_makes_the_pair_once_and_tells_each_process_its_part(tmp_path: Path) -> None:
    private = service_identity(tmp_path, echo=False)
    assert private == tmp_path / ASSERTION_KEY
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    assert service_identity(tmp_path, echo=False) == private and private.read_bytes() == before, "kept"

    specs = {spec.name: spec for spec in parse_procfile(PROCFILE)}
    gateway, eligibility = (
        identity_env(specs["gateway"], private),
        identity_env(specs["eligibility"], private),
    )
    trusted = {GATEWAY_ISSUER: [str(public_path_of(private).resolve())]}
    assert (
        json.loads(eligibility["SERVICE_TRUST_KEYS"]) == json.loads(gateway["SERVICE_TRUST_KEYS"]) == trusted
    )
    assert "ASSERTION_KEY_FILE" not in eligibility, "only the gateway holds the private key"
    assert gateway["ASSERTION_KEY_FILE"] == str(private.resolve())
    for name in ("federation", "federation-gz"):  # peer cities' processes pin the same key
        assert json.loads(identity_env(specs[name], private)["SERVICE_TRUST_KEYS"]) == trusted

    files = {issuer: [Path(p) for p in paths] for issuer, paths in trusted.items()}
    assertion = Minter.from_file(private).headers("eligibility", "reviewer.he", "reviewer")["authorization"]
    assert Verifier("eligibility", files).authenticate(assertion).subject == "reviewer.he"


def test_compose_makes_the_pair_before_the_services_and_gives_them_the_public_half_only() -> None:
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    job = services["service-keys"]
    assert job["command"][:2] == ["services.kit.identity", "keygen"]
    assert "gateway-keys:/app/var/gateway" in job["volumes"]
    assert "service-trust:/app/var/trust" in job["volumes"]
    ours = [spec for spec in parse_procfile(include_disabled=True) if "-" not in spec.name]
    for spec in ours:
        service = services[spec.name]
        assert service["depends_on"]["service-keys"]["condition"] == "service_completed_successfully"
        if spec.name == "gateway":
            assert service["environment"]["ASSERTION_KEY_FILE"] == "/app/var/gateway/assertion-key.pem"
            assert any(v.startswith("gateway-keys:/app/var/gateway") for v in service["volumes"])
            continue
        pinned = json.loads(service["environment"]["SERVICE_TRUST_KEYS"])
        assert pinned == {GATEWAY_ISSUER: ["/app/var/trust/assertion-key.pub.pem"]}
        assert "service-trust:/app/var/trust:ro" in service["volumes"]
        assert not any(v.startswith("gateway-keys") for v in service.get("volumes", [])), spec.name
