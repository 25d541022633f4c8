"""ffprobe a video before anything decodes it, and refuse what is over the limits.

Why first: the cheapest moment to refuse a 3-hour clip, a 16K-pixel frame or a file that is
really an HLS playlist pointing at ``file:///etc/passwd`` (FFmpeg follows playlists) is before
a decoder runs. ffprobe reads only headers, under the same child-process deadline as decoding,
and only with the demuxers in :data:`ALLOWED_DEMUXERS` and the ``file`` protocol. Decoders that
come after (``vpdq``'s libav, ffmpeg for frames) only ever see files that passed this check.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin.errors import MediaTooLarge, UndecodableMedia, UnsupportedMedia
from plugin.video.sandbox import VideoLimits, run_limited

#: containers Mastodon and its peers serve (MP4/MOV, WebM/MKV, GIF, APNG) and a few classic
#: ones; playlists (hls, concat), image sequences and devices are deliberately absent
ALLOWED_DEMUXERS = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,gif,apng,avi,mpegts,ogg,flv")
PROBE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ProbeInfo:
    format: str
    codec: str
    width: int
    height: int
    duration_s: float | None
    fps: float | None
    nb_frames: int | None
    has_audio: bool


def input_options() -> list[str]:
    """FFmpeg input options that keep a demuxer from opening anything but this one file."""
    return ["-format_whitelist", ALLOWED_DEMUXERS, "-protocol_whitelist", "file"]


def probe(path: Path, limits: VideoLimits) -> ProbeInfo:
    """Read the container's headers; raise a ``MediaError`` for what we will not decode."""
    result = run_limited(
        ["ffprobe", "-v", "error", *input_options(), "-print_format", "json",
         "-show_format", "-show_streams", str(path)],
        timeout_s=min(PROBE_TIMEOUT_S, limits.decode_timeout_s), what="ffprobe",
        memory_bytes=limits.memory_bytes)
    try:
        data = json.loads(result.stdout or b"{}")
    except ValueError:
        raise UndecodableMedia("ffprobe returned unreadable output") from None
    info = parse_probe(data)
    check_limits(info, limits)
    return info


def parse_probe(data: dict[str, Any]) -> ProbeInfo:
    streams = [s for s in data.get("streams", []) if isinstance(s, dict)]
    video = [s for s in streams if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    if not video:
        if has_audio:
            raise UnsupportedMedia("audio only: sound is not scanned (no video stream)")
        raise UndecodableMedia("no video stream found")
    stream = video[0]
    fmt = data.get("format") or {}
    width, height = _int(stream.get("width")) or 0, _int(stream.get("height")) or 0
    if width <= 0 or height <= 0:
        raise UndecodableMedia("video stream has no frame size")
    return ProbeInfo(
        format=str(fmt.get("format_name") or "unknown"),
        codec=str(stream.get("codec_name") or "unknown"),
        width=width, height=height,
        duration_s=_float(fmt.get("duration")) or _float(stream.get("duration")),
        fps=_rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
        nb_frames=_int(stream.get("nb_frames")),
        has_audio=has_audio)


def check_limits(info: ProbeInfo, limits: VideoLimits) -> None:
    pixels = info.width * info.height
    if pixels > limits.max_pixels:
        raise MediaTooLarge(f"video frames are {info.width}x{info.height} = {pixels} pixels, "
                            f"over the cap of {limits.max_pixels}")
    if info.duration_s is not None and info.duration_s > limits.max_duration_s:
        raise MediaTooLarge(f"video lasts {info.duration_s:.1f} s, over the cap of "
                            f"{limits.max_duration_s:g} s")


def _float(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _rate(raw: Any) -> float | None:
    num, _, den = str(raw or "").partition("/")
    n, d = _float(num), _float(den or "1")
    return n / d if n and d else None
