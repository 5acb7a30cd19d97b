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
    verify = sub.add_parser("verify-audit", help="check the audit log's hash chain")
    verify.add_argument("path", type=Path, nargs="?", help="default: the configured audit file")
    demo = sub.add_parser("demo-init", help="(re)write the demo cities' keys, directories and data")
    demo.add_argument("--out", type=Path, default=None)
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
        from federation.audit import verify_audit

        path = args.path or FederationSettings().audit_path()
        report = verify_audit(path)
        if report.first_broken is None:
            print(f"{path}: {report.lines} entries, chain intact")
            return 0
        print(f"{path}: first broken entry at line {report.first_broken}: {report.reason}")
        return 1
    if args.command == "demo-init":
        from federation.demo import DEMO_CITIES, write_demo
        from federation.settings import DEMO_DIR

        write_demo(args.out or DEMO_DIR, {code: 8006 + i * 100 for i, code in enumerate(DEMO_CITIES)})
        return 0

    from federation.service import build
    from services.kit.http import observe, serve

    settings = FederationSettings()
    observe(settings)
    api, _ = build(settings)
    serve(api, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
