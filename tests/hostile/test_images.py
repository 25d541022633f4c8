"""Every hostile image ends in its documented outcome, fast and in bounded memory.

The corpus is generated at test time (``tests/hostile/make_corpus.py``); it runs in a child
process so that its peak resident memory can be read and bounded: a decompression bomb that
got decoded would allocate gigabytes.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.reliability.support import REPO

CHILD = """
import json, time
from plugin.errors import MediaError
from plugin.media.decode import decode_image
from tests.hostile.make_corpus import images
out = []
for name, data, allowed in images():
    started = time.monotonic()
    try:
        decoded = decode_image(data, max_pixels=50_000_000)
        outcome = "ok"
        assert decoded.image.mode == "RGB" and max(decoded.image.size) <= 1024
    except MediaError as exc:
        outcome, message = type(exc).__name__, exc.message
        assert message and exc.http_status == 422
    out.append([name, outcome, list(allowed), time.monotonic() - started])
# VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark across exec
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(json.dumps({"cases": out, "max_rss_mb": hwm / 1024}))
"""


def test_hostile_images_end_in_their_documented_outcome():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    wrong = [(n, o, a) for n, o, a, _ in report["cases"] if o not in a]
    assert wrong == []
    assert len(report["cases"]) >= 50
    slow = [(n, round(t, 2)) for n, _, _, t in report["cases"] if t > 3.0]
    assert slow == []
    # Decoding one 50-megapixel bomb would take >= 2.5 GB; the whole corpus stays small.
    assert report["max_rss_mb"] < 400, report["max_rss_mb"]
