"""The protected original beside a suspected derivative, and the match evidence in words.

A derivative finding says "this upload looks like an edit of protected picture N". A moderator
can only judge that by looking at both, so the item page puts the two side by side:

* a picture protected **here** (``origin`` local) whose post we scanned: its preview is made
  the way the posted media's is (``previews``: fetched through the safe media fetcher,
  re-encoded, greyscale and blurred until this one picture is revealed, each reveal audited)
  and served only to signed-in moderators, only in the context of an item that matched it;
* a picture protected **elsewhere** (``peer:<domain>``): we hold its fingerprint, never its
  pixels, so the page says so — "original held by <instance>, not shared" — with the owner's
  actor URI and the match numbers;
* a withdrawn picture, or one registered from a file (no URL we could fetch): no preview.

Preview bytes are cached in this process's memory only (a few minutes, a few dozen entries):
protected originals may be intimate pictures, so a copy is never written to disk or Redis.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from plugin.errors import NotFound
from plugin.review import previews
from plugin.settings import Settings
from plugin.storage.protected_store import ProtectedStore
from plugin.storage.review_store import ReviewStore

CACHE_S = 300
CACHE_ITEMS = 32
_cache: OrderedDict[tuple[str, bool], tuple[float, bytes]] = OrderedDict()
_cache_lock = threading.Lock()


def derivative_matches(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The derivative matches among an item's findings (consent enforcement's shape)."""
    found = []
    for finding in item["findings"]:
        match = finding.get("derivative") or finding.get("match") or {}
        if match.get("type") == "derivative" or "derivative" in finding:
            found.append(match)
    return found


def _percent(value: Any) -> str | None:
    return f"{float(value) * 100:.0f} %" if isinstance(value, int | float) else None


def describe_evidence(match: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows a moderator reads instead of the matcher's JSON."""
    ev = match.get("evidence") or {}
    rows: list[tuple[str, str]] = []
    if match.get("score") is not None:
        rows.append(("Matcher score", f"{_percent(match['score'])} confidence "
                                      "(50 % at 9 agreeing keypoints, 99 % from 21)"))
    if "inliers" in ev:
        text = f"{ev['inliers']} keypoints agree on one transformation"
        if ev.get("putative_matches"):
            text += f" (of {ev['putative_matches']} candidate matches)"
        rows.append(("Inliers", text))
    change = []
    if ev.get("scale") is not None:
        change.append(f"scaled to {_percent(ev['scale'])}")
    if ev.get("rotation_deg") is not None:
        change.append(f"rotated {ev['rotation_deg']}°")
    if "mirrored" in ev:
        change.append("mirrored left-right" if ev["mirrored"] else "not mirrored")
    if change:
        rows.append(("Transformation", ", ".join(change)))
    if ev.get("protected_coverage") is not None:
        rows.append(("Overlap", f"the matching region covers {_percent(ev['protected_coverage'])}"
                                " of the original"))
    if ev.get("query_region") and ev.get("protected_region"):
        q, p = ev["query_region"], ev["protected_region"]
        rows.append(("Regions", f"upload {_box(q)} ↔ original {_box(p)} (pixels)"))
    if match.get("consent"):
        rows.append(("Owner's choice", str(match["consent"]).replace("_", " ")))
    if match.get("reasons"):
        rows.append(("Why acted on", "; ".join(map(str, match["reasons"]))))
    if ev.get("method"):
        rows.append(("Method", str(ev["method"])))
    return rows


def _box(box: list[float]) -> str:
    x0, y0, x1, y1 = (round(v) for v in box)
    return f"({x0}, {y0})–({x1}, {y1})"


def original_view(protected: ProtectedStore, review: ReviewStore,
                  match: dict[str, Any]) -> dict[str, Any]:
    """What the page can show of the protected original one derivative match points at."""
    pid = match.get("protected_id")
    view: dict[str, Any] = {"protected_id": pid, "owner": match.get("owner"),
                            "evidence": describe_evidence(match), "url": None}
    try:
        picture = protected.protected_get(int(pid)) if pid is not None else None
    except NotFound:
        picture = None
    if picture is None:
        return {**view, "kind": "unknown"}
    view.update(owner=picture["owner"], origin=picture["origin"],
                status_id=picture["status_id"], media_id=picture["media_id"])
    if picture["removed_at"]:
        return {**view, "kind": "withdrawn", "removed_at": picture["removed_at"],
                "removed_reason": picture["removed_reason"]}
    if picture["origin"] != "local":
        return {**view, "kind": "remote", "instance": picture["origin"].removeprefix("peer:")}
    scan = review.scan_for_media(picture["media_id"]) if picture["media_id"] else None
    url = (scan or {}).get("url")
    return {**view, "kind": "local" if url else "local_no_media", "url": url}


def original_preview(settings: Settings, url: str, *, reveal: bool) -> bytes:
    """The preview of a local protected original, from this process's short cache."""
    key, now = (url, reveal), time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > now:
            _cache.move_to_end(key)
            return hit[1]
    body = previews.preview(settings, url, reveal=reveal)
    with _cache_lock:
        _cache[key] = (now + CACHE_S, body)
        while len(_cache) > CACHE_ITEMS:
            _cache.popitem(last=False)
    return body
