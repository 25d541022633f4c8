"""Clip matching: re-encodes match their banked original, unrelated clips do not, and a clip
containing a banked still is found through the still-image PDQ index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugin.hashing.image_hashes import hash_image
from plugin.index import PdqIndex, pdq_hex_to_bytes
from plugin.media.decode import decode_image
from plugin.video.matching import VideoMatcher, match_frames_against_stills, match_pair
from plugin.video.sandbox import VideoLimits
from plugin.video.scan import scan_video_bytes
from plugin.video.vpdq_hash import VpdqFeature, compute_vpdq, parse_vpdq
from tests.video import clips
from tests.video.conftest import STILL, STILL_AT_S

BANKED, OTHER = 7, 8


@pytest.fixture(scope="module")
def hashes(clip_dir: dict[str, Path]) -> dict[str, list[VpdqFeature]]:
    names = ("original", "smaller", "vp9", "unrelated", "with_still")
    return {name: compute_vpdq(clip_dir[name], timeout_s=60) for name in names}


@pytest.fixture
def matcher(hashes: dict[str, list[VpdqFeature]]) -> VideoMatcher:
    m = VideoMatcher()
    m.add(BANKED, hashes["original"])
    m.add(OTHER, hashes["unrelated"])
    return m


@pytest.mark.parametrize("variant", ["original", "smaller", "vp9"])
def test_reencoded_and_resized_clips_match_their_banked_original(
        matcher: VideoMatcher, hashes: dict[str, list[VpdqFeature]], variant: str) -> None:
    found = matcher.match(hashes[variant])
    assert [m.entry_id for m in found] == [BANKED]
    assert found[0].query_pct >= 80 and found[0].bank_pct >= 80


def test_an_unrelated_clip_does_not_match(hashes: dict[str, list[VpdqFeature]]) -> None:
    m = VideoMatcher()
    m.add(BANKED, hashes["original"])
    assert m.match(hashes["unrelated"]) == []
    assert match_pair(hashes["unrelated"], hashes["original"]) == (0.0, 0.0)


def test_index_agrees_with_brute_force_reference(matcher: VideoMatcher,
                                                 hashes: dict[str, list[VpdqFeature]]) -> None:
    lenient = VideoMatcher(query_match_pct=0.0)
    for entry_id, name in ((BANKED, "original"), (OTHER, "unrelated")):
        lenient.add(entry_id, hashes[name])
    for name, query in hashes.items():
        got = {m.entry_id: (m.query_pct, m.bank_pct) for m in lenient.match(query)}
        for entry_id, banked in ((BANKED, "original"), (OTHER, "unrelated")):
            q, b = match_pair(query, hashes[banked])
            if q == 0:
                assert entry_id not in got, (name, banked)
            else:
                assert got[entry_id] == pytest.approx((q, b), abs=1e-3), (name, banked)


def test_both_shares_and_both_thresholds(hashes: dict[str, list[VpdqFeature]]) -> None:
    excerpt = hashes["original"][:3]  # the first ~3 s of a 10 s banked clip
    m = VideoMatcher()
    m.add(BANKED, hashes["original"])
    [hit] = m.match(excerpt)
    assert hit.query_pct == 100.0 and hit.bank_pct < 50  # all of the upload, little of the bank
    strict = VideoMatcher(index_match_pct=50.0)
    strict.add(BANKED, hashes["original"])
    assert strict.match(excerpt) == []
    # a longer upload that carries the whole banked clip in its first half
    longer = hashes["original"] + [VpdqFeature(f.pdq, f.quality, f.timestamp + 11)
                                   for f in hashes["unrelated"]]
    assert m.match(longer) == []  # ~50 % of the query: under HMA's default 80 %
    lenient = VideoMatcher(query_match_pct=40.0)
    lenient.add(BANKED, hashes["original"])
    [hit] = lenient.match(longer)
    assert hit.entry_id == BANKED and hit.bank_pct == 100.0 and 40 <= hit.query_pct < 60


def test_remove_and_replace(matcher: VideoMatcher, hashes: dict[str, list[VpdqFeature]]) -> None:
    matcher.remove(BANKED)
    assert BANKED not in matcher and matcher.match(hashes["smaller"]) == []
    matcher.add(BANKED, hashes["unrelated"])  # re-adding replaces
    assert [m.entry_id for m in matcher.match(hashes["unrelated"])] == [BANKED, OTHER]
    matcher.remove(OTHER)
    matcher.remove(OTHER)  # removing twice is harmless
    assert len(matcher) == 1


def test_serialised_text_is_accepted_and_matches_like_features(
        hashes: dict[str, list[VpdqFeature]]) -> None:
    from plugin.video.vpdq_hash import serialize_vpdq

    m = VideoMatcher()
    m.add(BANKED, serialize_vpdq(hashes["original"]))
    assert m.match(serialize_vpdq(hashes["smaller"]))[0].entry_id == BANKED
    assert parse_vpdq(serialize_vpdq(hashes["smaller"])) == hashes["smaller"]


def test_a_clip_containing_a_banked_still_matches_that_still(clip_dir: dict[str, Path]) -> None:
    data = clips.photo(STILL).read_bytes()
    still = hash_image(data, decode_image(data, max_pixels=50_000_000).image)
    index = PdqIndex()
    other = clips.photo(2).read_bytes()
    index.add(np.array([11, 12]), np.stack([
        pdq_hex_to_bytes(still.pdq),
        pdq_hex_to_bytes(hash_image(other, decode_image(other, max_pixels=10**8).image).pdq)]))
    scanned = scan_video_bytes(clip_dir["with_still"].read_bytes(), "video",
                               VideoLimits(decode_timeout_s=60))
    [hit] = match_frames_against_stills(scanned["pdq_frames"], index)
    assert hit["entry_id"] == 11 and hit["distance"] <= 31
    assert all(STILL_AT_S - 0.5 <= t <= STILL_AT_S + 2.5 for t in hit["timestamps"])
    plain = scan_video_bytes(clip_dir["unrelated"].read_bytes(), "video",
                             VideoLimits(decode_timeout_s=60))
    assert match_frames_against_stills(plain["pdq_frames"], index) == []
