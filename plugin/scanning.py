"""The scan pipeline as pure functions: bytes → decoded image → hashes → matches → labels.

Workers call ``scan_event`` for a webhook; ``consentry scan`` and the HTTP API call
``scan_bytes`` for a file. The image is decoded once and the same decoded image goes to every
hash type and classifier. A media that cannot be scanned (refused URL, broken file, too big)
ends as a per-media ``error`` state, never as a crashed job; only transient failures (network,
5xx) propagate so that RQ retries the job, and media already scanned are skipped on retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from plugin.enforcement import PlannedAction, plan_actions
from plugin.errors import MediaError, TransientError
from plugin.federation.trust import apply_trust
from plugin.hashing.image_hashes import file_digests, hash_image
from plugin.mastodon.payloads import MediaRef, StatusRef, WebhookEvent
from plugin.matching import BankMatcher
from plugin.media.decode import decode_image
from plugin.media.fetch import FetchPolicy, fetch_media
from plugin.services import Services
from plugin.video.animated import is_animated
from plugin.video.sandbox import VideoLimits
from plugin.video.scan import AUDIO_NOT_SCANNED, VIDEO_TYPES, scan_video_bytes

#: A classifier stage: decoded RGB image in, one JSON-safe verdict out (``model``, raw
#: ``scores``, ``taxonomy`` scores, thresholded ``labels``). Implemented in ``workers``
#: (onnxruntime), so web processes never load a model.
Classify = Callable[[Image.Image], dict[str, Any]]

SCANNED_TYPES = ("image", *VIDEO_TYPES)
FINAL_STATES = ("scanned", "error", "unsupported")


@dataclass
class ScanContext:
    services: Services
    matcher: BankMatcher
    classifiers: Sequence[Classify] = field(default_factory=tuple)
    #: Derivatives of protected pictures and consent (``plugin.consent.stage``); None: off.
    protected: Any = None

    def fetch_policy(self, media_type: str = "image") -> FetchPolicy:
        s = self.services.settings
        cap = s.video_max_bytes if media_type in VIDEO_TYPES else s.media_max_bytes
        return FetchPolicy.from_settings(s, max_bytes=cap)


def scan_bytes(data: bytes, ctx: ScanContext, media_type: str = "image") -> dict[str, Any]:
    """Hash, match and classify one file's bytes. Raises ``MediaError`` when it can't.

    Videos, GIFVs and animated images take the motion path (``plugin.video``: decoding in a
    sandboxed child, vPDQ, sampled frames through the same classifiers); stills are decoded
    once here and the same image goes to every hash type and classifier.
    """
    if media_type in VIDEO_TYPES or is_animated(data):
        return scan_motion(data, media_type, ctx)
    decoded = decode_image(data, max_pixels=ctx.services.settings.media_max_pixels)
    hashes = hash_image(data, decoded.image)
    verdicts = [classify(decoded.image) for classify in ctx.classifiers]
    return {**hashes.to_dict(), "matches": ctx.matcher.match(hashes),
            "labels": labels_of(verdicts), "verdicts": verdicts,
            "width": decoded.width, "height": decoded.height, "format": decoded.format,
            "derivatives": ctx.protected.scan(data, decoded.image) if ctx.protected else None}


def scan_motion(data: bytes, media_type: str, ctx: ScanContext) -> dict[str, Any]:
    """A video, GIFV or animated image: vPDQ and frame hashes against the banks, and every
    sampled frame through the classifiers and the derivative matcher (an edited clip of a
    protected picture is caught on the frames that show it)."""
    settings = ctx.services.settings
    stages = list(ctx.classifiers)
    derived: dict[int, dict[str, Any]] = {}
    if ctx.protected is not None:
        ctx.protected.matcher.refresh()
        if len(ctx.protected.matcher):  # nothing protected: no frame matching to pay for
            stages.append(_frame_derivatives(ctx, derived))
    video = scan_video_bytes(data, media_type, VideoLimits.from_settings(settings),
                             classify=stages)
    sha256, md5 = file_digests(data)
    derivatives = None
    if derived:
        derivatives = {"matches": sorted(derived.values(), key=lambda m: -m["score"]),
                       "provenance": ctx.protected.provenance(data)}
    return {"sha256": sha256, "md5": md5, "pdq": None, "pdq_quality": None,
            "pdq_dihedral": None, "matches": ctx.matcher.match_video(video),
            "labels": video.get("labels") or [], "verdicts": [], "video": video,
            "width": video.get("width"), "height": video.get("height"),
            "format": video.get("format"), "derivatives": derivatives}


def _frame_derivatives(ctx: ScanContext, derived: dict[int, dict[str, Any]]) -> Classify:
    """A frame stage that labels nothing and collects derivative matches: the best match per
    protected picture, and on how many sampled frames it was found."""
    def stage(frame: Image.Image) -> list[dict[str, Any]]:
        for match in ctx.protected.matcher.match(frame):
            best = derived.get(match["id"])
            seen = best["evidence"]["frames_matched"] if best else 0
            if best is None or match["score"] > best["score"]:
                best = derived[match["id"]] = {**match, "evidence": dict(match["evidence"])}
            best["evidence"]["frames_matched"] = seen + 1
        return []
    return stage


def labels_of(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The thresholded taxonomy labels of all verdicts, strongest first."""
    labels = [{"label": label, "score": score, "model": v["model"]}
              for v in verdicts for label, score in v["labels"].items()]
    return sorted(labels, key=lambda item: (-item["score"], item["label"]))


