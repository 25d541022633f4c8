"""Sustained load: webhooks at a fixed rate while workers scan real pictures, for minutes.

Runs ``consentry up`` (embedded Redis with AOF, SQLite, gunicorn, workers, real classifiers)
as a newcomer would, serves ``../shared/corpus/photos`` from loopback, and posts distinct
signed ``status.created`` webhooks (one picture each) at ``--rate`` per second. Every
``--every`` seconds it samples: webhook p50/p99 over the window (and ``GET /healthz`` p99 as
the baseline, same server, same moment), scan queue depth, and the resident memory of every
process of the service. At the end it reads each media's ``scanned_at`` from the database:
scan latency = scanned_at - the moment the webhook was answered.

    .venv/bin/python bench/load.py [--minutes 10] [--rate 2] [--workers 1]
        [--json docs/reliability-load.json] [--png docs/reliability-load.png]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "corpus" / "photos"
FIXTURE = REPO.parent / "shared" / "fixtures" / "mastodon" / \
    "status.created-image-1-focus-private-reply.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def body_for(i: int, photo_url: str, template: dict) -> bytes:
    obj = dict(template["object"])
    media = dict(template["object"]["media_attachments"][0])
    media.update(id=f"{900_000_000 + i}", url=photo_url, remote_url=None)
    obj.update(id=str(800_000_000 + i), media_attachments=[media])
    return json.dumps({"event": "status.created", "created_at": obj["created_at"],
                       "object": obj}).encode()


def process_rss(root: psutil.Process) -> dict[str, float]:
    """RSS in MiB of every process of the service, named by role."""
    out: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            cmd = " ".join(proc.cmdline())
            rss = proc.memory_info().rss / 2**20
        except psutil.Error:
            continue
        if "redis-server" in cmd:
            name = "redis"
        elif "gunicorn" in cmd:
            name = "web-master" if proc.ppid() == root.pid else f"web-{proc.pid}"
        elif " worker" in cmd:
            name = f"worker-{proc.pid}"
        elif " schedule" in cmd:
            name = "scheduler"
        elif proc.pid == root.pid:
            name = "supervisor"
        else:
            continue
        out[name] = round(rss, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=2.0, help="webhooks per second")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--png", type=Path, default=None)
    args = ap.parse_args()

    template = json.loads(FIXTURE.read_bytes())
    photos = sorted(p.name for p in PHOTOS.glob("*.jpg"))
    media = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(PHOTOS)))
    threading.Thread(target=media.serve_forever, daemon=True).start()
    media_base = f"http://127.0.0.1:{media.server_address[1]}"

    data_dir = Path(tempfile.mkdtemp(prefix="consentry-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    env.update(CONSENTRY_DATA_DIR=str(data_dir), CONSENTRY_BIND=f"127.0.0.1:{port}",
               CONSENTRY_MEDIA_ALLOW_PRIVATE="1", CONSENTRY_WORKERS=str(args.workers))
    up = subprocess.Popen([sys.executable, "-m", "plugin.cli", "up"], cwd=REPO, env=env,
                          stdout=(data_dir / "up.log").open("w"), stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("consentry up did not become ready; see " + str(data_dir))
        secret = tomllib.loads((data_dir / "consentry.toml").read_text())[
            "mastodon_webhook_secret"]
        from redis import Redis

        redis = Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
        session, probe = requests.Session(), requests.Session()
        sent: dict[str, float] = {}
        window: list[float] = []
        health: list[float] = []
        errors = 0
        samples = []
        lock = threading.Lock()
        stop = threading.Event()
        root = psutil.Process(up.pid)

        def probe_loop() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                probe.get(f"{base}/healthz", timeout=10)
                with lock:
                    health.append((time.perf_counter() - t) * 1000)
                time.sleep(0.5)

        threading.Thread(target=probe_loop, daemon=True).start()
        started = time.monotonic()
        end = started + args.minutes * 60
        next_sample = started + args.every
        i = 0
        print(f"load: {args.rate}/s for {args.minutes} min, {args.workers} worker(s); "
              f"data in {data_dir}", flush=True)
        while time.monotonic() < end:
            due = started + i / args.rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            photo = photos[i % len(photos)]
            data = body_for(i, f"{media_base}/{photo}", template)
            sig = "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
            t = time.perf_counter()
            try:
                r = session.post(f"{base}/webhooks/mastodon", data=data, timeout=30,
                                 headers={"X-Hub-Signature": sig})
                ok = r.status_code == 202
            except requests.RequestException:
                ok = False
            ms = (time.perf_counter() - t) * 1000
            if ok:
                sent[f"{900_000_000 + i}"] = time.time()
                window.append(ms)
            else:
                errors += 1
            i += 1
            if time.monotonic() >= next_sample:
                next_sample += args.every
                with lock:
                    h, health[:] = list(health), []
                sample = {"t": round(time.monotonic() - started, 1), "sent": i,
                          "webhook_p50_ms": round(pct(window, 0.5), 2),
                          "webhook_p99_ms": round(pct(window, 0.99), 2),
                          "healthz_p99_ms": round(pct(h, 0.99), 2),
                          "queue_depth": redis.llen("rq:queue:scan"),
                          "rss_mib": process_rss(root), "errors": errors}
                window = []
                samples.append(sample)
                print(json.dumps(sample), flush=True)
        stop.set()
        drain_until = time.monotonic() + 120
        while redis.llen("rq:queue:scan") and time.monotonic() < drain_until:
            time.sleep(1)
        time.sleep(3)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        media.shutdown()

    db = sqlite3.connect(data_dir / "consentry.db")
    rows = db.execute("SELECT media_id, state, scanned_at FROM media_scans").fetchall()
    by_id: dict[str, float] = {}
    per_state: dict[str, int] = {}
    for media_id, state, scanned_at in rows:
        per_state[state] = per_state.get(state, 0) + 1
        if scanned_at and media_id in sent:
            at = datetime.fromisoformat(scanned_at)
            if at.tzinfo is None:
                from datetime import UTC

                at = at.replace(tzinfo=UTC)
            by_id[media_id] = (at.timestamp() - sent[media_id]) * 1000
    latencies = list(by_id.values())
    summary = {
        "minutes": args.minutes, "rate_per_s": args.rate, "workers": args.workers,
        "accepted": len(sent), "errors": errors, "scanned_states": per_state,
        "scan_latency_p50_ms": round(pct(latencies, 0.5), 1),
        "scan_latency_p99_ms": round(pct(latencies, 0.99), 1),
        "webhook_p99_ms_worst_window": max(s["webhook_p99_ms"] for s in samples),
        "healthz_p99_ms_worst_window": max(s["healthz_p99_ms"] for s in samples),
        "max_queue_depth": max(s["queue_depth"] for s in samples),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    if args.png:
        chart(samples, by_id, sent, summary, args.png)
    return 0


def chart(samples: list[dict], latencies: dict[str, float], sent: dict, summary: dict,
          path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    axes[0].plot(t, [s["webhook_p99_ms"] for s in samples], label="webhook p99")
    axes[0].plot(t, [s["webhook_p50_ms"] for s in samples], label="webhook p50")
    axes[0].plot(t, [s["healthz_p99_ms"] for s in samples], label="/healthz p99 (baseline)",
                 linestyle="--")
    axes[0].set_ylabel("ms")
    axes[0].legend(fontsize=8)
    axes[1].plot(t, [s["queue_depth"] for s in samples], color="tab:red")
    axes[1].set_ylabel("scan queue depth")
    names = sorted({n for s in samples for n in s["rss_mib"]})
    for name in names:
        axes[2].plot(t, [s["rss_mib"].get(name, float("nan")) for s in samples], label=name)
    axes[2].set_ylabel("RSS MiB")
    axes[2].legend(fontsize=7, ncol=3)
    if latencies:
        axes[3].text(0.01, 0.85, f"scan latency p50 {summary['scan_latency_p50_ms']:.0f} ms, "
                     f"p99 {summary['scan_latency_p99_ms']:.0f} ms", transform=axes[3].transAxes)
        per_window: dict[int, list[float]] = {}
        t0 = min(sent.values())
        for media_id, ms in latencies.items():
            per_window.setdefault(int((sent[media_id] - t0) // 60), []).append(ms)
        xs = sorted(per_window)
        axes[3].plot(xs, [statistics.median(per_window[x]) for x in xs], label="p50")
        axes[3].plot(xs, [pct(per_window[x], 0.99) for x in xs], label="p99")
        axes[3].legend(fontsize=8)
    axes[3].set_ylabel("scan latency ms")
    axes[3].set_xlabel("minutes")
    fig.suptitle(f"Consentry under {summary['rate_per_s']}/s webhooks, "
                 f"{summary['workers']} worker(s), {summary['cpu_count']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    raise SystemExit(main())
