"""The command line: scan, bank import/export, configuration errors."""

from __future__ import annotations

import json

import pytest

from plugin.cli import main
from tests.conftest import corpus_photo


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    for key in ("CONSENTRY_REDIS_URL", "CONSENTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CONSENTRY_DATA_DIR", str(tmp_path / "var"))
    (tmp_path / "var").mkdir()
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json_prints_one_object_per_file(cli_env, capsys):
    broken = cli_env / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code, out, _ = run(capsys, "scan", str(corpus_photo(1)), str(corpus_photo(2)), str(broken),
                       str(cli_env / "missing.jpg"), "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["state"] for r in records] == ["scanned", "scanned", "error", "error"]
    first = records[0]
    assert {"sha256", "pdq", "pdq_quality", "matches", "labels", "error"} <= set(first)
    assert len(first["pdq"]) == 64 and first["pdq_quality"] >= 50
    assert len(first["pdq_dihedral"]) == 8
    assert "undecodable" in records[2]["error"] and "cannot read" in records[3]["error"]


def test_bank_import_reports_bad_rows_and_exports_the_rest(cli_env, capsys):
    code, out, _ = run(capsys, "scan", str(corpus_photo(7)), "--json")
    pdq = json.loads(out)["pdq"]
    csv_file = cli_env / "in.csv"
    csv_file.write_text("hash_type,value,category,note\n"
                        f"pdq,{pdq},ncii,first\n"
                        "pdq,not-a-hash,ncii,bad\n"
                        "sha256," + "a" * 64 + ",ncii,\n"
                        "phash,00ff,ncii,unknown type\n"
                        "md5," + "b" * 32 + ",spam,wrong category\n")
    code, out, err = run(capsys, "bank", "import", str(csv_file), "--bank", "mine",
                         "--category", "ncii")
    report = json.loads(out)
    assert code == 1 and report["rows"] == 5 and report["added"] == 2
    assert report["errors"] == 3
    assert [e.split(":")[0] for e in report["first_errors"]] == ["line 3", "line 5", "line 6"]
    assert "mine: 5 rows read, 2 new, 3 errors" in err
    code, out, _ = run(capsys, "bank", "export", "--bank", "mine")
    lines = out.strip().splitlines()
    assert lines[0] == "hash_type,value,category,note"
    assert lines[1:] == [f"pdq,{pdq},ncii,first", "sha256," + "a" * 64 + ",ncii,"]
    code, out, _ = run(capsys, "scan", str(corpus_photo(7)), "--json")
    assert json.loads(out)["matches"][0]["bank"] == "mine"


def test_bad_configuration_names_the_setting(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("CONSENTRY_BIND", "not-a-bind")
    code, _, err = run(capsys, "migrate")
    assert code == 2 and "CONSENTRY_BIND" in err


def test_pytx_round_trip_and_licensed_lists_are_never_exported(cli_env, capsys):
    pdq = "f" * 60 + "0000"
    source = cli_env / "signals.txt"
    source.write_text(f"pdq {pdq}\nmd5 {'c' * 32}\n# a comment\nphash 00\n\n")
    code, out, _ = run(capsys, "bank", "import", str(source), "--bank", "tx", "--category",
                       "other", "--format", "pytx")
    assert code == 1 and json.loads(out)["added"] == 2
    assert json.loads(out)["first_errors"] == ["line 4: signal type 'phash' is not one of "
                                               "pdq, md5, video_md5, vpdq"]
    code, out, _ = run(capsys, "bank", "export", "--bank", "tx", "--format", "pytx")
    assert out.splitlines() == [f"pdq {pdq}", f"md5 {'c' * 32}"]

    bare = cli_env / "bare.txt"
    bare.write_text(f"{'d' * 32}\n")
    code, out, _ = run(capsys, "bank", "import", str(bare), "--bank", "licensed",
                       "--category", "csam", "--format", "pytx", "--signal-type", "md5",
                       "--licensed")
    assert code == 0
    code, _, err = run(capsys, "bank", "export", "--bank", "licensed")
    assert code == 1 and "licensed list" in err


def test_an_import_killed_midway_resumes_after_the_last_committed_batch(cli_env):
    import os
    import signal
    import subprocess
    import sys

    rows = "".join(f"md5,{i:032x},spam,\n" for i in range(60_000))
    source = cli_env / "big.csv"
    source.write_text("hash_type,value,category,note\n" + rows)
    command = [sys.executable, "-m", "plugin.cli", "bank", "import", str(source), "--bank",
               "s", "--category", "spam"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=os.environ.copy())
    first.stderr.read(40)  # the first progress line: one batch is committed
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = subprocess.run(command, capture_output=True, text=True, check=True)
    report = json.loads(second.stdout)
    resumed = report["resumed_after_line"]
    assert 10_000 < resumed < 60_001 and report["errors"] == 0
    assert report["rows"] == 60_001 - resumed
    from plugin.services import Services
    from plugin.settings import Settings

    services = Services.from_settings(Settings.from_env())
    assert len(list(services.banks.entries_export("s"))) == 60_000