def scan_media(status: StatusRef, media: MediaRef, ctx: ScanContext) -> dict[str, Any]:
    """Scan one attachment unless it already has a final result; return the stored row."""
    scans = ctx.services.scans
    row = scans.scan_claim(status, media)
    if row.state in FINAL_STATES:
        return scans.scan_get(media.media_id) or {}
    if media.media_type not in SCANNED_TYPES:
        reason = (AUDIO_NOT_SCANNED if media.media_type == "audio"
                  else f"{media.media_type} attachments are not scanned")
        scans.scan_save(media.media_id, state="unsupported", error=reason)
        return scans.scan_get(media.media_id) or {}
    started = time.monotonic()
    try:
        result = _fetch_and_scan(media, ctx)
    except MediaError as exc:
        scans.scan_save(media.media_id, state="error", error=f"{exc.code}: {exc.message}")
        ctx.services.metrics.count("job:scan_media:error")
        return scans.scan_get(media.media_id) or {}
    elapsed_ms = (time.monotonic() - started) * 1000
    scans.scan_save(media.media_id, state="scanned", error=None, sha256=result["sha256"],
                    pdq=result["pdq"], pdq_quality=result["pdq_quality"],
                    pdq_dihedral=result["pdq_dihedral"], matches=result["matches"],
                    labels=result["labels"], verdicts=result["verdicts"],
                    video=result.get("video"), scan_ms=elapsed_ms)
    if ctx.protected is not None:
        ctx.protected.after_scan(status, media, result)
    ctx.services.metrics.observe_ms("scan", elapsed_ms)
    ctx.services.metrics.count("job:scan_media:scanned")
    return scans.scan_get(media.media_id) or {}


def _fetch_and_scan(media: MediaRef, ctx: ScanContext) -> dict[str, Any]:
    urls = media.fetch_urls
    if not urls:
        raise MediaError("attachment has no URL (still processing on the instance?)")
    failures: list[MediaError | TransientError] = []
    for url in urls:
        try:
            fetched = fetch_media(url, ctx.fetch_policy(media.media_type))
            return scan_bytes(fetched.data, ctx, media.media_type)
        except (MediaError, TransientError) as exc:
            failures.append(exc)
    # Retry later if any copy failed for a passing reason; otherwise the media is unscannable.
    raise next((f for f in failures if isinstance(f, TransientError)), failures[-1])


def scan_event(event: WebhookEvent, ctx: ScanContext) -> list[PlannedAction]:
    """Scan every media of every status the event carries; return the actions to plan."""
    planned: list[PlannedAction] = []
    for status in event.statuses:
        results = [scan_media(status, media, ctx) for media in status.media]
        if ctx.protected is not None:  # consent enforcement adds derivative findings
            results, extra = ctx.protected.enforce(status, results)
            planned.extend(extra)
        results = apply_trust(results, ctx.services)  # what peers' hashes may cause
        planned.extend(plan_actions(status, results, ctx.services.policy))
    return planned
