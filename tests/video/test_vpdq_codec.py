"""vPDQ text forms (pytx's current list and older object), the ``vpdq`` hash type, and banks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import vpdq

from plugin.banks_io import export_rows, import_file
from plugin.errors import BadRequest
from plugin.hashing.types import hash_type
from plugin.storage.banks import BankStore, EntryInput
from plugin.storage.database import Database
from plugin.storage.kv import KeyValueStore
from plugin.video.vpdq_hash import (
    VpdqFeature,
    canonical_vpdq,
    compute_vpdq,
    parse_vpdq,
    prepare_for_matching,
    serialize_vpdq,
    words_to_hex,
)

A = "0123456789abcdef" * 4
B = "f" * 64


def test_pytx_list_form_round_trips_and_canonicalises() -> None:
    text = json.dumps([f"{A.upper()},100,0.0", f"{B},49,1.5"])  # upper hex, short timestamps
    canonical = canonical_vpdq(text)
    assert canonical == json.dumps([f"{A},100,0.000", f"{B},49,1.500"])
    assert canonical_vpdq(canonical) == canonical
    assert parse_vpdq(canonical) == [VpdqFeature(A, 100, 0.0), VpdqFeature(B, 49, 1.5)]


def test_older_object_form_with_hash256_words_reads_like_vpdq_itself() -> None:
    words = vpdq.str_to_hash(A)["w"]  # the extension's own Hash256 layout
    assert words_to_hex(words) == A
    old = json.dumps({"30": {"quality": 90, "hash": {"w": words}, "timestamp": 1.0},
                      "0": {"quality": 100, "hash": B, "timestamp": 0.0}})
    assert parse_vpdq(old) == [VpdqFeature(B, 100, 0.0), VpdqFeature(A, 90, 1.0)]


@pytest.mark.parametrize("bad", [
    "", "[]", "{}", "not json", json.dumps(["abc,100,0"]), json.dumps([f"{A},101,0"]),
    json.dumps([f"{A},100,-1"]), json.dumps([f"{A},100"]), json.dumps([f"{A},9.5,0"]),
    json.dumps([[A, 100, 0]]), json.dumps({"x": {"quality": 1, "hash": A, "timestamp": 0}}),
])
def test_malformed_values_are_refused(bad: str) -> None:
    with pytest.raises(BadRequest):
        canonical_vpdq(bad)


def test_hash_type_is_registered_with_examples_and_distance() -> None:
    kind = hash_type("VPDQ")
    assert kind.name == "vpdq"
    for example in kind.examples():
        assert kind.canonical(example) == example
        assert kind.distance(example, example) == 0
    half = serialize_vpdq([VpdqFeature(A, 100, 0.0), VpdqFeature("0" * 64, 100, 1.0)])
    one = serialize_vpdq([VpdqFeature(A, 100, 0.0)])
    assert kind.distance(half, one) == 50  # half of the first clip's frames are in the second
    assert kind.distance(one, half) == 0


def test_matching_prep_drops_low_quality_and_repeats() -> None:
    features = [VpdqFeature(A, 100, 0.0), VpdqFeature(A, 100, 1.0), VpdqFeature(B, 10, 2.0)]
    assert prepare_for_matching(features) == [VpdqFeature(A, 100, 0.0)]


def test_child_hasher_returns_what_the_extension_computes(clip_dir: dict[str, Path]) -> None:
    ours = compute_vpdq(clip_dir["original"], timeout_s=60)
    theirs = vpdq.computeHash(str(clip_dir["original"]), seconds_per_hash=1)
    assert [(f.pdq, f.quality, f.timestamp) for f in ours] == \
        [(f.hex, f.quality, round(f.timestamp, 3)) for f in theirs]
    assert 10 <= len(ours) <= 11  # ~10 s at one hash a second


def test_banks_import_and_export_video_hashes(tmp_path: Path,
                                              clip_dir: dict[str, Path]) -> None:
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    db.migrate()
    banks, kv = BankStore(db), KeyValueStore(db)
    value = serialize_vpdq(compute_vpdq(clip_dir["original"], timeout_s=60))
    rows = tmp_path / "in.csv"
    with rows.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["hash_type", "value", "category", "note"])
        writer.writerow(["vpdq", value, "other", "clip"])
        writer.writerow(["video_md5", "d41d8cd98f00b204e9800998ecf8427e", "other", ""])
        writer.writerow(["vpdq", "[\"nonsense\"]", "other", ""])
    report = import_file(banks, kv, rows, bank="videos", category="other")
    assert report["added"] == 2 and len(report["errors"]) == 1
    assert banks.entries_add("videos", [EntryInput("vpdq", value)]) == 0  # same canonical value
    exported = {e["hash_type"]: e["value"] for e in banks.entries_export("videos")}
    assert parse_vpdq(exported["vpdq"]) == parse_vpdq(value)
    # pytx's signal file (``<type> <value>`` lines), as HMA and the threatexchange CLI read it
    pytx = tmp_path / "signals.txt"
    pytx.write_text("".join(export_rows(banks, "videos", "pytx")))
    again = import_file(banks, kv, pytx, bank="copy", category="other", fmt="pytx")
    assert again["added"] == 2 and not again["errors"]
    copied = {e["hash_type"]: e["value"] for e in banks.entries_export("copy")}
    assert copied == exported
