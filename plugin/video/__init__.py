"""Video and animated media: probe, sample frames, hash (vPDQ), match and classify what moves.

Every decoder that touches uploaded bytes (ffprobe, ffmpeg, libav inside ``vpdq``, Pillow on an
animated GIF/WebP/APNG) runs in a child process with a wall-clock deadline and resource limits
(``plugin.video.sandbox``): a hostile file can waste at most one deadline, never hang or crash a
worker. The package is imported by submodule (``plugin.video.scan``, ``plugin.video.matching``)
and this file stays empty on purpose: ``plugin.hashing.types`` reaches the pure-Python vPDQ
codec (``plugin.video.vpdq_hash``) without pulling in the rest. See docs/video.md.
"""
