"""`consentry up` as a newcomer runs it: real processes, nothing configured but the data dir.

Starts the supervisor (embedded Redis, migrations, gunicorn, a worker), then drives it the way
Mastodon and an admin would: a signed webhook whose media is banked ends as a report on the
Mastodon-API server and as a scan result at /api/v1/scans.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib

import pytest
import requests

from plugin.hashing.image_hashes import pdq_of
from tests.conftest import corpus_photo, sign
from tests.support.loopback import free_port, wait_for
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon
from tests.test_pipeline import recompressed, webhook_body

pytestmark = pytest.mark.slow








@pytest.fixture
def service(tmp_path, media_server):
    mastodon = start_mastodon()
    port, gate_port = free_port(), free_port()
    env = {**os.environ, "CONSENTRY_DATA_DIR": str(tmp_path / "var"),
           "CONSENTRY_BIND": f"127.0.0.1:{port}", "CONSENTRY_GATE_BIND": f"127.0.0.1:{gate_port}",
           "CONSENTRY_MEDIA_ALLOW_PRIVATE": "1",
           "CONSENTRY_INSTANCE_URL": mastodon.base_url,
           "CONSENTRY_INSTANCE_TOKEN": MODERATOR_TOKEN}
    for key in ("CONSENTRY_REDIS_URL", "CONSENTRY_DATABASE_URL", "CONSENTRY_ADMIN_TOKEN",
                "CONSENTRY_MASTODON_WEBHOOK_SECRET"):
        env.pop(key, None)
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "plugin.cli", "up"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return requests.get(f"{base}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(ready, timeout=60)
        secrets = tomllib.loads((tmp_path / "var" / "consentry.toml").read_text())
        wait_for(lambda: _answers(f"http://127.0.0.1:{gate_port}/healthz"), timeout=30)
        yield {"base": base, "gate": f"http://127.0.0.1:{gate_port}", "env": env,
               "secrets": secrets, "mastodon": mastodon, "media": media_server, "proc": proc,
               "log": tmp_path / "up.log"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        mastodon.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_up_scans_a_webhook_and_reports_a_banked_picture(service, tmp_path):
    base, secrets = service["base"], service["secrets"]
    admin = {"Authorization": f"Bearer {secrets['admin_token']}"}
    banner = service["log"].read_text()
    assert "/webhooks/mastodon" in banner and secrets["mastodon_webhook_secret"] in banner

    photo = corpus_photo(20)
    (service["media"].root / "copy.jpg").write_bytes(recompressed(photo, 0.7, 50))
    from PIL import Image

    csv_path = tmp_path / "bank.csv"
    csv_path.write_text("hash_type,value,category,note\n"
                        f"pdq,{pdq_of(Image.open(photo).convert('RGB'))[0][0]},ncii,test\n")
    subprocess.run([sys.executable, "-m", "plugin.cli", "bank", "import", str(csv_path),
                    "--bank", "intake", "--category", "ncii"], env=service["env"], check=True,
                   capture_output=True)

    status = service["mastodon"].client("alice").status_post("hello")
    body = webhook_body(status, [("5001", service["media"].url("copy.jpg"))])
    secret = secrets["mastodon_webhook_secret"]
    bad = requests.post(f"{base}/webhooks/mastodon", data=body,
                        headers={"X-Hub-Signature": sign(body, "wrong")}, timeout=5)
    assert bad.status_code == 401
    ok = requests.post(f"{base}/webhooks/mastodon", data=body,
                       headers={"X-Hub-Signature": sign(body, secret)}, timeout=5)
    assert ok.status_code == 202

    def scanned() -> list | None:
        media = requests.get(f"{base}/api/v1/scans", params={"status_id": status["id"]},
                             headers=admin, timeout=5).json()["media"]
        return media if media and media[0]["state"] == "scanned" else None

    [scan] = wait_for(scanned)
    assert scan["matches"][0]["bank"] == "intake"
    moderator = service["mastodon"].client(token=MODERATOR_TOKEN)
    [report] = wait_for(lambda: moderator.admin_reports())
    assert str(report["statuses"][0]["id"]) == str(status["id"])

    replay = requests.post(f"{base}/webhooks/mastodon", data=body,
                           headers={"X-Hub-Signature": sign(body, secret)}, timeout=5)
    assert replay.status_code == 202 and replay.json()["duplicate"] is True
    metrics = requests.get(f"{base}/metrics", timeout=5).text
    assert "consentry_webhooks_accepted_total 1.0" in metrics
    assert "consentry_webhooks_rejected_total 1.0" in metrics
    time.sleep(1)
    assert len(moderator.admin_reports()) == 1
    audit = requests.get(f"{base}/api/v1/audit", headers=admin, timeout=5).json()
    assert [r["action"] for r in audit["records"]] == ["report"]
    assert json.dumps(audit).count(secrets["admin_token"]) == 0
    # The media gate runs as its own process and serves a picture nobody refused.
    gate = requests.get(f"{service['gate']}/gate", timeout=5, headers={
        "X-Original-URI": "/system/media_attachments/files/000/000/001/original/a.jpg"})
    assert gate.status_code == 200 and "Media gate" in banner
    # Every child (web, workers, gate, deletion watcher, scheduler) kept running.
    assert "exited with" not in service["log"].read_text()
