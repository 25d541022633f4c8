"""BankMatcher: matches one picture's hashes against every enabled bank.

Each worker process holds one matcher. Exact types (sha256, md5) live in a dict; PDQ codes
live in ``plugin.index.PdqIndex`` (exact radius search) and are queried with all 8 dihedral
hashes of the picture, so a mirrored or rotated re-post matches too. The matcher replays the
bank change log (``BankStore.changes_since``) at most once per ``refresh_interval_s``: an entry
added or removed anywhere is live in every worker, on every host sharing the database, within
seconds and without a rebuild.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from plugin.hashing.image_hashes import ImageHashes
from plugin.index import PdqIndex, pdq_hex_to_bytes
from plugin.storage.banks import ActiveEntry, BankStore, opinions_summary
from plugin.video.matching import VideoMatcher, match_frames_against_stills


class BankMatcher:
    def __init__(self, banks: BankStore, *, max_distance: int = 31, min_quality: int = 50,
                 refresh_interval_s: float = 1.0, vpdq_query_pct: float = 80.0,
                 vpdq_index_pct: float = 0.0) -> None:
        self.banks = banks
        self.vpdq_query_pct = vpdq_query_pct
        self.vpdq_index_pct = vpdq_index_pct
        self.max_distance = max_distance
        self.min_quality = min_quality
        self.refresh_interval_s = refresh_interval_s
        self._seq = -1
        self._checked_at = 0.0
        self._reset()

    def _reset(self) -> None:
        self._entries: dict[int, ActiveEntry] = {}
        self._exact: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._pdq = PdqIndex(radius=self.max_distance)
        self._video = VideoMatcher(query_match_pct=self.vpdq_query_pct,
                                   index_match_pct=self.vpdq_index_pct)

    def warm(self) -> None:
        """Load every bank now (a worker starting), without starting the refresh interval:
        the first job still replays whatever was committed while the worker was starting,
        such as an import that finished a moment after this load."""
        self.refresh(force=True)
        self._checked_at = 0.0

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._seq >= 0 and now - self._checked_at < self.refresh_interval_s:
            return
        self._checked_at = now
        if self._seq < 0:
            self._load_all()
            return
        changes = self.banks.changes_since(self._seq)
        if not changes:
            return
        if any(op == "bank" for _, op, _ in changes):
            self._load_all()
            return
        added = [entry_id for _, op, entry_id in changes if op == "add" and entry_id]
        removed = [entry_id for _, op, entry_id in changes if op == "remove" and entry_id]
        for entry_id in removed:
            self._drop(entry_id)
        self._add(self.banks.active_entries(added) if added else [])
        self._seq = changes[-1][0]

    def _load_all(self) -> None:
        seq = self.banks.last_change()
        self._reset()
        self._add(self.banks.active_entries())
        self._seq = seq

    def _add(self, entries: list[ActiveEntry]) -> None:
        pdq_ids, pdq_codes = [], []
        for entry in entries:
            self._drop(entry.entry_id)
            self._entries[entry.entry_id] = entry
            if entry.hash_type == "pdq":
                pdq_ids.append(entry.entry_id)
                pdq_codes.append(pdq_hex_to_bytes(entry.value))
            elif entry.hash_type == "vpdq":
                self._video.add(entry.entry_id, entry.value)
            else:
                self._exact[(entry.hash_type, entry.value)].add(entry.entry_id)
        if pdq_ids:
            self._pdq.add(np.asarray(pdq_ids, dtype=np.int64), np.stack(pdq_codes))

    def _drop(self, entry_id: int) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return
        if entry.hash_type == "pdq":
            self._pdq.remove([entry_id])
        elif entry.hash_type == "vpdq":
            self._video.remove(entry_id)
        else:
            self._exact[(entry.hash_type, entry.value)].discard(entry_id)

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, hashes: ImageHashes) -> list[dict[str, Any]]:
        """Every bank entry the picture matches, nearest first."""
        self.refresh()
        found: dict[int, int] = {}
        for kind, value in (("sha256", hashes.sha256), ("md5", hashes.md5)):
            for entry_id in self._exact.get((kind, value), ()):
                found[entry_id] = 0
        if hashes.pdq_quality >= self.min_quality and len(self._pdq):
            queries = np.stack([pdq_hex_to_bytes(h) for h in hashes.pdq_dihedral])
            for results in self._pdq.search_many(queries, self.max_distance):
                for entry_id, distance in results:
                    found[entry_id] = min(distance, found.get(entry_id, distance))
        return self.describe(found)

    def match_video(self, video: dict[str, Any]) -> list[dict[str, Any]]:
        """Matches of a scanned clip (``plugin.video.scan_video_bytes``'s result): the file's
        MD5 against ``video_md5`` entries, its vPDQ against ``vpdq`` entries (distance is 100
        minus the share of the clip's frames found, as HMA reports it), and every sampled frame
        against the banked stills, so a clip that shows a banked picture matches it."""
        self.refresh()
        found: dict[int, int] = {i: 0 for i in self._exact.get(("video_md5", video["video_md5"]),
                                                                ())}
        evidence: dict[int, dict[str, Any]] = {}
        for hit in self._video.match(video["vpdq"]) if video.get("vpdq") else []:
            found[hit.entry_id] = round(100 - hit.query_pct)
            evidence[hit.entry_id] = {"query_pct": hit.query_pct, "bank_pct": hit.bank_pct}
        for hit in match_frames_against_stills(video.get("pdq_frames") or [], self._pdq,
                                               max_distance=self.max_distance,
                                               min_quality=self.min_quality):
            found[hit["entry_id"]] = min(hit["distance"], found.get(hit["entry_id"], 256))
            evidence[hit["entry_id"]] = {"timestamps": hit["timestamps"]}
        matches = self.describe(found)
        for match in matches:
            match.update(evidence.get(match["entry_id"], {}))
        return matches

    def match_value(self, hash_type_name: str, value: str) -> list[dict[str, Any]]:
        """Look up one hash value (an API lookup by hash rather than by picture)."""
        self.refresh()
        if hash_type_name == "pdq":
            hits = self._pdq.search(pdq_hex_to_bytes(value), self.max_distance)
            return self.describe(dict(hits))
        return self.describe({i: 0 for i in self._exact.get((hash_type_name, value), ())})

    def describe(self, found: dict[int, int]) -> list[dict[str, Any]]:
        """Matches as JSON-safe dicts, each with the entry's opinions (one query, if any)."""
        opinions = self.banks.opinions_for(found) if found else {}
        out = []
        for entry_id, distance in found.items():
            entry = self._entries[entry_id]
            out.append({"bank": entry.bank, "category": entry.category,
                        "type": entry.hash_type, "value": entry.value, "distance": distance,
                        "entry_id": entry_id,
                        **opinions_summary(opinions.get(entry_id, []))})
        return sorted(out, key=lambda m: (m["distance"], m["bank"], m["entry_id"]))
