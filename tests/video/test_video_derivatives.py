"""An edited clip of a protected picture is caught on the frames that show it."""

from __future__ import annotations

from plugin.protection.register import register_bytes
from plugin.scanning import scan_bytes
from plugin.storage.protected_store import ProtectedStore
from tests.protection.images import edited
from tests.video.clips import ffmpeg, photo, slideshow
from workers import context

OWNER = "https://a.test/users/alice"


def test_frames_of_a_clip_are_matched_against_protected_pictures(worker_env, services,
                                                                   tmp_path):
    store = ProtectedStore(services.db)
    row, _ = register_bytes(store, photo(5).read_bytes(), owner=OWNER, source="file:5",
                            max_pixels=50_000_000, visibility="public")
    still = tmp_path / "edited.jpg"
    still.write_bytes(edited(5))  # crop + a replaced region, as an AI edit would leave it
    clip = tmp_path / "clip.mp4"  # 3 s of the edited picture, letterboxed, not stretched
    ffmpeg("-loop", "1", "-t", "3", "-i", str(still), "-vf",
           "scale=-2:360,pad=640:360:(ow-iw)/2:0,fps=25,format=yuv420p", "-c:v", "libx264",
           "-preset", "ultrafast", str(clip))
    ctx = context.scan_context()
    result = scan_bytes(clip.read_bytes(), ctx, "video")
    [match] = result["derivatives"]["matches"]
    assert match["id"] == row["id"] and match["owner"] == OWNER
    assert match["evidence"]["frames_matched"] >= 1
    unrelated = slideshow([photo(30), photo(40)], tmp_path / "other.mp4", seconds_each=2.0)
    assert scan_bytes(unrelated.read_bytes(), ctx, "video")["derivatives"] is None
