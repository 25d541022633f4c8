"""Bank import and export formats.

* ``csv`` — ``hash_type,value,category,note`` with a header row (our own format).
* ``pytx`` — python-threatexchange's local-file signal format, which HMA and the
  ``threatexchange`` CLI read: one signal per line, ``<signal_type> <value>`` (``pdq``,
  ``md5``, ``video_md5``), or a bare value when the file's type is given.

A bad row is reported with its line number and skipped, never silently accepted; the rest
imports. Imports are resumable: progress is committed every batch under a key made of the
bank and the file's SHA-256, so running the same import again after a crash or Ctrl-C
continues after the last committed line instead of starting over.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from plugin.errors import BadRequest, ConsentryError
from plugin.hashing.types import hash_type
from plugin.storage.banks import BankStore, EntryInput
from plugin.storage.kv import KeyValueStore

BATCH = 10_000
FORMATS = ("csv", "pytx")
PYTX_TYPES = ("pdq", "md5", "video_md5", "vpdq")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _csv_rows(path: Path, category: str) -> Iterator[tuple[int, EntryInput | str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"hash_type", "value"} <= set(reader.fieldnames):
            raise BadRequest(f"{path}: header must include hash_type,value "
                             "(and optionally category,note)")
        for row in reader:
            try:
                kind = hash_type(row.get("hash_type") or "")
                value = kind.canonical(row.get("value") or "")
                if row.get("category") and row["category"] != category:
                    raise BadRequest(f"category {row['category']!r} differs from the bank's "
                                     f"{category!r}")
                yield reader.line_num, EntryInput(kind.name, value, row.get("note") or None,
                                                  source="import")
            except ConsentryError as exc:
                yield reader.line_num, exc.message


def _pytx_rows(path: Path, signal_type: str | None) -> Iterator[tuple[int, EntryInput | str]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            kind_name, value = signal_type, text
            if signal_type is None:
                kind_name, _, value = text.partition(" ")
            try:
                if kind_name not in PYTX_TYPES:
                    raise BadRequest(f"signal type {kind_name!r} is not one of "
                                     f"{', '.join(PYTX_TYPES)}")
                kind = hash_type(kind_name)
                yield number, EntryInput(kind.name, kind.canonical(value.strip()),
                                         source="import")
            except ConsentryError as exc:
                yield number, exc.message


def import_file(banks: BankStore, kv: KeyValueStore, path: Path, *, bank: str, category: str,
                fmt: str = "csv", signal_type: str | None = None, licensed: bool = False,
                progress: IO[str] | None = None) -> dict[str, Any]:
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    existing = banks.bank_find(bank)
    if existing is None:
        banks.bank_create(bank, category, shareable=not licensed)
    elif existing["category"] != category:
        raise BadRequest(f"bank {bank!r} has category {existing['category']!r}, not "
                         f"{category!r}")
    resume_key = f"import:{bank}:{file_sha256(path)}"
    resume_after = (kv.kv_get(resume_key) or {}).get("line", 0)
    rows = _csv_rows(path, category) if fmt == "csv" else _pytx_rows(path, signal_type)
    errors: list[str] = []
    batch: list[EntryInput] = []
    added = seen = 0
    started = time.monotonic()
    last_line = resume_after

    def flush() -> None:
        nonlocal added
        added += banks.entries_add(bank, batch)
        batch.clear()
        kv.kv_set(resume_key, {"line": last_line, "added": added})
        if progress:
            rate = seen / max(time.monotonic() - started, 1e-6)
            progress.write(f"\r{bank}: {seen:,} rows read, {added:,} new, {len(errors)} "
                           f"errors, {rate:,.0f} rows/s")
            progress.flush()

    for line, item in rows:
        if line <= resume_after:
            continue
        seen += 1
        last_line = line
        if isinstance(item, str):
            errors.append(f"line {line}: {item}")
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    flush()
    if progress:
        progress.write("\n")
        for message in errors[:50]:
            progress.write(f"  {message}\n")
        if len(errors) > 50:
            progress.write(f"  … and {len(errors) - 50} more\n")
    return {"rows": seen, "added": added, "errors": errors, "resumed_after_line": resume_after}


def export_rows(banks: BankStore, bank: str, fmt: str = "csv") -> Iterator[str]:
    """Lines of an export; licensed banks are refused (they are never redistributed)."""
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    rows = banks.entries_export(bank, for_sharing=True)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")  # vPDQ values hold commas and quotes
        writer.writerow(["hash_type", "value", "category", "note"])
        for row in rows:
            writer.writerow([row["hash_type"], row["value"], row["category"], row["note"] or ""])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()
    else:
        for row in rows:
            if row["hash_type"] in PYTX_TYPES:
                yield f"{row['hash_type']} {row['value']}\n"
