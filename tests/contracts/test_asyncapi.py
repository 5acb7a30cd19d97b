"""The committed AsyncAPI document is exactly the catalogue's, and is well-formed AsyncAPI 3.0.0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.asyncapi import DOCUMENT_PATH, build_document, channel_id, main, message_id, render
from contracts.catalogue import EVENTS


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return loaded


def test_committed_document_is_up_to_date() -> None:
    committed = DOCUMENT_PATH.read_text(encoding="utf-8") if DOCUMENT_PATH.exists() else ""
    assert committed == render(), (
        "contracts/asyncapi.yaml is stale or missing: run `make asyncapi` (python -m contracts.asyncapi) "
        "and commit the result"
    )


def test_generation_is_deterministic() -> None:
    assert render() == render()
    assert yaml.safe_load(render()) == build_document()


def test_check_flag_reports_a_stale_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n", encoding="utf-8")
    assert main(["--check", "--output", str(stale)]) == 1
    assert "make asyncapi" in capsys.readouterr().err
    assert main(["--check", "--output", str(tmp_path / "missing.yaml")]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--check", "--output", str(stale)]) == 0
    assert main(["--check"]) == 0


def test_is_asyncapi_3_with_the_local_nats_server(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Housing exit platform events"
    assert document["info"]["version"]
    assert document["servers"]["local"] == {**document["servers"]["local"], "host": "127.0.0.1:14222"}
    assert document["servers"]["local"]["protocol"] == "nats"


def test_a_channel_for_every_catalogue_subject(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {spec.subject for spec in EVENTS}
    for spec in EVENTS:
        channel = document["channels"][channel_id(spec)]
        assert channel["address"] == spec.subject
        assert message_id(spec) in channel["messages"]
        assert set(channel.get("parameters", {})) == set(spec.parameters)


def test_operations_name_every_producer_and_consumer(document: dict[str, Any]) -> None:
    operations = document["operations"]
    for spec in EVENTS:
        channel_ref = {"$ref": f"#/channels/{channel_id(spec)}"}
        message_ref = {"$ref": f"#/channels/{channel_id(spec)}/messages/{message_id(spec)}"}
        expected = [(spec.producer, "send")] + [(consumer, "receive") for consumer in spec.consumers]
        for service, action in expected:
            matching = [
                op
                for op in operations.values()
                if op["action"] == action
                and op["channel"] == channel_ref
                and {"name": service} in op["tags"]
                and message_ref in op["messages"]
            ]
            assert len(matching) == 1, f"{service} should {action} {spec.subject} exactly once"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable {ref}"
        node = node[part]
    return node


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_messages_are_envelopes_around_the_payload_schema(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for spec in EVENTS:
        message = messages[message_id(spec)]
        assert message["contentType"] == "application/json"
        assert message["name"] == spec.payload.__name__
        assert "Nats-Msg-Id" in _resolve(document, message["headers"]["$ref"])["properties"]
        payload_ref = f"#/components/schemas/{spec.payload.__name__}"
        if not spec.enveloped:
            assert message["payload"] == {"$ref": payload_ref}
            continue
        properties = message["payload"]["properties"]
        assert properties["data"] == {"$ref": payload_ref}
        assert properties["type"]["const"] == spec.type
        assert properties["dataschema"]["const"] == spec.dataschema
        assert properties["specversion"]["const"] == "1.0"
        assert "traceparent" in _resolve(document, message["headers"]["$ref"])["properties"]


def test_discriminators_use_the_asyncapi_form(document: dict[str, Any]) -> None:
    fact = document["components"]["schemas"]["DepartmentFactReported"]["properties"]["fact"]
    assert fact["discriminator"] == "kind"
    assert len(fact["oneOf"]) == 7
