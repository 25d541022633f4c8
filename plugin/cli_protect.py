"""``consentry protect``: register protected pictures and look for derivatives from a shell.

    consentry protect add PATH... [--owner ACTOR_URI] [--visibility public|local]
    consentry protect match PATH... [--json]

``add`` fingerprints each file and registers it (the matcher in every running worker picks
it up within a second, through the change log); ``match`` prints, per file, the protected
pictures it derives from: one JSON object per line with ``--json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from plugin.errors import ConsentryError
from plugin.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    protect = sub.add_parser("protect", help="protected pictures (derivative detection)")
    psub = protect.add_subparsers(dest="protect_command", required=True)
    add = psub.add_parser("add", help="register files as protected pictures")
    add.add_argument("paths", nargs="+", type=Path)
    add.add_argument("--owner", default="admin:local", help="the owner's actor URI")
    add.add_argument("--visibility", choices=["public", "local"], default="local")
    add.set_defaults(func=cmd_add)
    match = psub.add_parser("match", help="find the protected pictures files derive from")
    match.add_argument("paths", nargs="+", type=Path)
    match.add_argument("--json", action="store_true", help="one JSON object per line")
    match.set_defaults(func=cmd_match)


def _services(settings: Settings):
    from plugin.services import Services

    services = Services.from_settings(settings)
    services.db.migrate()
    return services


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.protection.register import register_bytes
    from plugin.storage.protected_store import ProtectedStore

    services = _services(settings)
    store, failed = ProtectedStore(services.db), 0
    for path in args.paths:
        try:
            row, created = register_bytes(store, path.read_bytes(), owner=args.owner,
                                          source=f"file:{path.name}",
                                          max_pixels=settings.media_max_pixels,
                                          visibility=args.visibility)
            print(json.dumps({"path": str(path), "id": row["id"], "created": created,
                              "sha256": row["sha256"], "pdq": row["pdq"]}))
        except (OSError, ConsentryError) as exc:
            failed += 1
            print(json.dumps({"path": str(path), "error": str(exc)}))
    return 1 if failed else 0


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.media.decode import decode_image
    from plugin.protection.matcher import ProtectedMatcher
    from plugin.storage.protected_store import ProtectedStore

    services = _services(settings)
    matcher, failed = ProtectedMatcher(ProtectedStore(services.db)), 0
    for path in args.paths:
        record: dict[str, object] = {"path": str(path)}
        try:
            image = decode_image(path.read_bytes(), max_pixels=settings.media_max_pixels).image
            record["matches"] = [{k: m[k] for k in ("id", "owner", "score", "evidence")}
                                 for m in matcher.match(image)]
        except OSError as exc:
            record.update(matches=[], error=f"cannot read: {exc.strerror}")
            failed += 1
        except ConsentryError as exc:
            record.update(matches=[], error=f"{exc.code}: {exc.message}")
            failed += 1
        if args.json:
            print(json.dumps(record, sort_keys=True))
        else:
            found = ", ".join(f"#{m['id']} {m['owner']} {m['score']:.2f}"
                              for m in record["matches"])  # type: ignore[union-attr]
            print(f"{path}: [{found}] {record.get('error', '')}")
    return 1 if failed else 0
