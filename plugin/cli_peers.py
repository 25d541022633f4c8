"""``consentry peers …``: pairing and peer settings from the command line.

    consentry peers list
    consentry peers add URL [--approve] [--message TEXT]
    consentry peers approve ID [--message TEXT]
    consentry peers reject ID
    consentry peers remove ID
    consentry peers set ID [--trust L] [--categories a,b|all] [--auto-act|--review]
                           [--max-action A] [--read peers|vetted]
    consentry peers release ID          lift a quarantine; replay the records it held
    consentry peers sync [ID]           pull now (all active peers without ID)
    consentry peers publish             publish new bank changes and nudge peers
    consentry peers identity [--rotate] show (or rotate) this instance's signing key

Same operations as the admin API (``/api/v1/peers``); both call ``plugin.federation.peers``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from plugin.settings import Settings


def add_parser(sub: Any) -> None:
    peers = sub.add_parser("peers", help="federation peers: pair, configure, sync")
    psub = peers.add_subparsers(dest="peers_command", required=True)
    psub.add_parser("list", help="list peers")
    add = psub.add_parser("add", help="add a peer by its base URL")
    add.add_argument("url")
    add.add_argument("--approve", action="store_true", help="also send our approval")
    add.add_argument("--message")
    for name in ("approve", "reject", "remove", "release"):
        p = psub.add_parser(name, help=f"{name} a peer")
        p.add_argument("id", type=int)
        if name == "approve":
            p.add_argument("--message")
    cfg = psub.add_parser("set", help="change a peer's trust settings")
    cfg.add_argument("id", type=int)
    cfg.add_argument("--trust", dest="trust_level", choices=("untrusted", "normal", "trusted"))
    cfg.add_argument("--categories", help="comma-separated categories, or 'all'")
    cfg.add_argument("--auto-act", dest="auto_act", action="store_const", const=True)
    cfg.add_argument("--review", dest="auto_act", action="store_const", const=False)
    cfg.add_argument("--max-action", dest="max_action")
    cfg.add_argument("--read", dest="read_visibility", choices=("peers", "vetted"))
    sync = psub.add_parser("sync", help="pull now")
    sync.add_argument("id", type=int, nargs="?")
    psub.add_parser("publish", help="publish new bank changes and nudge peers")
    ident = psub.add_parser("identity", help="show or rotate the signing key")
    ident.add_argument("--rotate", action="store_true")
    peers.set_defaults(func=cmd_peers)


def cmd_peers(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.cli import _services
    from plugin.federation import peers as ops
    from plugin.federation.context import federation

    fed = federation(_services(settings))
    command = args.peers_command
    result: Any
    if command == "list":
        result = fed.peers.peer_list()
    elif command == "add":
        result = ops.add_peer(fed, args.url, approve=args.approve, message=args.message)
    elif command == "approve":
        result = ops.approve_peer(fed, args.id, message=args.message)
    elif command == "reject":
        result = ops.reject_peer(fed, args.id)
    elif command == "remove":
        result = ops.remove_peer(fed, args.id)
    elif command == "release":
        from plugin.federation.release import release_peer

        result = release_peer(fed, args.id)
    elif command == "set":
        categories = None
        if args.categories:
            categories = "all" if args.categories == "all" else [
                c.strip() for c in args.categories.split(",") if c.strip()]
        result = ops.configure_peer(fed, args.id, trust_level=args.trust_level,
                                    categories=categories, auto_act=args.auto_act,
                                    max_action=args.max_action,
                                    read_visibility=args.read_visibility)
    elif command == "sync":
        from plugin.federation.sync import sync_all, sync_peer

        result = sync_peer(fed, args.id) if args.id else sync_all(fed)
    elif command == "publish":
        from plugin.federation.changelog import publish_bank_changes
        from workers.sync import nudge_peers

        result = publish_bank_changes(fed)
        result["nudge"] = nudge_peers(fed)
    else:  # identity
        if args.rotate:
            fed.identity.rotate()
        result = {"domain": fed.domain, "key_url": fed.key_url,
                  "keys": [k.to_json(fed.domain) for k in fed.identity.public_keys()]}
    print(json.dumps(result, indent=2, default=str))
    return 0
