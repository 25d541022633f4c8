"""Limits for video work, and the one way we run a decoder: a child process with a deadline.

Why a child process: FFmpeg and libav (inside ``vpdq``) are C code fed with bytes a stranger
chose. In-process, a decoder that loops forever holds the RQ worker, and one that crashes takes
it down. In a child we can kill it: ``run_limited`` starts the command in its own process
group, caps its CPU time, address space and core dumps (``prlimit``), and kills the whole
group when the wall-clock deadline passes. A timeout becomes :class:`DecodeTimeout` and any
other failure :class:`~plugin.errors.UndecodableMedia`: both are permanent per-media errors
(``MediaError``), recorded on the media, never retried.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plugin.errors import UndecodableMedia

#: the child's address-space cap; FFmpeg's frame threads reserve much more than they touch
DEFAULT_MEMORY_BYTES = 3 * 1024**3


class DecodeTimeout(UndecodableMedia):
    """Decoding did not finish within ``video_decode_timeout_s``."""

    code = "decode_timeout"


@dataclass(frozen=True)
class VideoLimits:
    """Everything that bounds the work one video or animated image may cost.

    ``max_bytes``, ``max_duration_s``, ``max_frames`` and ``decode_timeout_s`` come from the
    settings of the same names (``video_*``); the rest are tuning knobs with sane defaults.
    ``max_frames`` caps the frames handed to classifiers (video: one per ``sample_every_s`` plus
    scene changes; animated images: every frame, evenly thinned past the cap).
    """

    max_bytes: int = 100 * 1024 * 1024
    max_duration_s: float = 600.0
    max_frames: int = 120
    decode_timeout_s: float = 120.0
    max_pixels: int = 50_000_000
    sample_every_s: float = 1.0
    scene_threshold: float = 0.3
    frame_side: int = 512
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    vpdq_seconds_per_hash: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> VideoLimits:
        return cls(max_bytes=settings.video_max_bytes,
                   max_duration_s=settings.video_max_duration_s,
                   max_frames=settings.video_max_frames,
                   decode_timeout_s=settings.video_decode_timeout_s,
                   max_pixels=settings.media_max_pixels)


@dataclass(frozen=True)
class ChildResult:
    stdout: bytes
    stderr: str


def _limited_argv(argv: Sequence[str], cpu_s: int, memory_bytes: int) -> list[str]:
    """Prefix ``argv`` with util-linux ``prlimit``, which sets the limits and execs it.

    Not ``preexec_fn``: that runs Python between fork and exec, which is unsafe while other
    threads run (we start two children at once from a thread pool).
    """
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return list(argv)  # the wall-clock deadline below still holds
    limits = [f"--cpu={cpu_s}:{cpu_s + 5}", "--core=0"]
    if memory_bytes > 0:
        limits.append(f"--as={memory_bytes}")
    return [prlimit, *limits, "--", *argv]


def run_limited(argv: Sequence[str], *, timeout_s: float, what: str,
                memory_bytes: int = DEFAULT_MEMORY_BYTES, cpu_cores: int = 2,
                env: dict[str, str] | None = None) -> ChildResult:
    """Run ``argv`` to completion within ``timeout_s`` or kill its process group.

    CPU time is capped at ``timeout_s * cpu_cores`` (plus a little) so a child that spins on
    every core is stopped by the kernel even if our deadline handling were delayed.
    """
    cpu_s = max(2, int(timeout_s * cpu_cores) + 2)
    try:
        proc = subprocess.Popen(
            _limited_argv(argv, cpu_s, memory_bytes), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env)
    except OSError as exc:
        raise UndecodableMedia(f"{what}: cannot start {argv[0]}: {exc}") from None
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DecodeTimeout(f"{what} took longer than {timeout_s:g} s and was stopped") from None
    except BaseException:
        _kill_group(proc)
        raise
    stderr = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise UndecodableMedia(f"{what} failed ({_describe_exit(proc.returncode)}): "
                               f"{_last_lines(stderr)}")
    return ChildResult(stdout=out, stderr=stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _last_lines(text: str, n: int = 3, width: int = 300) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-width:] or "no message"
