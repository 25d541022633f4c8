"""Hostile or oversized media end as typed per-media errors, never as a hung or dead worker."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from plugin.errors import ConfigError, MediaError, MediaTooLarge, UndecodableMedia
from plugin.settings import Settings
from plugin.video.sandbox import DecodeTimeout, VideoLimits, run_limited
from plugin.video.scan import scan_video_bytes


def test_bytes_duration_and_pixel_caps(clip_dir: dict[str, Path]) -> None:
    data = clip_dir["original"].read_bytes()
    with pytest.raises(MediaTooLarge, match="bytes"):
        scan_video_bytes(data, "video", VideoLimits(max_bytes=len(data) - 1))
    with pytest.raises(MediaTooLarge, match="lasts"):
        scan_video_bytes(data, "video", VideoLimits(max_duration_s=5))
    with pytest.raises(MediaTooLarge, match="pixels"):
        scan_video_bytes(data, "video", VideoLimits(max_pixels=320 * 180))


def test_playlists_are_refused_before_any_decoder_follows_them(tmp_path: Path) -> None:
    secret = tmp_path / "secret.ts"
    secret.write_bytes(b"not for you")
    playlist = (f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{secret}\n"
                "#EXT-X-ENDLIST\n").encode()
    with pytest.raises(UndecodableMedia, match="whitelist"):
        scan_video_bytes(playlist, "video", VideoLimits())


@pytest.mark.parametrize("cut", [0, 2000])
def test_broken_files_are_undecodable(clip_dir: dict[str, Path], cut: int) -> None:
    data = clip_dir["original"].read_bytes()[cut:cut + 4000] if cut else os.urandom(5000)
    with pytest.raises(UndecodableMedia):
        scan_video_bytes(data, "video", VideoLimits())


def test_a_decode_over_the_deadline_is_stopped(clip_dir: dict[str, Path]) -> None:
    started = time.monotonic()
    with pytest.raises(DecodeTimeout):
        scan_video_bytes(clip_dir["original"].read_bytes(), "video",
                         VideoLimits(decode_timeout_s=0.01))
    assert time.monotonic() - started < 5


def test_a_hanging_child_is_killed_with_its_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pids}; echo $$ >> {pids}; wait"
    started = time.monotonic()
    with pytest.raises(DecodeTimeout) as err:
        run_limited(["sh", "-c", script], timeout_s=0.5, what="test decoder")
    assert time.monotonic() - started < 5
    assert isinstance(err.value, MediaError) and err.value.code == "decode_timeout"
    time.sleep(0.1)
    for pid in map(int, pids.read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_a_crashing_child_is_a_media_error() -> None:
    with pytest.raises(UndecodableMedia, match="SIGSEGV"):
        run_limited(["sh", "-c", "kill -SEGV $$"], timeout_s=5, what="test decoder")


def test_the_child_runs_under_a_memory_cap() -> None:
    grab = "bytearray(400 * 1024 * 1024)"
    run_limited([sys.executable, "-c", grab], timeout_s=20, what="test", memory_bytes=0)
    with pytest.raises(UndecodableMedia, match="MemoryError"):
        run_limited([sys.executable, "-c", grab], timeout_s=20, what="test",
                    memory_bytes=200 * 1024 * 1024)


def test_settings_feed_the_limits() -> None:
    settings = Settings.from_env({"CONSENTRY_VIDEO_MAX_BYTES": "1000",
                                  "CONSENTRY_VIDEO_MAX_DURATION_S": "30",
                                  "CONSENTRY_VIDEO_MAX_FRAMES": "7",
                                  "CONSENTRY_VIDEO_DECODE_TIMEOUT_S": "9.5",
                                  "CONSENTRY_VPDQ_INDEX_MATCH_PCT": "0",
                                  "CONSENTRY_VPDQ_QUERY_MATCH_PCT": "70"},
                                 config_file=Path("/nonexistent"))
    limits = VideoLimits.from_settings(settings)
    assert (limits.max_bytes, limits.max_duration_s, limits.max_frames,
            limits.decode_timeout_s) == (1000, 30.0, 7, 9.5)
    assert (settings.vpdq_query_match_pct, settings.vpdq_index_match_pct) == (70.0, 0.0)
    with pytest.raises(ConfigError, match="VPDQ_QUERY_MATCH_PCT"):
        Settings.from_env({"CONSENTRY_VPDQ_QUERY_MATCH_PCT": "101"},
                          config_file=Path("/nonexistent"))
