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
    assert [e.split(":")[0] for e in report["errors"]] == ["line 3", "line 5", "line 6"]
    assert "imported 5 rows" in err
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
