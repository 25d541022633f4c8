"""``scan_video_bytes``: videos, GIFVs and animated images hashed, sampled and classified, with
per-label evidence (timestamps); audio recorded as not scanned, with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from plugin.errors import UnsupportedMedia
from plugin.hashing.types import PdqHash
from plugin.video.animated import is_animated
from plugin.video.sandbox import VideoLimits
from plugin.video.scan import (
    AUDIO_NOT_SCANNED,
    AUDIO_TRACK_NOT_SCANNED,
    aggregate_verdicts,
    frame_pdq,
    scan_video_bytes,
)
from plugin.video.vpdq_hash import parse_vpdq
from tests.video import clips
from tests.video.conftest import STILL, STILL_AT_S


def still_detector(photo: Path) -> Any:
    """A stand-in classifier stage (verdict dict, as ``plugin.scanning.Classify``) that flags
    frames showing ``photo`` -- so where it fires is known, and the evidence can be checked."""
    with Image.open(photo) as img:
        target, _ = frame_pdq(img.convert("RGB"))

    def stage(image: Image.Image) -> dict[str, Any]:
        pdq, _ = frame_pdq(image)
        score = 1.0 - PdqHash.distance(pdq, target) / 256
        return {"model": "still-detector@1", "scores": {"same": score},
                "taxonomy": {"test.still": score},
                "labels": {"test.still": score} if score >= 0.88 else {}}
    return stage


def test_video_labels_carry_max_count_and_timestamps(clip_dir: dict[str, Path],
                                                     limits: VideoLimits) -> None:
    stage = still_detector(clips.photo(STILL))
    result = scan_video_bytes(clip_dir["with_still"].read_bytes(), "video", limits, [stage])
    json.dumps(result)  # JSON-safe all the way down
    [label] = result["labels"]
    assert label["label"] == "test.still" and label["model"] == "still-detector@1"
    assert label["score"] > 0.95 and label["count_above"] >= 2
    assert all(STILL_AT_S - 0.1 <= t < STILL_AT_S + 2.1 for t in label["timestamps"])
    assert STILL_AT_S - 0.1 <= label["timestamp_max"] < STILL_AT_S + 2.1
    assert result["taxonomy_max"]["still-detector@1"]["test.still"] == label["score"]
    assert result["classified_frames"] >= 12  # ~12 s at one a second, plus scene cuts
    assert "audio" not in result  # the cut dropped the sound track
    assert result["duration_s"] == pytest.approx(12, abs=0.3)
    assert len(parse_vpdq(result["vpdq"])) == result["vpdq_frames"]


def test_scene_changes_between_seconds_are_sampled(clip_dir: dict[str, Path],
                                                   limits: VideoLimits) -> None:
    seen: list[Image.Image] = []
    result = scan_video_bytes(clip_dir["unrelated"].read_bytes(), "video", limits,
                              [lambda image: seen.append(image) or []])
    times = [row["timestamp"] for row in result["pdq_frames"]]
    assert any(abs(t - 2.5) < 0.05 for t in times)  # the cut at 2.5 s, not a whole second
    assert len(seen) == result["classified_frames"] and max(seen[0].size) <= 512
    assert result["audio"] == AUDIO_TRACK_NOT_SCANNED  # this one has a sound track


def test_frame_cap_and_hash_only_mode(clip_dir: dict[str, Path]) -> None:
    data = clip_dir["original"].read_bytes()
    capped = scan_video_bytes(data, "gifv", VideoLimits(max_frames=4), [lambda image: []])
    assert capped["classified_frames"] == 4
    hashed = scan_video_bytes(data, "gifv", VideoLimits(), None)
    assert hashed["classified_frames"] == 0 and hashed["labels"] == []
    assert hashed["vpdq"] == capped["vpdq"] and len(hashed["video_md5"]) == 32


def test_audio_is_recorded_as_not_scanned(clip_dir: dict[str, Path]) -> None:
    data = clip_dir["audio"].read_bytes()
    with pytest.raises(UnsupportedMedia) as err:
        scan_video_bytes(data, "audio", VideoLimits())
    assert err.value.message == AUDIO_NOT_SCANNED
    with pytest.raises(UnsupportedMedia, match="audio only"):
        scan_video_bytes(data, "video", VideoLimits())  # sound sent as a video


@pytest.mark.parametrize(("name", "fmt"), [("gif", "GIF"), ("apng", "PNG"), ("webp", "WEBP")])
def test_animated_images_every_frame_classified(clip_dir: dict[str, Path], name: str,
                                                fmt: str) -> None:
    data = clip_dir[name].read_bytes()
    assert is_animated(data)
    stage = still_detector(clips.photo(3))  # the second photo of the animation
    result = scan_video_bytes(data, "image", VideoLimits(), [stage])
    assert result["kind"] == "animated" and result["format"] == fmt
    assert result["frames"] == result["total_frames"] == 6  # 2 photos x 3 frames
    assert len(result["pdq_frames"]) == 6
    [label] = result["labels"]
    assert label["count_above"] == 3 and label["timestamps"] == pytest.approx([0.6, 0.8, 1.0])
    assert len(parse_vpdq(result["vpdq"])) == 2  # one hash a second over 1.2 s


def test_animated_frame_cap_thins_evenly(clip_dir: dict[str, Path]) -> None:
    result = scan_video_bytes(clip_dir["gif"].read_bytes(), "image", VideoLimits(max_frames=3),
                              [lambda image: []])
    times = [row["timestamp"] for row in result["pdq_frames"]]
    assert result["frames"] == 3 and times[0] == 0.0 and times[-1] == pytest.approx(1.0)


def test_still_images_are_not_videos() -> None:
    data = clips.photo(1).read_bytes()
    assert not is_animated(data)
    with pytest.raises(UnsupportedMedia):
        scan_video_bytes(data, "image", VideoLimits())


def test_aggregation_of_plain_label_lists_and_verdicts() -> None:
    per_frame = [
        (0.0, [[{"label": "a", "score": 0.7, "model": "m"}]]),
        (1.0, [{"model": "v", "taxonomy": {"b": 0.2, "c": 0.9}, "labels": {"c": 0.9}}]),
        (2.0, [[{"label": "a", "score": 0.9, "model": "m"}],
               {"model": "v", "taxonomy": {"b": 0.4}, "labels": {}}]),
    ]
    out = aggregate_verdicts(per_frame)
    assert [(r["model"], r["label"], r["score"], r["count_above"], r["timestamps"],
             r["timestamp_max"]) for r in out["labels"]] == [
        ("m", "a", 0.9, 2, [0.0, 2.0], 2.0), ("v", "c", 0.9, 1, [1.0], 1.0)]
    assert out["taxonomy_max"] == {"v": {"b": 0.4, "c": 0.9}}
