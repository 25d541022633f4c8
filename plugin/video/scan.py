"""``scan_video_bytes``: the one entry point the scan pipeline calls for media that moves.

Given an attachment's bytes and its Mastodon ``media_type`` it returns a JSON-safe summary:
``video_md5``, the vPDQ hash (pytx text form), per-frame PDQs with timestamps and quality (to
find banked *stills* inside a clip), duration, frame count, and the classifier labels
aggregated over the sampled frames -- per (model, label): the highest score, how many frames
crossed the threshold, and at which timestamps (the evidence a moderator checks).

Routing: ``audio`` is refused with a recorded reason (:data:`AUDIO_NOT_SCANNED`); GIF, APNG and
WebP bytes that animate go through Pillow in the child (``plugin.video.animated``), everything
else through ffprobe, ``vpdq`` and ffmpeg. For a video the ``vpdq`` hasher and the frame
sampler are two children run side by side (two cores, two decoders, one deadline each); the
sampler only runs when there is something to hand frames to. Every failure is a
``MediaError`` subclass, which the pipeline records on the media as its ``error`` state.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from PIL import Image

from plugin.errors import MediaTooLarge, UndecodableMedia, UnsupportedMedia
from plugin.hashing.image_hashes import bits_to_hex
from plugin.video.animated import animated_frames, is_animated
from plugin.video.frames import Frame, sample_frames
from plugin.video.probe import probe
from plugin.video.sandbox import VideoLimits
from plugin.video.vpdq_hash import VpdqFeature, compute_vpdq, serialize_vpdq

#: ``plugin.scanning.Classify``: RGB image in, a verdict dict out (see ``aggregate_verdicts``)
Classify = Callable[[Image.Image], Any]

VIDEO_TYPES = ("video", "gifv")
AUDIO_NOT_SCANNED = ("audio is not scanned: Consentry hashes and classifies pictures, and an "
                     "audio attachment has none")
AUDIO_TRACK_NOT_SCANNED = "the video's sound track is not scanned (pictures only)"
#: evidence kept per label: the timestamps of at most this many frames
MAX_EVIDENCE_TIMESTAMPS = 50


def scan_video_bytes(data: bytes, media_type: str, limits: VideoLimits,
                     classify: Sequence[Classify] | None = None) -> dict[str, Any]:
    """Hash and classify one video, GIFV or animated image; raise ``MediaError`` if we can't."""
    if media_type == "audio":
        raise UnsupportedMedia(AUDIO_NOT_SCANNED)
    if not data:
        raise UndecodableMedia("empty file")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"{len(data)} bytes, over the video cap of {limits.max_bytes}")
    animated = is_animated(data)
    if media_type not in VIDEO_TYPES and not animated:
        raise UnsupportedMedia(f"{media_type} media that does not move is not a video")
    stages = list(classify or ())
    with tempfile.TemporaryDirectory(prefix="consentry-video-") as tmp:
        path = Path(tmp) / "media"
        path.write_bytes(data)
        if animated:
            result = _scan_animated(path, limits, stages)
        else:
            result = _scan_video(path, limits, stages)
    return {"video_md5": hashlib.md5(data, usedforsecurity=False).hexdigest(), **result}


def _scan_video(path: Path, limits: VideoLimits, stages: list[Classify]) -> dict[str, Any]:
    info = probe(path, limits)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="consentry-video") as pool:
        hashing = pool.submit(compute_vpdq, path, timeout_s=limits.decode_timeout_s,
                              seconds_per_hash=limits.vpdq_seconds_per_hash,
                              memory_bytes=limits.memory_bytes)
        sampling = pool.submit(sample_frames, path, limits) if stages else None
        frames = sampling.result() if sampling else []
        # classify while the vPDQ child may still be decoding: the two overlap on two cores
        verdicts = classify_frames(frames, stages)
        features = hashing.result()
    features = _within(features, limits.max_duration_s)
    pdq_frames = _merge_pdq_frames(features, frames)
    result = {
        "kind": "video", "format": info.format, "codec": info.codec,
        "width": info.width, "height": info.height,
        "duration_s": info.duration_s if info.duration_s is not None
        else (features[-1].timestamp if features else 0.0),
        "vpdq": serialize_vpdq(features), "vpdq_frames": len(features),
        "frames": len(pdq_frames),
        "pdq_frames": pdq_frames,
        **verdicts,
        "classified_frames": len(frames),
    }
    if info.has_audio:
        result["audio"] = AUDIO_TRACK_NOT_SCANNED
    return result


