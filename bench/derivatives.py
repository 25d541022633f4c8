"""Benchmark: derivative detection (ORB + voting + RANSAC) against whole-image PDQ.

Why: whole-image PDQ misses crops and partly repainted pictures; this measures how much of
that gap ``plugin.derivatives`` closes, what it costs in false matches, and how fast a query
is against a large index.

Run: ``.venv/bin/python bench/derivatives.py [--distractors N] [--photos K]``.

Only the benign corpus photos in ``shared/corpus/photos`` are used, plus synthetic edits of
them (crops, flips, recompression, rectangles of flat colour / noise / another photo /
``cv2.inpaint`` fill, text and shapes). Distractor fingerprints for the timing run are
*synthetic*: descriptors resampled from real ORB descriptors of augmented corpus photos with
random bit flips and random positions (see :func:`synthetic_distractors`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin.derivatives import DerivativeIndex, Fingerprint, fingerprint  # noqa: E402
from plugin.derivatives.features import canonical_gray, extract  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "photos"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/photos")

Edit = Callable[[Image.Image, np.random.Generator, Image.Image], Image.Image]


# ----------------------------------------------------------------------------- edits
def jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def resize(im: Image.Image, f: float) -> Image.Image:
    w, h = im.size
    return im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BILINEAR)


def crop(im: Image.Image, f: float) -> Image.Image:
    w, h = im.size
    dx, dy = round(w * f), round(h * f)
    return im.crop((dx, dy, w - dx, h - dy))


def _rect(im: Image.Image, area: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    w, h = im.size
    aspect = rng.uniform(0.6, 1.6)
    rw = min(w, round(np.sqrt(area * w * h * aspect)))
    rh = min(h, round(area * w * h / max(rw, 1)))
    x0 = int(rng.integers(0, w - rw + 1))
    y0 = int(rng.integers(0, h - rh + 1))
    return x0, y0, x0 + rw, y0 + rh


def replace(
    im: Image.Image, area: float, fill: str, rng: np.random.Generator, other: Image.Image
) -> Image.Image:
    """Replace a random rectangle covering ``area`` of the picture."""
    out = im.copy()
    x0, y0, x1, y1 = _rect(im, area, rng)
    size = (x1 - x0, y1 - y0)
    if fill == "flat":
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        out.paste(Image.new("RGB", size, colour), (x0, y0))
    elif fill == "noise":
        noise = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        out.paste(Image.fromarray(noise), (x0, y0))
    elif fill == "patch":
        ow, oh = other.size
        src = (
            other
            if ow >= size[0] and oh >= size[1]
            else other.resize((max(ow, size[0]), max(oh, size[1])))
        )
        sx = int(rng.integers(0, src.size[0] - size[0] + 1))
        sy = int(rng.integers(0, src.size[1] - size[1] + 1))
        out.paste(src.crop((sx, sy, sx + size[0], sy + size[1])), (x0, y0))
    elif fill == "inpaint":
        arr = np.asarray(im)
        small = 4 if max(size) > 200 else 1
        a = cv2.resize(arr, None, fx=1 / small, fy=1 / small, interpolation=cv2.INTER_AREA)
        mask = np.zeros(a.shape[:2], np.uint8)
        mask[y0 // small : -(-y1 // small), x0 // small : -(-x1 // small)] = 255
        filled = cv2.inpaint(a, mask, 3, cv2.INPAINT_TELEA)
        filled = cv2.resize(filled, (arr.shape[1], arr.shape[0]), interpolation=cv2.INTER_CUBIC)
        res = arr.copy()
        res[y0:y1, x0:x1] = cv2.GaussianBlur(filled, (0, 0), 2)[y0:y1, x0:x1]
        out = Image.fromarray(res)
    else:
        raise ValueError(fill)
    return out


def overlay(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Meme-style caption (PIL default font) plus a few emoji-like shapes."""
    out = im.copy()
    w, h = out.size
    d = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=max(12, h // 9))
    for text, y in (("WHEN THE EDIT", h // 30), ("HITS JUST RIGHT", h - h // 6)):
        d.text((w // 12, y), text, font=font, fill="white", stroke_width=3, stroke_fill="black")
    for _ in range(3):
        r = int(rng.integers(h // 16, h // 9))
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 210, 0), outline="black", width=2)
        d.ellipse((cx - r // 3 - 2, cy - r // 3, cx - r // 3 + 2, cy - r // 3 + 5), fill="black")
        d.ellipse((cx + r // 3 - 2, cy - r // 3, cx + r // 3 + 2, cy - r // 3 + 5), fill="black")
        d.arc((cx - r // 2, cy - r // 3, cx + r // 2, cy + r // 2), 20, 160, fill="black", width=2)
    return out


def edit_kinds() -> dict[str, Edit]:
    kinds: dict[str, Edit] = {
        "jpeg q30": lambda im, rng, o: jpeg(im, 30),
        "resize 25%": lambda im, rng, o: resize(im, 0.25),
        "resize 50%": lambda im, rng, o: resize(im, 0.5),
        "crop 5%": lambda im, rng, o: crop(im, 0.05),
        "crop 10%": lambda im, rng, o: crop(im, 0.10),
        "crop 20%": lambda im, rng, o: crop(im, 0.20),
        "mirror": lambda im, rng, o: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "rotate 5deg": lambda im, rng, o: im.rotate(5, Image.Resampling.BICUBIC, expand=True),
        "text+shapes": lambda im, rng, o: overlay(im, rng),
    }
    for fill in ("flat", "noise", "patch", "inpaint"):
        for area in (0.10, 0.25, 0.40):
            kinds[f"{fill} {int(area * 100)}%"] = lambda im, rng, o, a=area, f=fill: replace(
                im, a, f, rng, o
            )
    fills = ("flat", "noise", "patch", "inpaint")
    kinds["crop10+patch25"] = lambda im, rng, o: replace(crop(im, 0.1), 0.25, "patch", rng, o)
    kinds["crop10+inpaint25"] = lambda im, rng, o: replace(crop(im, 0.1), 0.25, "inpaint", rng, o)
    kinds["mirror+crop10+any25"] = lambda im, rng, o: replace(
        crop(im, 0.1), 0.25, fills[int(rng.integers(4))], rng, o
    ).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    kinds["crop20+mirror+jpeg50"] = lambda im, rng, o: jpeg(
        crop(im, 0.2).transpose(Image.Transpose.FLIP_LEFT_RIGHT), 50
    )
    return kinds


# ----------------------------------------------------------------------------- baseline
def pdq_hash(im: Image.Image) -> np.ndarray:
    import pdqhash

    h, _ = pdqhash.compute(np.asarray(im.convert("RGB")))
    return np.asarray(h, dtype=bool)


def pdq_dihedral(im: Image.Image) -> np.ndarray:
    import pdqhash

    hs, _ = pdqhash.compute_dihedral(np.asarray(im.convert("RGB")))
    return np.asarray(hs, dtype=bool)


def pdq_matches(query: Image.Image, originals: np.ndarray, threshold: int = 31) -> set[int]:
    """Ids whose original PDQ is within ``threshold`` of any of the query's 8 dihedral hashes."""
    d = (pdq_dihedral(query)[:, None, :] != originals[None, :, :]).sum(axis=2).min(axis=0)
    return set(np.flatnonzero(d <= threshold).tolist())


# ----------------------------------------------------------------------------- distractors
def synthetic_distractors(images: list[Image.Image], n: int, seed: int = 1) -> list[Fingerprint]:
    """``n`` synthetic protected fingerprints for load/timing (not for recall).

    Descriptors are resampled from a pool of real ORB descriptors of augmented corpus photos
    (random crop, rotation, scale), each bit flipped with probability 1/8, at random
    positions. They follow the real descriptor distribution (so hash buckets fill as with
    real photos) yet form no coherent picture, so they load the first stage and the
    verifier without being true matches.
    """
    from plugin.derivatives.features import PROTECTED_FEATURES

    rng = np.random.default_rng(seed)
    pool = []
    for im in images:
        for _ in range(3):
            w, h = im.size
            f = rng.uniform(0.6, 0.95)
            x0, y0 = int(rng.integers(0, w - w * f + 1)), int(rng.integers(0, h - h * f + 1))
            aug = im.crop((x0, y0, x0 + int(w * f), y0 + int(h * f)))
            aug = aug.rotate(float(rng.uniform(-20, 20)), Image.Resampling.BILINEAR)
            feats = extract(canonical_gray(aug), PROTECTED_FEATURES)
            pool.append((feats[1], feats[2]))
    descs = np.concatenate([p[0] for p in pool])
    geos = np.concatenate([p[1] for p in pool])
    k = PROTECTED_FEATURES
    out = []
    for _ in range(n):
        pick = rng.integers(0, len(descs), k)
        d = descs[pick]
        flips = (
            rng.integers(0, 256, (k, 32), dtype=np.uint8)
            & rng.integers(0, 256, (k, 32), dtype=np.uint8)
            & rng.integers(0, 256, (k, 32), dtype=np.uint8)
        )
        xy = rng.uniform(0, 512, (k, 2)).astype(np.float32)
        out.append(Fingerprint(512, 384, 1024, 768, xy, d ^ flips, geos[pick]))
    return out


# ----------------------------------------------------------------------------- run
def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a) * 1e3, q)) if a else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--distractors", type=int, default=20000)
    ap.add_argument("--photos", type=int, default=0, help="use only the first K photos")
    ap.add_argument("--kinds", default="", help="comma-separated subset of edit kinds")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    import faiss

    faiss.omp_set_num_threads(1)

    paths = sorted(CORPUS.glob("*.jpg"))
    if args.photos:
        paths = paths[: args.photos]
    images = [Image.open(p).convert("RGB") for p in paths]
    n = len(images)
    kinds = edit_kinds()
    if args.kinds:
        kinds = {k: kinds[k] for k in args.kinds.split(",")}

    t0 = time.perf_counter()
    fps = [fingerprint(im) for im in images]
    t_fp = (time.perf_counter() - t0) / n
    index = DerivativeIndex()
    for i, fp in enumerate(fps):
        index.add(i, fp)
    t0 = time.perf_counter()
    distractors = synthetic_distractors(images, args.distractors)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    for j, fp in enumerate(distractors):
        index.add(10_000_000 + j, fp)
    t_add = (time.perf_counter() - t0) / max(len(distractors), 1)
    index.compact()
    del distractors
    pdq_orig = np.stack([pdq_hash(im) for im in images])
    print(
        f"corpus {n} photos, index {len(index)} pictures ({args.distractors} synthetic "
        f"distractors, generated in {t_gen:.0f}s), memory {index.memory_bytes() / 2**20:.0f} "
        f"MiB; fingerprint {t_fp * 1e3:.1f} ms/photo; add {t_add * 1e3:.2f} ms/picture",
        flush=True,
    )

    times: list[float] = []
    cpu: list[float] = []
    false_ours: list[str] = []
    false_pdq: list[str] = []
    donor_hits = 0
    pairs = 0
    # unrelated corpus pairs: each original queried against the index holding all others
    for i, im in enumerate(images):
        t0, c0 = time.perf_counter(), time.process_time()
        got = {m.id for m in index.match(im)}
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        false_ours += [f"orig {i + 1}->{j + 1}" for j in got if j != i]
        false_pdq += [f"orig {i + 1}->{j + 1}" for j in pdq_matches(im, pdq_orig) if j != i]
        pairs += n - 1
    rows = []
    for kind, fn in kinds.items():
        hit_ours = hit_pdq = 0
        for i, im in enumerate(images):
            rng = np.random.default_rng(zlib_seed(kind, i))
            donor = (i + 1 + int(rng.integers(n - 1))) % n
            query = fn(im, rng, images[donor])
            t0, c0 = time.perf_counter(), time.process_time()
            got = [m.id for m in index.match(query)]
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            pgot = pdq_matches(query, pdq_orig)
            hit_ours += i in got
            hit_pdq += i in pgot
            excluded = {i, donor} if "patch" in kind or "any" in kind else {i}
            donor_hits += donor in got and donor != i and donor in excluded
            false_ours += [f"{kind} {i + 1}->{j + 1}" for j in got if j not in excluded]
            false_pdq += [f"{kind} {i + 1}->{j + 1}" for j in pgot if j not in excluded]
            pairs += n - len(excluded)
        rows.append((kind, hit_ours / n, hit_pdq / n))
        print(f"  {kind:22s} ours {hit_ours / n:6.1%}  pdq {hit_pdq / n:6.1%}", flush=True)

    print()
    print("| edit kind | ours recall | PDQ≤31 recall (best of 8 dihedral) |")
    print("|---|---:|---:|")
    for kind, ours, pdq in rows:
        print(f"| {kind} | {ours:.1%} | {pdq:.1%} |")
    print()
    print(
        f"unrelated pairs: {pairs}  ({n}x{n - 1} corpus pairs + edited-vs-other; donor of "
        f"a pasted patch excluded, matched {donor_hits} times)"
    )
    for name, bad in (("ours", false_ours), ("PDQ", false_pdq)):
        print(
            f"false matches {name}: {len(bad)} = {len(bad) / pairs * 1e4:.2f} per 10,000 "
            f"pairs {bad[:10]}"
        )
    print(
        f"query time (whole match() incl. feature extraction, 1 thread) against {len(index)} "
        f"pictures: CPU p50 {pct(cpu, 50):.1f} ms p99 {pct(cpu, 99):.1f} ms | wall p50 "
        f"{pct(times, 50):.1f} ms p99 {pct(times, 99):.1f} ms (load avg {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores)"
    )


def zlib_seed(kind: str, i: int) -> int:
    import zlib

    return zlib.crc32(f"{kind}/{i}".encode())


if __name__ == "__main__":
    main()
