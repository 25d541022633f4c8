"""Sample the frames of a video that classifiers and the derivative matcher look at.

Which frames: one every ``sample_every_s`` seconds plus every scene change (FFmpeg's ``scene``
score above ``scene_threshold``), at most ``max_frames``, each scaled so its long side is at
most ``frame_side`` pixels (classifiers work at 224-640 px; PDQ filters to 64x64). A clip that
cuts to a still for half a second is therefore still looked at, without classifying 30 near
identical frames a second.

How: one ``ffmpeg`` child (see ``plugin.video.sandbox``) decodes every frame once, selects,
scales only the selected ones, and writes them to stdout as a PPM stream, while ``showinfo`` on
stderr gives each selected frame's timestamp. The input is limited to the probe's demuxer
allow-list and to ``max_duration_s`` seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from plugin.errors import UndecodableMedia
from plugin.video.probe import input_options
from plugin.video.sandbox import VideoLimits, run_limited

_PTS_TIME = re.compile(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:\s*(-?[0-9.]+)")


@dataclass(frozen=True)
class Frame:
    """A decoded RGB frame and where it sits in the media, in seconds."""

    timestamp: float
    image: Image.Image


def sample_command(path: Path, limits: VideoLimits) -> list[str]:
    every, scene, side = limits.sample_every_s, limits.scene_threshold, limits.frame_side
    select = (f"select='isnan(prev_selected_t)+gte(t-prev_selected_t,{every:g})"
              f"+gt(scene,{scene:g})'")
    scale = (f"scale='min(iw,{side})':'min(ih,{side})':force_original_aspect_ratio=decrease"
             ":flags=area")
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", *input_options(),
            "-t", f"{limits.max_duration_s:g}", "-i", str(path),
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", f"{select},{scale},showinfo", "-fps_mode", "vfr",
            "-frames:v", str(limits.max_frames), "-c:v", "ppm", "-f", "image2pipe", "pipe:1"]


def sample_frames(path: Path, limits: VideoLimits) -> list[Frame]:
    """The selected frames of ``path``, in time order; ``MediaError`` when undecodable."""
    result = run_limited(sample_command(path, limits), timeout_s=limits.decode_timeout_s,
                         what="frame sampling", memory_bytes=limits.memory_bytes)
    images = parse_ppm_stream(result.stdout)
    times = [float(m.group(1)) for m in _PTS_TIME.finditer(result.stderr)]
    if not images:
        raise UndecodableMedia("no video frame could be decoded")
    if len(times) != len(images):
        # showinfo and the encoder disagree only if FFmpeg changed its log format; keep the
        # frames, and number them by the sampling interval rather than lose them.
        times = [i * limits.sample_every_s for i in range(len(images))]
    return [Frame(max(0.0, round(t, 3)), img) for t, img in zip(times, images, strict=True)]


def parse_ppm_stream(data: bytes) -> list[Image.Image]:
    """Split FFmpeg's ``image2pipe`` PPM output (``P6 W H 255`` + RGB bytes, repeated)."""
    frames = []
    pos, end = 0, len(data)
    while pos < end:
        fields: list[bytes] = []
        while len(fields) < 4:
            while pos < end and data[pos:pos + 1].isspace():
                pos += 1
            start = pos
            while pos < end and not data[pos:pos + 1].isspace():
                pos += 1
            if start == pos:
                raise UndecodableMedia("truncated frame stream from ffmpeg")
            fields.append(data[start:pos])
        pos += 1  # the single whitespace byte before the raster
        magic, width, height, maxval = fields
        if magic != b"P6" or maxval != b"255" or not width.isdigit() or not height.isdigit():
            raise UndecodableMedia("unexpected frame format from ffmpeg")
        size = (int(width), int(height))
        length = size[0] * size[1] * 3
        if pos + length > end:
            raise UndecodableMedia("truncated frame from ffmpeg")
        frames.append(Image.frombytes("RGB", size, data[pos:pos + length]))
        pos += length
    return frames
