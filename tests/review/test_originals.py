"""A derivative item beside its protected original: what the page knows, and the preview route.

Real fingerprints (``ProtectedMatcher``), real scans and review items, the media fetched from
the loopback media server through the safe fetcher; the browser test drives the same page.
"""

from __future__ import annotations

import io
import re

from PIL import Image, ImageFilter, ImageStat

from plugin.review import originals
from plugin.review.items import item_view
from tests.review.conftest import add_moderator
from tests.review.helpers import LOCAL_OWNER, REMOTE_OWNER, seed_derivative_items
from tests.review.test_domain import signed_in


def test_the_item_knows_where_each_original_is(review_stack):
    seeded = seed_derivative_items(review_stack)
    store = review_stack.store
    [local] = item_view(store, seeded["9301"])["originals"]
    assert local["kind"] == "local" and local["protected_id"] == seeded["local_pid"]
    assert local["owner"] == LOCAL_OWNER
    assert local["url"] == f"{review_stack.media.base_url}/media/9201.jpg"
    rows = dict(local["evidence"])
    assert re.fullmatch(r"\d+ keypoints agree on one transformation \(of \d+ candidate "
                        r"matches\)", rows["Inliers"])
    assert rows["Transformation"].startswith("scaled to ") and "rotated" in rows["Transformation"]
    assert rows["Matcher score"].endswith("confidence (50 % at 9 agreeing keypoints, 99 % from 21)")
    assert "of the original" in rows["Overlap"] and "↔" in rows["Regions"]
    [remote] = item_view(store, seeded["9302"])["originals"]
    assert remote["kind"] == "remote" and remote["instance"] == "b.example"
    assert remote["owner"] == REMOTE_OWNER and remote["url"] is None
    assert item_view(store, seeded["9302"])["originals"][0]["evidence"]


def test_withdrawn_protection_shows_no_preview(review_stack):
    from plugin.storage.protected_store import ProtectedStore

    seeded = seed_derivative_items(review_stack)
    ProtectedStore(review_stack.services.db).protected_remove([seeded["local_pid"]],
                                                              "post deleted")
    [view] = item_view(review_stack.store, seeded["9301"])["originals"]
    assert view["kind"] == "withdrawn" and view["url"] is None
    assert view["removed_reason"] == "post deleted"


def _colourful(jpeg: bytes) -> float:
    """Mean spread between colour channels: 0 for a greyscale picture."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    r, g, b = ImageStat.Stat(image).mean
    return abs(r - g) + abs(g - b)


def _edges(image: Image.Image) -> float:
    """Mean edge strength: a blurred picture has almost none."""
    return ImageStat.Stat(image.filter(ImageFilter.FIND_EDGES)).mean[0]


def test_the_original_preview_is_blurred_moderators_only_and_audited(review_stack):
    seeded = seed_derivative_items(review_stack)
    originals._cache.clear()
    item, pid = seeded["9301"], seeded["local_pid"]
    url = f"/review/items/{item}/original/{pid}"
    anonymous = review_stack.app.test_client()
    assert anonymous.get(url).status_code == 302  # to the sign-in page
    add_moderator(review_stack)
    client, _ = signed_in(review_stack)
    blurred = client.get(url)
    assert blurred.status_code == 200 and blurred.mimetype == "image/jpeg"
    assert blurred.headers["Cache-Control"] == "no-store"
    assert _colourful(blurred.data) < 1.0  # greyscale
    soft = Image.open(io.BytesIO(blurred.data)).convert("L")
    clear = client.get(url + "?reveal=1")
    assert _colourful(clear.data) > 3.0
    assert _edges(soft) * 3 < _edges(Image.open(io.BytesIO(clear.data)).convert("L"))
    audit = review_stack.services.audit.audit_list(action="review.reveal_original")
    assert [(a["subject"], a["detail"]["protected_id"]) for a in audit] == [
        (f"review:{item}", pid)]
    # Only through an item that matched it; never a peer's original (we hold no pixels).
    assert client.get(f"/review/items/{seeded['9302']}/original/{pid}").status_code == 404
    remote = f"/review/items/{seeded['9302']}/original/{seeded['remote_pid']}"
    assert client.get(remote).status_code == 404


def test_the_item_page_shows_both_sides_and_the_not_shared_panel(review_stack):
    seeded = seed_derivative_items(review_stack)
    add_moderator(review_stack)
    client, _ = signed_in(review_stack)
    page = client.get(f"/review/items/{seeded['9301']}").get_data(as_text=True)
    assert 'class="side-by-side derivative"' in page
    assert page.count('class="blurred"') == 2 and "keypoints agree" in page
    assert "&#34;inliers&#34;" not in page and '"inliers"' not in page  # no raw JSON
    page = client.get(f"/review/items/{seeded['9302']}").get_data(as_text=True)
    assert "Original held by <b>b.example</b>, not shared" in page
    assert REMOTE_OWNER in page and page.count('class="blurred"') == 1
    page = client.get(f"/review/items/{seeded['9301']}?reveal_original={seeded['local_pid']}")
    assert "protected original (revealed)" in page.get_data(as_text=True)
