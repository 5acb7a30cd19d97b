"""`python -m federation [serve]` | `keygen` | `verify-audit` | `demo-init`.

Classes are imported from `federation.*` modules, never defined here: stored event topics name the
module, and `__main__` is not a stable one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from federation.settings import FederationSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m federation")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    keygen = sub.add_parser("keygen", help="write an Ed25519 key pair (PEM) and print its JWK x")
    keygen.add_argument("--out", type=Path, required=True, help="directory to write the key files to")
    keygen.add_argument("--key-id", required=True, help="e.g. CN-FS-2026a")
    verify = sub.add_parser(
        "verify-audit",
        help="check the audit log's chain against federation's store (in the service's environment)",
    )
    verify.add_argument("path", type=Path, nargs="?", help="default: the configured audit file")
    verify.add_argument(
        "--chain-only",
        action="store_true",
        help="check the chain without the store: entries cut off at the end then go unnoticed",
    )
    verify.add_argument(
        "--grace",
        type=float,
        default=3.0,
        help="seconds to wait for a running writer to append the store's newest events (default 3)",
    )
    demo = sub.add_parser("demo-init", help="(re)write the demo cities' keys, directories and data")
    demo.add_argument("--out", type=Path, default=None, help="default: var/federation (what make run uses)")
    demo.add_argument(
        "--if-stale",
        action="store_true",
        help="only when missing, or a key window has not begun or ends within 30 days (keeps linkage keys)",
    )
    args = parser.parse_args(argv)

    if args.command == "keygen":
        from federation.keys import keygen as write_keys

        private, x = write_keys(args.out, args.key_id)
        print(f"private key: {private}\npublic key:  {private.with_name(args.key_id + '.public.pem')}")
        print(
            f"directory entry:\n  - key_id: {args.key_id}\n    x: {x}\n"
            "    not_before: <ISO time with zone>\n    not_after: <ISO time with zone>"
        )
        return 0
    if args.command == "verify-audit":
        return _verify_audit(args.path or FederationSettings().audit_path(), args.chain_only, args.grace)
    if args.command == "demo-init":
        from federation.demo import DEMO_PORTS, ensure_demo, write_demo
        from federation.settings import DEMO_DIR

        out = args.out or DEMO_DIR
        if not args.if_stale:
            write_demo(out, DEMO_PORTS)
            print(f"demo federation written to {out}")
        elif (reason := ensure_demo(out, DEMO_PORTS)) is not None:
            print(f"demo federation written to {out} ({reason})")
        else:
            print(f"demo federation in {out} is valid for 30 days or more: kept")
        return 0

    from federation.service import build
    from services.kit.http import observe, serve

    settings = FederationSettings()
    observe(settings)
    api, _ = build(settings)
    serve(api, settings)
    return 0


def _verify_audit(path: Path, chain_only: bool, grace_s: float) -> int:
    """Exit 0 intact, 1 broken (the first broken line named), 2 cannot verify. The store (opened as
    `services.kit.integrity` opens it, from the service's environment: `SERVICE_NAME` names a city's
    database or schema) is what anchors the log's end:
    without it a log cut short still verifies, so it is needed unless `--chain-only` says otherwise."""
    from federation.application import FederationApp
    from federation.audit import verify_audit
    from services.kit.integrity import VerifyError, open_store
    from services.kit.store import ServiceApplication

    if not path.is_file():
        print(f"cannot verify: no audit log at {path}", file=sys.stderr)
        return 2
    store: ServiceApplication | None = None
    if not chain_only:
        try:
            store = open_store(FederationSettings().service_name, app_class=FederationApp)
        except VerifyError as exc:
            print(f"cannot verify: {exc} (or --chain-only, which cannot see a cut-off end)", file=sys.stderr)
            return 2
    try:
        report = verify_audit(path, store, grace_s)
    finally:
        if store is not None:
            store.close()
    if report.first_broken is not None:
        print(f"{path}: first broken entry at line {report.first_broken}: {report.reason}")
        return 1
    if store is None:
        print(f"{path}: {report.lines} entries, chain intact (end not checked: --chain-only)")
    else:
        last = report.store_last
        print(f"{path}: {report.lines} entries, chain intact, up to the store's last notification {last}")
        if report.lines == 0:
            print("the store and the log are empty: is this the service's environment?", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
