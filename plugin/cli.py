"""The ``consentry`` command line.

    consentry up                      the whole service on the embedded defaults
    consentry web | worker [QUEUES]   the parts, for scale-out on several hosts
    consentry gate                    the media gate nginx asks (part of `up`)
    consentry migrate                 bring the database schema up to date
    consentry schedule                enqueue periodic jobs (part of `up`)
    consentry watch                   follow the instance's deletions (part of `up`)
    consentry scan PATH... [--json]   hash (and classify, match) local files
    consentry bank import FILE --bank NAME --category C
    consentry bank export --bank NAME
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from plugin.errors import ConfigError, ConsentryError
from plugin.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except ConfigError as exc:
        print(f"consentry: configuration error: {exc.message}", file=sys.stderr)
        return 2
    except ConsentryError as exc:
        print(f"consentry: {exc.message}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consentry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run everything (embedded Redis, web, workers)").set_defaults(
        func=cmd_up)
    sub.add_parser("web", help="run the web service (gunicorn)").set_defaults(func=cmd_web)
    sub.add_parser("gate", help="run the media gate for nginx auth_request (docs/nginx.md)") \
        .set_defaults(func=cmd_gate)
    sub.add_parser("watch", help="follow the instance's stream for deleted posts (part of up)") \
        .set_defaults(func=cmd_watch)
    worker = sub.add_parser("worker", help="run a worker")
    worker.add_argument("queues", nargs="*", help="queues to serve (default: all)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="migrate the database").set_defaults(func=cmd_migrate)
    sub.add_parser("schedule", help="enqueue periodic jobs (run by `consentry up`)") \
        .set_defaults(func=cmd_schedule)
    scan = sub.add_parser("scan", help="hash and match local files")
    scan.add_argument("paths", nargs="+", type=Path)
    scan.add_argument("--json", action="store_true", help="one JSON object per line")
    scan.set_defaults(func=cmd_scan)
    bank = sub.add_parser("bank", help="import and export hash banks")
    bank_sub = bank.add_subparsers(dest="bank_command", required=True)
    imp = bank_sub.add_parser("import", help="import hashes (resumable)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--bank", required=True)
    imp.add_argument("--category", required=True)
    imp.add_argument("--format", choices=["csv", "pytx"], default="csv")
    imp.add_argument("--signal-type", help="pytx files with bare values: their type")
    imp.add_argument("--licensed", action="store_true",
                     help="the list is licensed from others: never export or share it")
    imp.set_defaults(func=cmd_bank_import)
    exp = bank_sub.add_parser("export", help="export a bank to stdout")
    exp.add_argument("--bank", required=True)
    exp.add_argument("--format", choices=["csv", "pytx"], default="csv")
    exp.set_defaults(func=cmd_bank_export)
    from plugin.cli_peers import add_parser as add_peers_parser

    add_peers_parser(sub)
    from plugin.cli_moderators import add_parser as add_moderators_parser

    add_moderators_parser(sub)
    from plugin.cli_protect import add_parser as add_protect_parser

    add_protect_parser(sub)
    return parser


def _services(settings: Settings):
    from plugin.services import Services

    services = Services.from_settings(settings)
    services.db.migrate()
    return services


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.supervisor import up

    return up(settings)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.supervisor import child_env, web_command

    _services(settings)
    os.execve(sys.executable, web_command(settings), child_env(settings))
    return 0


def cmd_gate(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.gate.server import run

    if not settings.gate_bind:
        raise ConfigError("CONSENTRY_GATE_BIND is empty: the gate has nowhere to listen")
    return run(settings)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.main import run_worker

    _services(settings)
    run_worker(args.queues, burst=args.burst)
    return 0


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.scheduler import run_schedule

    run_schedule(_services(settings))
    return 0


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import threading

    from plugin.consent.deletions import watch_deletions

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watch_deletions(_services(settings), stop)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _services(settings)
    print("database is up to date")
    return 0


def cmd_scan(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.scanning import ScanContext, scan_bytes
    from workers.context import load_classify_stages

    services = _services(settings)
    ctx = ScanContext(services=services, matcher=services.matcher,
                      classifiers=load_classify_stages(settings))
    failed = 0
    for path in args.paths:
        record: dict[str, object] = {"path": str(path)}
        try:
            record.update(state="scanned", error=None, **scan_bytes(path.read_bytes(), ctx))
        except OSError as exc:
            record.update(state="error", error=f"cannot read: {exc.strerror}")
            failed += 1
        except ConsentryError as exc:
            record.update(state="error", error=f"{exc.code}: {exc.message}")
            failed += 1
        if args.json:
            print(json.dumps(record, sort_keys=True))
        else:
            matches = ", ".join(f"{m['bank']}:{m['distance']}" for m in record.get("matches", []))
            print(f"{path}: {record['state']} pdq={record.get('pdq')} "
                  f"q={record.get('pdq_quality')} matches=[{matches}] {record['error'] or ''}")
    return 1 if failed else 0


def cmd_bank_import(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.banks_io import import_file

    services = _services(settings)
    report = import_file(services.banks, services.kv, args.file, bank=args.bank,
                         category=args.category, fmt=args.format, signal_type=args.signal_type,
                         licensed=args.licensed, progress=sys.stderr)
    print(json.dumps({k: v for k, v in report.items() if k != "errors"}
                     | {"errors": len(report["errors"]), "first_errors": report["errors"][:20]}))
    return 0 if not report["errors"] else 1


def cmd_bank_export(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.banks_io import export_rows

    services = _services(settings)
    for line in export_rows(services.banks, args.bank, args.format):
        sys.stdout.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