def _scan_animated(path: Path, limits: VideoLimits, stages: list[Classify]) -> dict[str, Any]:
    frames, header = animated_frames(path, limits)
    hashed = [VpdqFeature(*frame_pdq(f.image), timestamp=f.timestamp) for f in frames]
    features = _every(hashed, limits.vpdq_seconds_per_hash)
    return {
        "kind": "animated", "format": str(header.get("format") or "unknown"),
        "width": int(header.get("width") or 0),  # type: ignore[call-overload]
        "height": int(header.get("height") or 0),  # type: ignore[call-overload]
        "duration_s": float(header.get("duration_s") or 0.0),  # type: ignore[arg-type]
        "vpdq": serialize_vpdq(features), "vpdq_frames": len(features),
        "frames": len(frames), "total_frames": header.get("n_frames"),
        "pdq_frames": [_row(f) for f in hashed],
        **classify_frames(frames, stages),
        "classified_frames": len(frames) if stages else 0,
    }


def frame_pdq(image: Image.Image) -> tuple[str, int]:
    """PDQ hex and quality of one RGB frame (the original orientation only, as vPDQ does)."""
    bits, quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return bits_to_hex(bits), int(quality)


def _every(features: list[VpdqFeature], seconds: float) -> list[VpdqFeature]:
    """vPDQ's sampling: the first frame, then the first at or after each next ``seconds``."""
    out: list[VpdqFeature] = []
    for feature in features:
        if not out or feature.timestamp >= out[-1].timestamp + seconds - 1e-6:
            out.append(feature)
    return out


def _within(features: list[VpdqFeature], max_duration_s: float) -> list[VpdqFeature]:
    return [f for f in features if f.timestamp <= max_duration_s]


def _row(feature: VpdqFeature) -> dict[str, Any]:
    return {"timestamp": feature.timestamp, "pdq": feature.pdq, "quality": feature.quality}


def _merge_pdq_frames(features: list[VpdqFeature], frames: list[Frame]) -> list[dict[str, Any]]:
    """vPDQ's frames plus the sampled ones at other times (scene changes between seconds)."""
    rows = {f.timestamp: _row(f) for f in features}
    for frame in frames:
        if frame.timestamp not in rows:
            pdq, quality = frame_pdq(frame.image)
            rows[frame.timestamp] = {"timestamp": frame.timestamp, "pdq": pdq,
                                     "quality": quality}
    return [rows[t] for t in sorted(rows)]


def classify_frames(frames: Sequence[Frame], stages: Sequence[Classify]) -> dict[str, Any]:
    """Run every stage on every frame; aggregate into ``labels`` and ``taxonomy_max``.

    A stage with a ``batch`` attribute (images in, one output each out) gets all frames in one
    call, which lets an ONNX model run them as one batch.
    """
    images = [frame.image for frame in frames]
    outputs = [list(batch(images)) if (batch := getattr(stage, "batch", None)) else
               [stage(image) for image in images] for stage in stages]
    per_frame = [(frame.timestamp, [out[i] for out in outputs])
                 for i, frame in enumerate(frames)] if stages else []
    return aggregate_verdicts(per_frame)


def aggregate_verdicts(per_frame: Sequence[tuple[float, Sequence[Any]]]) -> dict[str, Any]:
    """Fold per-frame stage outputs into per-(model, label) evidence.

    A stage output is a verdict dict (``plugin.scanning.Classify``: ``model``, ``taxonomy``
    scores, thresholded ``labels``) or a list of ``{label, score, model}`` items that already
    crossed their threshold. ``labels`` holds each label that crossed on at least one frame:
    ``{label, model, score (max), count_above, timestamps, timestamp_max}``, strongest first;
    ``taxonomy_max`` the highest score of every taxonomy label per model, above or not, so a
    verdict can be re-judged later with other thresholds.
    """
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    peaks: dict[str, dict[str, float]] = {}
    for timestamp, outputs in per_frame:
        for output in outputs:
            for model, label, score, above in _items(output, peaks):
                if not above:
                    continue
                row = agg.setdefault((model, label), {
                    "label": label, "model": model, "score": score, "count_above": 0,
                    "timestamps": [], "timestamp_max": timestamp})
                if score > row["score"]:
                    row["score"], row["timestamp_max"] = score, timestamp
                row["count_above"] += 1
                if len(row["timestamps"]) < MAX_EVIDENCE_TIMESTAMPS:
                    row["timestamps"].append(timestamp)
    for row in agg.values():
        row["score"] = round(row["score"], 6)
    labels = sorted(agg.values(), key=lambda r: (-r["score"], r["model"], r["label"]))
    return {"labels": labels,
            "taxonomy_max": {m: {k: round(v, 6) for k, v in sorted(scores.items())}
                             for m, scores in sorted(peaks.items())}}


def _items(output: Any, peaks: dict[str, dict[str, float]]
           ) -> list[tuple[str, str, float, bool]]:
    if isinstance(output, dict):  # a verdict
        model = str(output.get("model", ""))
        seen = peaks.setdefault(model, {})
        for label, score in (output.get("taxonomy") or {}).items():
            seen[label] = max(float(score), seen.get(label, 0.0))
        return [(model, str(label), float(score), True)
                for label, score in (output.get("labels") or {}).items()]
    return [(str(item.get("model", "")), str(item["label"]), float(item.get("score", 0.0)),
             True) for item in output or ()]
