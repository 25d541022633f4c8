"""vPDQ values travel like other hashes: CSV export/import and signed peer records."""

from __future__ import annotations

import pytest

from plugin.banks_io import export_rows, import_file
from plugin.federation.errors import InvalidRecord
from plugin.federation.records import new_record
from plugin.federation.schema import validate_record
from plugin.hashing.types import hash_type
from plugin.storage.banks import EntryInput

VPDQ = hash_type("vpdq").examples()[0]


def test_csv_export_quotes_vpdq_and_imports_back(services, tmp_path):
    services.banks.bank_create("clips", "terror")
    services.banks.entries_add("clips", [EntryInput("vpdq", VPDQ, 'a "quoted", note')])
    exported = "".join(export_rows(services.banks, "clips"))
    source = tmp_path / "clips.csv"
    source.write_text(exported)
    report = import_file(services.banks, services.kv, source, bank="copy", category="terror")
    assert report["errors"] == [] and report["added"] == 1
    [row] = services.banks.entries_export("copy")
    assert row["value"] == VPDQ and row["note"] == 'a "quoted", note'


def hash_record(hash_type_name: str, value: str) -> dict:
    return new_record("hash", "a.test", {
        "hash_type": hash_type_name, "hash_value": value, "category": "terror", "labels": [],
        "recommended_action": "review", "opinion": "true_positive", "human_reviewed": True,
        "published": "2026-11-25T00:00:00Z"})


def test_peer_records_carry_video_hashes():
    validate_record(hash_record("vpdq", VPDQ))
    validate_record(hash_record("video_md5", "ab" * 16))
    with pytest.raises(InvalidRecord, match="vpdq"):
        validate_record(hash_record("vpdq", VPDQ.replace("[", "[[")))
    with pytest.raises(InvalidRecord, match="canonical"):
        validate_record(hash_record("vpdq", VPDQ.replace(", ", ",")))
