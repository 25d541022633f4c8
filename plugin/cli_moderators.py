"""``consentry moderators …``: the accounts that sign in to the review queue.

    consentry moderators add NAME [--admin] [--password-stdin]
    consentry moderators passwd NAME [--password-stdin]
    consentry moderators disable NAME | enable NAME

Passwords are read from the terminal (twice) or, for scripts, from the first line of stdin.
Changing a password or disabling an account ends its open sessions.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from plugin.errors import BadRequest
from plugin.settings import Settings


def add_parser(sub: Any) -> None:
    mods = sub.add_parser("moderators", help="moderator accounts for the review queue")
    msub = mods.add_subparsers(dest="moderators_command", required=True)
    add = msub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true",
                     help="may export statements, open legal holds and see the job dashboard")
    passwd = msub.add_parser("passwd", help="set a new password")
    passwd.add_argument("name")
    for p in (add, passwd):
        p.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        msub.add_parser(name, help=f"{name} an account").add_argument("name")
    mods.set_defaults(func=cmd_moderators)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise BadRequest("the passwords differ")
    return first


def cmd_moderators(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.review.passwords import hash_password
    from plugin.services import Services
    from plugin.storage.review_store import ReviewStore

    services = Services.from_settings(settings)
    services.db.migrate()
    store = ReviewStore(services.db)
    name = args.name
    if args.moderators_command == "add":
        if not name.isidentifier() and not name.replace("-", "_").replace(".", "_").isidentifier():
            raise BadRequest("a name is letters, digits, '-', '_' or '.'")
        store.moderator_create(name, hash_password(_password(args)),
                               "admin" if args.admin else "moderator")
        print(f"moderator {name} created")
    elif args.moderators_command == "passwd":
        store.moderator_update(name, password_hash=hash_password(_password(args)))
        print(f"password of {name} changed; open sessions ended")
    else:
        store.moderator_update(name, active=args.moderators_command == "enable")
        print(f"moderator {name} {args.moderators_command}d")
    return 0
