"""Who may do what on the bus: one NATS nkey per service, department feed and signal source, with
permissions derived from the contracts catalogue.

A forged `fact-reported` on an open bus exits a family, so every nats-server the project starts
requires an nkey (nats-server's own challenge-response: the client signs the server's nonce with its
Ed25519 seed; nothing of ours is in the handshake) and gives each key only what its holder does:

- a **service** publishes the subjects of the events the catalogue says it produces, its own dead
  letters and its own lease keys; it uses the JetStream API only for the streams it reads (info,
  direct reads of a sequence) and for its own durable consumers (`<service>-<stream>`) on them; it
  receives only on its own inbox prefix (`_INBOX_<identity>.`), so no one reads another's replies;
- a **department** feed publishes only `housing.department.<event>.<its department>`: consumers check
  that the subject's department is the payload's (`services.kit.inbox`), so a department cannot
  report in another's name;
- a **signal source** (the estates' door readers, the utilities) publishes only its own signal;
- **admin** (the operator's tool: creating streams, replaying dead letters, the tests' and
  benchmarks' inspection) may do everything. It is never given to a service.

`write(directory, identities)` makes the seeds (0600, kept across runs) and the server's
`nats-auth.conf` (public keys and permissions, rewritten each time so a change of the catalogue
reaches the server at its next start), each through the kit's atomic writer (`services.kit.keys`).
`python -m services.kit.busauth <directory>` does it from a shell (compose's init container).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nkeys

from contracts.catalogue import EVENTS, STREAMS
from contracts.department import Department
from services.kit.keys import write_file

AUTH_CONF = "nats-auth.conf"
SEED_SUFFIX = ".nk"
ADMIN = "admin"
SERVICES = ("eligibility", "penalties", "resettlement", "training", "monitoring", "federation")
SIGNAL_SOURCES = {"door-access": "housing.signals.door-access", "utility": "housing.signals.utility-reading"}
LEASE_BUCKET = "housing_leases"  # services.kit.lease.BUCKET (not imported: lease imports nats.js)

ALSO_PUBLISHES: Mapping[str, tuple[str, ...]] = {
    # Monitoring's HTTP intake takes door-access batches from readers that cannot speak NATS and
    # publishes them on SIGNALS itself (services/monitoring/api.py).
    "monitoring": ("housing.signals.>",),
}


def department_identity(department: Department | str) -> str:
    return f"department-{Department(department).value}"


def inbox_prefix(identity: str) -> str:
    """The reply-subject prefix of `identity`'s connection: the only subjects it may receive on."""
    return f"_INBOX_{identity}"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def _consumed_streams(role: str) -> list[str]:
    subjects = {spec.subject_filter for spec in EVENTS if role in spec.consumers}
    return sorted({stream.name for stream in STREAMS for s in subjects if _in_stream(s, stream.subjects)})


def _in_stream(subject: str, stream_subjects: Iterable[str]) -> bool:
    return any(subject.startswith(pattern.removesuffix(">")) for pattern in stream_subjects)


