"""``consentry peers …`` against real instances on loopback."""

from __future__ import annotations

import json

import pytest

from plugin.cli import main
from tests.federation.instances import Instance


def _env(monkeypatch: pytest.MonkeyPatch, inst: Instance) -> None:
    s = inst.settings
    for key, value in {"CONSENTRY_DATA_DIR": str(s.data_dir), "CONSENTRY_REDIS_URL": s.redis_url,
                       "CONSENTRY_DATABASE_URL": s.database_url,
                       "CONSENTRY_PUBLIC_URL": s.public_url,
                       "CONSENTRY_FEDERATION_DOMAIN": s.federation_domain,
                       "CONSENTRY_ALLOW_INSECURE_PEERS": "1"}.items():
        monkeypatch.setenv(key, value)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(["peers", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_pairs_configures_and_rotates(tmp_path, redis_url, monkeypatch, capsys) -> None:
    a, b = Instance("a", tmp_path, redis_url, 1), Instance("b", tmp_path, redis_url, 2)
    try:
        _env(monkeypatch, a)
        peer = _run(capsys, "add", b.base_url, "--approve")
        assert peer["state"] == "awaiting_their_approval" and peer["remote_state"] == "pending"
        _env(monkeypatch, b)
        (incoming,) = _run(capsys, "list")
        assert incoming["domain"] == "a.test" and incoming["state"] == "awaiting_our_approval"
        assert _run(capsys, "approve", str(incoming["id"]))["state"] == "active"
        out = _run(capsys, "set", str(incoming["id"]), "--trust", "trusted", "--auto-act",
                   "--categories", "ncii,spam", "--max-action", "report")
        assert (out["trust_level"], out["auto_act"], out["categories"], out["max_action"]) == (
            "trusted", True, ["ncii", "spam"], "report")
        assert main(["peers", "set", str(incoming["id"]), "--max-action", "nuke"]) == 1
        capsys.readouterr()
        before = _run(capsys, "identity")["key_url"]
        after = _run(capsys, "identity", "--rotate")
        assert after["key_url"] != before and after["keys"][1]["status"] == "retired"
        with pytest.raises(SystemExit):
            main(["peers", "add"])
        capsys.readouterr()
        monkeypatch.delenv("CONSENTRY_ALLOW_INSECURE_PEERS")
        assert main(["peers", "add", "http://127.0.0.1:1"]) == 1
        assert "https" in capsys.readouterr().err
    finally:
        a.stop()
        b.stop()
