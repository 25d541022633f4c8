"""Seconds of 720p video processed per wall second: ours beside vpdq's own command-line hasher.

Makes 720p30 H.264 clips from the corpus photos (slow pans, benign; encoded at ``veryfast``
like a phone upload) and reports, per clip and in total, video seconds per wall second for
  baseline:   vpdq's command-line hasher (``vpdq._cli``, the package's ``vpdq FILE``), run as a
              fresh process per clip as one would run it
  ours hash:  ``scan_video_bytes`` with no classifier: ffprobe + vPDQ child + MD5
  ours +clf:  the same with the shipped ONNX classifiers on the sampled frames (1/s + scene
              cuts, 512 px), one call per frame as ``workers.context`` wires them, and batched
and checks that our vPDQ text equals the CLI's frame for frame.

    .venv/bin/python bench/video.py [--clips 3] [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plugin.video.sandbox import VideoLimits  # noqa: E402
from plugin.video.scan import scan_video_bytes  # noqa: E402
from plugin.video.vpdq_hash import parse_vpdq  # noqa: E402
from tests.video import clips  # noqa: E402

PHOTO_SETS = [(50, 57, 29, 36), (1, 4, 15, 43), (64, 8, 22, 71), (2, 3, 5, 6)]
CLI = "import sys, vpdq; sys.argv = ['vpdq', sys.argv[1]]; vpdq._cli()"


def make_clips(out: Path, count: int, seconds: float) -> list[Path]:
    made = []
    for i in range(count):
        photos = [clips.photo(n) for n in PHOTO_SETS[i % len(PHOTO_SETS)]]
        made.append(clips.slideshow(photos, out / f"clip{i}.mp4", size=(1280, 720),
                                    seconds_each=seconds / len(photos), fps=30, crf=23,
                                    preset="veryfast"))
    return made


def run_cli(path: Path) -> str:
    done = subprocess.run([sys.executable, "-c", CLI, str(path)], capture_output=True,
                          check=True, text=True)
    return done.stdout


def stages(batched: bool) -> list[Callable[..., Any]]:
    from workers.classifiers import load_classifiers

    out: list[Callable[..., Any]] = []
    for clf in load_classifiers(REPO / "models"):
        def one(image: Any, clf: Any = clf) -> dict[str, Any]:
            return clf.classify([image])[0].to_dict()
        if batched:
            one.batch = lambda images, clf=clf: [v.to_dict() for v in clf.classify(images)]  # type: ignore[attr-defined]
        out.append(one)
    return out


def timed(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(f"CPU cores: {os.cpu_count()}; clips: {args.clips} x {args.seconds:g} s 720p30 H.264")
    limits = VideoLimits()
    per_frame, batched = stages(False), stages(True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_clips(Path(tmp), args.clips, args.seconds)
        rows = {"vpdq CLI (baseline)": [], "ours: hash": [], "ours: hash + classify": [],
                "ours: hash + classify (batched)": []}
        for path in paths:
            data = path.read_bytes()
            cli_text = run_cli(path)  # warm the page cache, and the reference output
            ours = scan_video_bytes(data, "video", limits, None)
            cli = [line.strip() for line in cli_text.splitlines() if line.strip()]
            same = [str(f) for f in parse_vpdq(ours["vpdq"])] == cli
            duration = ours["duration_s"]
            work: dict[str, Callable[[], object]] = {
                "vpdq CLI (baseline)": lambda p=path: run_cli(p),
                "ours: hash": lambda d=data: scan_video_bytes(d, "video", limits, None),
                "ours: hash + classify": lambda d=data: scan_video_bytes(d, "video", limits,
                                                                         per_frame),
                "ours: hash + classify (batched)": lambda d=data: scan_video_bytes(
                    d, "video", limits, batched),
            }
            print(f"{path.name}: {duration:.1f} s, {len(data) / 1e6:.1f} MB, "
                  f"{ours['vpdq_frames']} vPDQ frames; ours == CLI frame for frame: {same}")
            for name, fn in work.items():
                wall = timed(fn, args.rounds)
                rows[name].append((duration, wall))
                print(f"  {name:<34} {wall:6.2f} s wall   {duration / wall:6.1f} video-s/s")
        print("total")
        for name, pairs in rows.items():
            video = sum(d for d, _ in pairs)
            wall = sum(w for _, w in pairs)
            print(f"  {name:<34} {video / wall:6.1f} s of 720p video per wall second")


if __name__ == "__main__":
    main()
