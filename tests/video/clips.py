"""Benign test clips made with FFmpeg from the shared corpus photos (no clip is stored).

Slideshows with a slow pan over each photo (so consecutive frames differ, as in real video),
re-encodes at other sizes, bitrates and frame rates, a clip with one still cut into it, an
audio-only file, and animated GIF/APNG/WebP. Used by ``tests/video`` and ``bench/video.py``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageSequence

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "photos"


def photo(n: int) -> Path:
    return sorted(CORPUS.glob(f"{n:03d}-*.jpg"))[0]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                   check=True, timeout=300)


def _panned(index: int, seconds: float, size: tuple[int, int], fps: int) -> str:
    """Filter for input ``index``: stretch to 125 % of the frame, pan diagonally across it."""
    w, h = size
    big_w, big_h = (w * 5 // 4) // 2 * 2, (h * 5 // 4) // 2 * 2
    return (f"[{index}]scale={big_w}:{big_h},setsar=1,fps={fps},"
            f"crop={w}:{h}:x='(iw-{w})*t/{seconds:g}':y='(ih-{h})*t/{seconds:g}',"
            f"format=yuv420p[v{index}]")


def slideshow(photos: Sequence[Path], out: Path, *, size: tuple[int, int] = (640, 360),
              seconds_each: float = 3.0, fps: int = 25, crf: int = 23,
              preset: str = "ultrafast", audio: bool = False) -> Path:
    """An H.264 MP4 panning over each photo for ``seconds_each`` seconds."""
    inputs: list[str] = []
    for p in photos:
        inputs += ["-loop", "1", "-t", f"{seconds_each:g}", "-i", str(p)]
    parts = [_panned(i, seconds_each, size, fps) for i in range(len(photos))]
    chain = "".join(f"[v{i}]" for i in range(len(photos)))
    graph = ";".join(parts) + f";{chain}concat=n={len(photos)}:v=1:a=0[v]"
    extra: list[str] = []
    if audio:
        total = seconds_each * len(photos)
        inputs += ["-f", "lavfi", "-t", f"{total:g}", "-i", "sine=frequency=440"]
        extra = ["-map", f"{len(photos)}:a", "-c:a", "aac", "-shortest"]
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", *extra, "-c:v", "libx264",
           "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", str(out))
    return out


def reencode(src: Path, out: Path, *, size: tuple[int, int] | None = None,
             bitrate: str | None = None, fps: int | None = None, crf: int = 28,
             codec: str = "libx264") -> Path:
    """The same clip at another size, bitrate, frame rate or codec."""
    filters = []
    if size:
        filters.append(f"scale={size[0]}:{size[1]}")
    if fps:
        filters.append(f"fps={fps}")
    args = ["-i", str(src), "-an"]
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", codec]
    args += ["-b:v", bitrate] if bitrate else ["-crf", str(crf)]
    if codec == "libx264":
        args += ["-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    else:
        args += ["-deadline", "realtime", "-cpu-used", "8"]
    ffmpeg(*args, str(out))
    return out


def with_still(src: Path, still: Path, out: Path, *, at_s: float, hold_s: float = 2.0,
               size: tuple[int, int] = (640, 360), fps: int = 25) -> Path:
    """``src`` with ``still`` (stretched to the frame) cut in at ``at_s`` for ``hold_s``."""
    w, h = size
    graph = (f"[0]trim=0:{at_s:g},setpts=PTS-STARTPTS,scale={w}:{h},setsar=1,fps={fps}[a];"
             f"[1]scale={w}:{h},setsar=1,fps={fps},format=yuv420p[s];"
             f"[0]trim=start={at_s:g},setpts=PTS-STARTPTS,scale={w}:{h},setsar=1,fps={fps}[b];"
             "[a][s][b]concat=n=3:v=1:a=0[v]")
    ffmpeg("-i", str(src), "-loop", "1", "-t", f"{hold_s:g}", "-i", str(still),
           "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(out))
    return out


def audio_only(out: Path, seconds: float = 2.0) -> Path:
    ffmpeg("-f", "lavfi", "-t", f"{seconds:g}", "-i", "sine=frequency=440", "-c:a", "aac",
           str(out))
    return out


def animation(photos: Sequence[Path], out: Path, *, side: int = 256, frames_each: int = 3,
              fps: int = 5) -> Path:
    """An animated GIF, APNG (``.png``) or WebP: each photo held ``frames_each`` frames.

    Every frame differs (a small moving crop), so encoders cannot merge them.
    """
    seconds = frames_each / fps
    inputs: list[str] = []
    for p in photos:
        inputs += ["-loop", "1", "-t", f"{seconds:g}", "-i", str(p)]
    parts = [f"[{i}]scale={side + 4}:{side + 4},setsar=1,fps={fps},"
             f"crop={side}:{side}:x='n':y='n'[v{i}]" for i in range(len(photos))]
    chain = "".join(f"[v{i}]" for i in range(len(photos)))
    graph = ";".join(parts) + f";{chain}concat=n={len(photos)}:v=1:a=0[v]"
    if out.suffix == ".webp":  # FFmpeg's WebP muxer merges similar frames: encode with libwebp
        gif = animation(photos, out.with_suffix(".webp.gif"), side=side,
                        frames_each=frames_each, fps=fps)
        with Image.open(gif) as img:
            frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(img)]
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=1000 // fps,
                       loop=0, quality=90)
        return out
    codec = {".gif": ["-f", "gif"], ".png": ["-f", "apng", "-plays", "0"]}[out.suffix]
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", *codec, str(out))
    return out