def service_permissions(identity: str, role: str) -> Permissions:
    """What the process `identity` (its SERVICE_NAME) of the service `role` may do: its durable
    consumers, dead letters and lease keys are named after `identity`, its subjects after `role`.

    The local demo's peer cities (`federation-cn-gz`, role `federation`) share Foshan's bus and so
    hold federation's subjects too; in a deployment each city has a bus of its own."""
    produces = sorted({spec.subject_filter for spec in EVENTS if spec.producer == role})
    api = "$JS.API"
    publish = [*produces, *ALSO_PUBLISHES.get(role, ())]
    publish += [f"housing.deadletter.{identity}", f"{api}.INFO"]
    for stream in sorted({*_consumed_streams(role), "DEADLETTER"}):
        publish += [f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.MSG.GET.{stream}"]
        publish += [f"{api}.DIRECT.GET.{stream}", f"{api}.DIRECT.GET.{stream}.>"]
    for stream in _consumed_streams(role):
        durable = f"{identity}-{stream}".lower()
        publish += [
            f"{api}.CONSUMER.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.CREATE.{stream}.{durable}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.INFO.{stream}.{durable}",
            f"{api}.CONSUMER.DELETE.{stream}.{durable}",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    kv = f"KV_{LEASE_BUCKET}"
    publish += [
        f"{api}.STREAM.INFO.{kv}",
        f"{api}.STREAM.CREATE.{kv}",
        f"{api}.STREAM.MSG.GET.{kv}",
        f"{api}.DIRECT.GET.{kv}.$KV.{LEASE_BUCKET}.{identity}.>",
        f"$KV.{LEASE_BUCKET}.{identity}.>",
    ]
    return Permissions(tuple(publish), (f"{inbox_prefix(identity)}.>",))


def department_permissions(department: Department) -> Permissions:
    publish = tuple(
        spec.subject_for(department=department.value)
        for spec in EVENTS
        if spec.context == "department" and "department" in spec.parameters
    )
    return Permissions(publish, (f"{inbox_prefix(department_identity(department))}.>",))


def permissions(identity: str, role: str | None = None) -> Permissions:
    """The permissions of `identity`; `role`: the service it runs, when its name is not the service's."""
    if identity == ADMIN or role == ADMIN:  # role admin: a tool of the operator's under its own name
        return Permissions((">",), (">",))
    if identity in SIGNAL_SOURCES:
        return Permissions((SIGNAL_SOURCES[identity],), (f"{inbox_prefix(identity)}.>",))
    if identity.startswith("department-"):
        return department_permissions(Department(identity.removeprefix("department-")))
    role = role or identity
    if role not in SERVICES:
        raise ValueError(f"{identity}: not a service, department, signal source or {ADMIN}")
    return service_permissions(identity, role)


def standard_identities() -> dict[str, str | None]:
    """Every identity of a stack, with the service each runs (None: not a service)."""
    found: dict[str, str | None] = {ADMIN: None}
    found.update({service: service for service in SERVICES})
    found.update({department_identity(d): None for d in Department})
    found.update({source: None for source in SIGNAL_SOURCES})
    return found


def seed_file(directory: Path, identity: str) -> Path:
    return directory / f"{identity}{SEED_SUFFIX}"


def _public_key(seed: bytes) -> str:
    key = nkeys.from_seed(bytearray(seed))
    public = str(key.public_key.decode())
    key.wipe()
    return public


def ensure_seed(directory: Path, identity: str) -> str:
    """The public key of `identity`, its seed made at the first call."""
    path = seed_file(directory, identity)
    if not path.exists():
        write_file(path, nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER), secret=True)
    return _public_key(path.read_bytes().strip())


def _conf_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write(directory: Path, identities: Mapping[str, str | None] | None = None) -> Path:
    """Seeds for `identities` (default: the standard set) and the server's `nats-auth.conf`, which
    names every seed's public key in the directory, so keys made for extra processes stay valid."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    wanted = dict(standard_identities())
    wanted.update(identities or {})
    roles_file = directory / "roles.json"
    known: dict[str, str | None] = json.loads(roles_file.read_text()) if roles_file.exists() else {}
    known.update(wanted)
    users = []
    for identity, role in sorted(known.items()):
        public = ensure_seed(directory, identity)
        granted = permissions(identity, role)
        users.append(
            f"    {{ nkey: {public}  # {identity}\n"
            f"      permissions: {{ publish: {{ allow: {_conf_list(granted.publish)} }},\n"
            f"                     subscribe: {{ allow: {_conf_list(granted.subscribe)} }} }} }}"
        )
    write_file(roles_file, json.dumps(known, indent=1, sort_keys=True).encode())
    conf = directory / AUTH_CONF
    text = (
        "# Written by services.kit.busauth: every identity of the bus and what it may do. Generated, never\n"
        "# committed; the seeds beside it are secrets (0600).\n"
        "authorization {\n  users: [\n" + ",\n".join(users) + "\n  ]\n}\n"
    )
    write_file(conf, text.encode())
    return conf


def main() -> None:
    parser = argparse.ArgumentParser(description="Make the bus credentials and nats-server's authorization.")
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=ROLE",
        help="an extra service process, e.g. federation-cn-gz=federation",
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.service)
    print(write(args.directory, {name: role for name, role in extra.items()}))


if __name__ == "__main__":
    main()
