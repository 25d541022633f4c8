"""Benchmark: cold sync of N hash records between two local instances, and propagation delay.

Why: the issue's targets are a cold sync of 1M records in <= 60 s and a steady-state
propagation (publish on A -> entry matchable on B) of <= 5 s. HMA fetches 5,000 records per
commit and needs ~4 min per run; our baseline here, measured in the same run on the same feed,
is that shape: records verified one by one in-process and written through the ORM path
(``BankStore.entries_add``), one commit per 5,000 (measured on a sample, extrapolated).

Set-up (not timed): two real instances on loopback (own SQLite databases, own Redis databases
on an embedded redis-server, own keys), paired; A holds N entries in a ``peers`` bank,
published into its change log. A runs as its own process, the production way (``consentry
web``: gunicorn, one gthread worker), so serving pages does not share B's interpreter lock;
B is this process (its sync, its proof-check process pool) with a threaded werkzeug server
for the pairing handshake.

Measured: (1) cold sync: ``sync_peer`` on B from cursor 0 until ``has_more`` is false, pages of
1,000: prefetch, structural proof checks on the process pool, one transaction per page; then
B's bank is counted (must hold all N entries); (2) the background proof pass that verifies
every deferred Ed25519 proof (``plugin.federation.proofs.verify_pending``), its rate; (3) the
HMA-style baseline on a sample of the same feed; (4) propagation: A adds one entry, publishes
and nudges; B's real ``consentry worker sync`` process pulls; we time until the entry is in
B's bank, 20 rounds, p50/p95/max.

    .venv/bin/python bench/sync.py                     # 1,000,000 records
    .venv/bin/python bench/sync.py --records 100000
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from redis import Redis
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugin.embedded_redis import EmbeddedRedis
from plugin.federation.changelog import publish_bank_changes
from plugin.federation.client import PeerClient
from plugin.federation.context import federation
from plugin.federation.peers import add_peer, approve_peer
from plugin.federation.proofs import verify_pending
from plugin.federation.records import verify_record
from plugin.federation.sync import sync_peer
from plugin.federation.wellknown import find_key
from plugin.services import Services
from plugin.settings import Settings
from plugin.storage.banks import EntryInput


class Node:
    def __init__(self, name: str, root: Path, redis: str, db: int, *,
                 serve_here: bool = True) -> None:
        sock = __import__("socket").socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.env = {
            "CONSENTRY_DATA_DIR": str(root / name), "CONSENTRY_REDIS_URL": f"{redis}?db={db}",
            "CONSENTRY_DATABASE_URL": f"sqlite:///{root / name}.db",
            "CONSENTRY_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            "CONSENTRY_FEDERATION_DOMAIN": f"{name}.test", "CONSENTRY_ALLOW_INSECURE_PEERS": "1",
            "CONSENTRY_ADMIN_TOKEN": "bench", "CONSENTRY_MASTODON_WEBHOOK_SECRET": "bench"}
        Redis.from_url(self.env["CONSENTRY_REDIS_URL"]).flushdb()
        self.settings = Settings.from_env(self.env)
        self.services = Services.from_settings(self.settings)
        self.services.db.migrate()
        self.fed = federation(self.services)
        self.process: subprocess.Popen[bytes] | None = None
        if serve_here:
            from plugin.web.app import create_app

            self.server = make_server("127.0.0.1", self.port,
                                      create_app(services=self.services), threaded=True)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve_in_process(self) -> None:
        """``consentry web`` (gunicorn, one gthread worker) with this node's environment."""
        env = {**os.environ, **self.env, "CONSENTRY_BIND": f"127.0.0.1:{self.port}",
               "CONSENTRY_WEB_WORKERS": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "plugin.cli", "web"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/.well-known/consentry",
                                timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("A's web process did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)


def hexes(start: int, n: int) -> list[tuple[str, str, None]]:
    """PDQ-shaped values that look random, as real hashes are: sequential values would make
    every hash-keyed index append-only and the receiving side's writes look cheaper."""
    return [("pdq", hashlib.sha256(i.to_bytes(8, "big")).hexdigest(), None)
            for i in range(start, start + n)]


def setup(records: int, root: Path, redis: str) -> tuple[Node, Node, int]:
    a, b = Node("a", root, redis, 1, serve_here=False), Node("b", root, redis, 2)
    bank = a.services.banks.bank_create("shared", "ncii", visibility="peers")
    t = time.perf_counter()
    for start in range(0, records, 20_000):
        a.fed.received.entries_add_bulk(bank["id"], hexes(start, min(20_000, records - start)),
                                        source="local")
    t_add = time.perf_counter() - t
    t = time.perf_counter()
    counts = publish_bank_changes(a.fed, batch=5000)
    t_pub = time.perf_counter() - t
    print(f"set-up: {records:,} entries added in {t_add:.1f} s; published "
          f"{counts['published']:,} signed records in {t_pub:.1f} s "
          f"({counts['published'] / t_pub:,.0f}/s)", flush=True)
    a.serve_in_process()
    add_peer(a.fed, f"http://127.0.0.1:{b.port}", approve=True)
    peer_id = b.fed.peers.peer_by_domain("a.test")["id"]
    approve_peer(b.fed, peer_id)
    return a, b, peer_id


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


def cold_sync(b: Node, peer_id: int, records: int) -> float:
    cpu = time.process_time()
    busy = machine_busy()
    t = time.perf_counter()
    summary = sync_peer(b.fed, peer_id)
    elapsed = time.perf_counter() - t
    cpu = time.process_time() - cpu
    after = machine_busy()
    if after[1] > busy[1]:
        share = (after[0] - busy[0]) / (after[1] - busy[1])
        print(f"machine CPU during the cold sync: {share:.0%} busy of {os.cpu_count()} cores "
              f"= {(after[0] - busy[0]) / records * 1e6:.0f} CPU-us per record, of which "
              f"B's main process {cpu / records * 1e6:.0f}", flush=True)
    assert "error" not in summary, summary
    print(f"cold sync (Consentry): {summary['records']:,} records, {summary['pages']} pages in "
          f"{elapsed:.1f} s = {summary['records'] / elapsed:,.0f} records/s  "
          f"(B main process CPU {cpu:.1f} s; {summary['unchecked']:,} proofs deferred)  "
          f"counts={summary['counts']}", flush=True)
    held = bank_size(b, "peer:a.test:ncii")
    assert held == records, f"B's bank holds {held:,} entries, expected {records:,}"
    print(f"B's bank peer:a.test:ncii holds {held:,} live entries (all {records:,})", flush=True)
    return elapsed


def bank_size(node: Node, bank: str) -> int:
    with node.services.db.engine.connect() as conn:
        return int(conn.exec_driver_sql(
            "SELECT count(*) FROM bank_entries e JOIN banks b ON b.id = e.bank_id "
            "WHERE b.name = ? AND e.removed_at IS NULL", (bank,)).scalar() or 0)


def proof_pass(b: Node, records: int) -> None:
    """The background pass that verifies the deferred proofs; all must verify."""
    out = verify_pending(b.fed)
    left = b.fed.received.received_count_unchecked()
    assert out["verified"] == records and out["refused"] == 0 and left == 0, (out, left)
    print(f"background proof pass: {out['verified']:,} Ed25519 proofs verified in "
          f"{out['seconds']:.1f} s = {out['per_s']:,} records/s ({out['refused']} refused, "
          f"{left} left unchecked; peer quarantined: "
          f"{b.fed.peers.peer_by_domain('a.test')['quarantined']})", flush=True)


def baseline(b: Node, peer: dict, sample: int, total: int) -> float:
    """HMA-shaped: sequential verify, ORM writes, one commit per 5,000 records."""
    client = PeerClient(b.fed)
    banks = b.services.banks
    banks.bank_create("baseline", "ncii")
    cursor, done, t = "0", 0, time.perf_counter()
    pending: list[EntryInput] = []
    while done < sample:
        page = client.changes(peer, cursor, 1000)
        for record in page.records:
            verify_record(record, lambda m: find_key(peer["keys"], m.split("#")[1], http=False))
            pending.append(EntryInput(record["hash_type"], record["hash_value"],
                                      source="peer:a.test"))
        if len(pending) >= 5000 or not page.has_more:
            banks.entries_add("baseline", pending)
            pending = []
        done += len(page.records)
        cursor = page.next
        if not page.has_more:
            break
    elapsed = time.perf_counter() - t
    projected = elapsed / done * total
    print(f"cold sync (baseline, HMA-style): {done:,} records in {elapsed:.1f} s = "
          f"{done / elapsed:,.0f} records/s -> {total:,} projected {projected:.0f} s", flush=True)
    return projected


def propagation(a: Node, b: Node, rounds: int) -> list[float]:
    from workers.sync import nudge_peers

    worker = subprocess.Popen([sys.executable, "-m", "plugin.cli", "worker", "sync"],
                              env={**os.environ, **b.env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    bank = "peer:a.test:ncii"
    delays = []
    try:
        time.sleep(3)
        for i in range(rounds + 1):
            value = f"{10**12 + i:064x}"
            t = time.perf_counter()
            a.services.banks.entries_add("shared", [EntryInput("pdq", value)])
            publish_bank_changes(a.fed)
            nudge_peers(a.fed)
            latest = a.fed.changelog.latest_id()
            peer_id = b.fed.peers.peer_by_domain("a.test")["id"]
            while not b.fed.received.received_known(peer_id, [latest]):
                if time.perf_counter() - t > 60:
                    raise RuntimeError("no propagation within 60 s")
                time.sleep(0.02)
            if i:  # round 0 warms the worker up
                delays.append(time.perf_counter() - t)
        live = {e["value"] for e in b.services.banks.entries_export(bank)}
        assert value in live, (value, len(live))
    finally:
        worker.terminate()
        worker.wait(10)
    q = statistics.quantiles(delays, n=20) if len(delays) > 1 else delays * 19
    print(f"propagation A->B ({rounds} rounds, publish+nudge+worker pull): "
          f"p50 {statistics.median(delays):.2f} s, p95 {q[18]:.2f} s, max {max(delays):.2f} s"
          f"  (baseline: periodic poll every 60 s -> mean 30 s)", flush=True)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline-sample", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # B's handshake server: no access log
    print(f"cpus={os.cpu_count()} records={args.records:,}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis = EmbeddedRedis(root / "redis", appendonly=False)
        url = redis.start()
        a = None
        try:
            a, b, peer_id = setup(args.records, root, url)
            ours = cold_sync(b, peer_id, args.records)
            proof_pass(b, args.records)
            peer = b.fed.peers.peer_get(peer_id)
            theirs = baseline(b, peer,
                              min(args.baseline_sample, args.records), args.records)
            met = "met" if ours <= 60 * args.records / 1e6 else "NOT met"
            print(f"cold sync speed-up vs baseline: {theirs / ours:.1f}x (pro rata target "
                  f"60 s per 1M: {met}); load average {os.getloadavg()}", flush=True)
            propagation(a, b, args.rounds)
        finally:
            if a is not None:
                a.stop()
            redis.stop()


if __name__ == "__main__":
    main()
