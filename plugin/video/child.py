"""The decoding child: run by path (``python -I child.py TASK ...``), never imported by workers.

It holds the decoders that cannot be given a deadline in-process -- the ``vpdq`` extension
(libav) and Pillow on animated images -- and talks to its parent over stdout only:

* ``vpdq FILE SECONDS_PER_HASH`` prints a JSON list of ``[pdq_hex, quality, timestamp]``.
* ``animated FILE MAX_FRAMES MAX_SIDE MAX_PIXELS`` prints one JSON header line
  (``format``, ``n_frames``, ``duration_s`` and per emitted frame ``t``, ``w``, ``h``) and then
  the frames' raw RGB bytes back to back. Past ``MAX_FRAMES`` frames, an evenly spaced subset
  is emitted, so the end of a long animation is looked at too.

It imports only ``vpdq``, Pillow and the standard library, so it starts in ~0.1 s, and it is
run by path rather than as ``-m plugin...`` to keep the package's imports out of it. The parent
(``plugin.video.sandbox.run_limited``) applies the deadline and the resource limits.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def hash_vpdq(path: str, seconds_per_hash: float) -> int:
    import vpdq

    features = vpdq.computeHash(path, seconds_per_hash=seconds_per_hash)
    rows = [[f.hex, int(f.quality), round(float(f.timestamp), 3)] for f in features]
    if not rows:
        print("no video frames could be decoded", file=sys.stderr)
        return 3
    sys.stdout.write(json.dumps(rows))
    return 0


def animated_frames(path: str, max_frames: int, max_side: int, max_pixels: int) -> int:
    from PIL import Image, ImageSequence

    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(path) as img:
        n_frames = int(getattr(img, "n_frames", 1))
        if img.width * img.height * min(n_frames, max_frames) > max_pixels * 4:
            print(f"{n_frames} frames of {img.width}x{img.height} are over the pixel budget",
                  file=sys.stderr)
            return 4
        wanted = _evenly(n_frames, max_frames)
        emitted: list[dict[str, object]] = []
        header: dict[str, object] = {"format": img.format, "n_frames": n_frames,
                                     "width": img.width, "height": img.height,
                                     "frames": emitted}
        chunks: list[bytes] = []
        t_ms = 0
        for index, frame in enumerate(ImageSequence.Iterator(img)):
            frame.load()  # WebP fills in the frame's duration only when loaded
            if index in wanted:
                rgb = _flatten(frame)
                if max(rgb.size) > max_side:
                    rgb.thumbnail((max_side, max_side))
                emitted.append({"i": index, "t": t_ms / 1000, "w": rgb.width,
                                "h": rgb.height})
                chunks.append(rgb.tobytes())
            t_ms += max(int(frame.info.get("duration") or 0), 0)
        header["duration_s"] = t_ms / 1000
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n")
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
    return 0


def _evenly(n: int, cap: int) -> set[int]:
    if n <= cap:
        return set(range(n))
    return {round(i * (n - 1) / (cap - 1)) for i in range(cap)} if cap > 1 else {0}


def _flatten(frame: Image.Image) -> Image.Image:
    from PIL import Image

    img = frame.convert("RGBA")
    background = Image.new("RGB", img.size, (255, 255, 255))
    background.paste(img, mask=img.getchannel("A"))
    return background


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "vpdq":
        return hash_vpdq(argv[1], float(argv[2]))
    if len(argv) == 5 and argv[0] == "animated":
        return animated_frames(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
    print("usage: child.py vpdq FILE SECONDS | animated FILE MAX_FRAMES MAX_SIDE MAX_PIXELS",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
