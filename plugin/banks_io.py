"""Bank import and export formats.

CSV is ``hash_type,value,category,note`` with a header row. A bad row is reported with its
line number and skipped, never silently accepted; the rest imports.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from plugin.errors import BadRequest, ConsentryError
from plugin.hashing.types import hash_type
from plugin.storage.banks import BankStore, EntryInput

BATCH = 5000


def import_csv(banks: BankStore, path: Path, *, bank: str, category: str,
               progress: IO[str] | None = None) -> dict[str, Any]:
    banks.bank_ensure(bank, category)
    errors: list[str] = []
    batch: list[EntryInput] = []
    added = rows = 0
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"hash_type", "value"} <= set(reader.fieldnames):
            raise BadRequest(f"{path}: header must include hash_type,value "
                             "(and optionally category,note)")
        for row in reader:
            rows += 1
            try:
                kind = hash_type(row.get("hash_type") or "")
                value = kind.canonical(row.get("value") or "")
                if row.get("category") and row["category"] != category:
                    raise BadRequest(f"category {row['category']!r} differs from the bank's "
                                     f"{category!r}")
            except ConsentryError as exc:
                errors.append(f"line {reader.line_num}: {exc.message}")
                continue
            batch.append(EntryInput(kind.name, value, row.get("note") or None, source="import"))
            if len(batch) >= BATCH:
                added += banks.entries_add(bank, batch)
                batch.clear()
                if progress:
                    progress.write(f"\rimported {rows} rows")
        if batch:
            added += banks.entries_add(bank, batch)
    if progress:
        progress.write(f"\rimported {rows} rows, {added} new, {len(errors)} errors\n")
        for line in errors[:50]:
            progress.write(f"  {line}\n")
    return {"rows": rows, "added": added, "errors": errors}
