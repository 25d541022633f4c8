"""PDQ hashing time per image: our decode-once path beside a plain full-decode pdqhash.

For a 1 MP and a 10 MP JPEG made from corpus photos (upscaled; benign), prints p50/p99 ms of
  ours:     plugin.media.decode (JPEG DCT-domain downscale to ≤1024 px) + 8 dihedral PDQs
  baseline: Pillow full decode to RGB + pdqhash.compute (one hash), the usual plain path
and the Hamming distance between the two hashes (they must agree closely to be useful).

    .venv/bin/python bench/hashing.py [--runs 30]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plugin.hashing.image_hashes import bits_to_hex, hash_image
from plugin.hashing.types import PdqHash
from plugin.media.decode import decode_image

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"


def make_jpeg(path: Path, megapixels: float) -> bytes:
    img = Image.open(path).convert("RGB")
    scale = (megapixels * 1e6 / (img.width * img.height)) ** 0.5
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def ours(data: bytes) -> str:
    return hash_image(data, decode_image(data, max_pixels=200_000_000).image).pdq


def plain(data: bytes) -> str:
    bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return bits_to_hex(bits)


def timed(fn, data: bytes, runs: int) -> tuple[list[float], str]:
    fn(data)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn(data)
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    photos = sorted(CORPUS.glob("*.jpg"))[:3]
    print(f"{'image':<28}{'path':<10}{'p50 ms':>9}{'p99 ms':>9}   distance ours↔plain")
    for mp in (1, 10):
        for photo in photos:
            data = make_jpeg(photo, mp)
            ours_t, ours_h = timed(ours, data, args.runs)
            plain_t, plain_h = timed(plain, data, max(5, args.runs // 5))
            label = f"{photo.stem[:14]} {mp} MP"
            for name, ts in (("ours", ours_t), ("plain", plain_t)):
                p99 = np.percentile(ts, 99)
                print(f"{label:<28}{name:<10}{statistics.median(ts):>9.1f}{p99:>9.1f}"
                      + (f"   {PdqHash.distance(ours_h, plain_h)}" if name == "ours" else ""))


if __name__ == "__main__":
    main()
