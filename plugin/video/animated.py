"""Animated GIF, WebP and APNG: find out cheaply whether a picture moves, then get its frames.

Mastodon sends these as ``image`` attachments (it turns GIFs it *re-encodes* into ``gifv``
MP4s, but remote and unprocessed ones arrive as they are). The still-image pipeline decodes
only the first frame, so an abusive frame later in the loop would pass unseen.

:func:`is_animated` reads container structure only -- GIF block headers, PNG chunk headers,
WebP's ``VP8X`` flags -- with bounded loops and no pixel decoding, so the router can call it
in-process on any bytes. :func:`animated_frames` decodes with Pillow inside the limited child
(``plugin/video/child.py``): every frame up to ``max_frames``, an evenly spaced subset past
that, each composited onto white at most ``frame_side`` pixels on the long side, with its
timestamp from the frame durations.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

from PIL import Image

from plugin.errors import UndecodableMedia
from plugin.video.frames import Frame
from plugin.video.sandbox import VideoLimits, run_limited

CHILD = Path(__file__).with_name("child.py")
#: animated frames are hashed like stills: the image pipeline's working size
ANIMATED_FRAME_SIDE = 1024


def is_animated(data: bytes) -> bool:
    """True for a GIF, PNG (APNG) or WebP with more than one frame; False for anything else."""
    try:
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _gif_images(data, stop_at=2) >= 2
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _apng_frames(data) > 1
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_animated(data)
    except (IndexError, struct.error):
        return False
    return False


def _gif_images(data: bytes, stop_at: int) -> int:
    pos = 13
    flags = data[10]
    if flags & 0x80:
        pos += 3 * (2 << (flags & 0x07))
    images = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor, optional local colour table, LZW data
            images += 1
            if images >= stop_at:
                break
            local = data[pos + 9]
            pos += 10
            if local & 0x80:
                pos += 3 * (2 << (local & 0x07))
            pos = _skip_sub_blocks(data, pos + 1)
        else:
            break
    return images


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while True:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _apng_frames(data: bytes) -> int:
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"acTL":
            return struct.unpack(">I", data[pos + 8:pos + 12])[0]
        if kind in (b"IDAT", b"IEND"):  # acTL must come before the image data
            return 1
        pos += 12 + length
    return 1


def _webp_animated(data: bytes) -> bool:
    if data[12:16] != b"VP8X":
        return False
    return bool(data[20] & 0x02)  # the animation flag


def animated_frames(path: Path, limits: VideoLimits) -> tuple[list[Frame], dict[str, object]]:
    """Decode an animated image's frames in the limited child; also return what it reported."""
    result = run_limited(
        [sys.executable, "-I", str(CHILD), "animated", str(path), str(limits.max_frames),
         str(ANIMATED_FRAME_SIDE), str(limits.max_pixels)],
        timeout_s=limits.decode_timeout_s, what="animated image decoding",
        memory_bytes=limits.memory_bytes)
    head, sep, raster = result.stdout.partition(b"\n")
    try:
        header = json.loads(head) if sep else None
        entries = header["frames"] if isinstance(header, dict) else None
        frames, pos = [], 0
        for entry in entries or []:
            size = (int(entry["w"]), int(entry["h"]))
            length = size[0] * size[1] * 3
            image = Image.frombytes("RGB", size, raster[pos:pos + length])
            frames.append(Frame(round(float(entry["t"]), 3), image))
            pos += length
    except (ValueError, KeyError, TypeError) as exc:
        raise UndecodableMedia(f"animated image decoder returned nonsense: {exc}") from None
    if not frames or not isinstance(header, dict):
        raise UndecodableMedia("no frame of the animated image could be decoded")
    return frames, header
