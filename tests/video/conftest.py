"""Clips for the video tests, generated once per session from the corpus photos with FFmpeg."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from plugin.video.sandbox import VideoLimits
from tests.video import clips

SIZE = (480, 270)
ORIGINAL = (50, 29, 36, 4)
UNRELATED = (1, 15, 43, 71)
STILL = 57  # not in either slideshow
STILL_AT_S = 4.0


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    pair = [clips.photo(n) for n in (2, 3)]
    with ThreadPoolExecutor(max_workers=3) as pool:  # FFmpeg encodes are mostly one-threaded
        jobs = {
            "original": pool.submit(clips.slideshow, [clips.photo(n) for n in ORIGINAL],
                                    d / "original.mp4", size=SIZE, seconds_each=2.5),
            "unrelated": pool.submit(clips.slideshow, [clips.photo(n) for n in UNRELATED],
                                     d / "unrelated.mp4", size=SIZE, seconds_each=2.5,
                                     audio=True),
            "audio": pool.submit(clips.audio_only, d / "sound.m4a"),
            "gif": pool.submit(clips.animation, pair, d / "anim.gif"),
            "apng": pool.submit(clips.animation, pair, d / "anim.png"),
            "webp": pool.submit(clips.animation, pair, d / "anim.webp"),
        }
        original, unrelated = jobs["original"].result(), jobs["unrelated"].result()
        jobs |= {
            "smaller": pool.submit(clips.reencode, original, d / "smaller.mp4", size=(320, 180),
                                   bitrate="120k"),
            "vp9": pool.submit(clips.reencode, original, d / "vp9.webm", size=(400, 226),
                               fps=30, codec="libvpx-vp9", bitrate="150k"),
            "with_still": pool.submit(clips.with_still, unrelated, clips.photo(STILL),
                                      d / "with_still.mp4", at_s=STILL_AT_S, size=SIZE),
        }
        return {name: job.result() for name, job in jobs.items()}


@pytest.fixture
def limits() -> VideoLimits:
    return VideoLimits(decode_timeout_s=60.0, max_frames=40)
