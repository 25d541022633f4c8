"""ProtectedMatcher: one ``DerivativeIndex`` per process, kept current from a change log.

The same idea as ``plugin.matching.BankMatcher``: the first use loads every live protected
picture's fingerprint; afterwards ``refresh()`` (at most once per ``refresh_interval_s``)
replays ``protected_changes`` since the last sequence number it saw, so a picture registered
or withdrawn anywhere is live (or gone) in every worker within about a second, without a
rebuild. The index holds fingerprints only, never pixels. ``DerivativeIndex`` is not
thread-safe, so queries and refreshes take a lock (the web process serves threads).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PIL import Image

from plugin.derivatives import DerivativeIndex, Fingerprint
from plugin.storage.protected_store import ProtectedStore


class ProtectedMatcher:
    def __init__(self, store: ProtectedStore, *, refresh_interval_s: float = 1.0,
                 min_score: float = 0.0) -> None:
        self.store = store
        self.refresh_interval_s = refresh_interval_s
        self.min_score = min_score
        self._lock = threading.RLock()
        self._seq = -1
        self._checked_at = 0.0
        self._index = DerivativeIndex()
        self._info: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._info)

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and self._seq >= 0 and now - self._checked_at < self.refresh_interval_s:
                return
            self._checked_at = now
            if self._seq < 0:
                seq = self.store.last_change()
                self._index, self._info = DerivativeIndex(), {}
                self._add(self.store.protected_active())
                self._seq = seq
                return
            while True:
                changes = self.store.changes_since(self._seq)
                if not changes:
                    return
                # Net effect per picture in log order: the last operation wins.
                last: dict[int, str] = {}
                for _, op, picture_id in changes:
                    last[picture_id] = op
                for picture_id, op in last.items():
                    if op == "remove":
                        self._index.remove(picture_id)
                        self._info.pop(picture_id, None)
                added = [pid for pid, op in last.items() if op == "add"]
                if added:
                    self._add(self.store.protected_active(added))
                self._seq = changes[-1][0]

    def _add(self, rows: list[tuple[dict[str, Any], bytes]]) -> None:
        for info, blob in rows:
            self._index.add(info["id"], Fingerprint.from_bytes(blob))
            self._info[info["id"]] = info

    def match(self, image: Image.Image, limit: int = 5) -> list[dict[str, Any]]:
        """Protected pictures ``image`` derives from, best first, as JSON-safe dicts."""
        self.refresh()
        with self._lock:
            if not self._info:
                return []
            found = self._index.match(image, limit=limit)
            out = []
            for m in found:
                info = self._info.get(m.id)
                if info is None or m.score < self.min_score:
                    continue
                out.append({"id": m.id, "owner": info["owner"], "score": m.score,
                            "evidence": m.evidence, "origin": info["origin"],
                            "visibility": info["visibility"], "sha256": info["sha256"],
                            "pdq": info["pdq"], "source": info["source"],
                            "status_id": info["status_id"]})
            return out
