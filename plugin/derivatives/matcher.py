"""The public face of derivative detection: :class:`DerivativeIndex` and :class:`DerivativeMatch`.

Why: moderators register *protected* pictures (people who asked not to have their photos
AI-edited); every uploaded picture must then be checked quickly for being an edited copy of
any of them. This module glues the two stages together:

1. **Candidate generation** (:mod:`plugin.derivatives.index`): the query's ORB descriptors,
   and those of its mirror image, are hashed and vote for protected pictures.
2. **Verification** (:mod:`plugin.derivatives.verify`): the top :data:`CANDIDATES`
   (picture, orientation) pairs are matched descriptor by descriptor and a similarity
   transform is fitted with RANSAC; a match needs :data:`MIN_INLIERS` geometrically
   consistent keypoints.

Only fingerprints are kept, never pixels, so the index can be rebuilt from database blobs
(:meth:`plugin.derivatives.Fingerprint.from_bytes`). Instances are not thread-safe: guard
with a lock or keep one per worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from plugin.derivatives.features import (
    CANONICAL_SIDE,
    QUERY_FEATURES,
    Features,
    Fingerprint,
    canonical_gray,
    extract_both,
)
from plugin.derivatives.index import InvertedFile, hash_keys
from plugin.derivatives.verify import Verification, verify

MIN_INLIERS = 12
CANDIDATES = 8
METHOD = "orb-lsh-vote+ransac-similarity"


@dataclass(frozen=True)
class DerivativeMatch:
    """One protected picture that the query appears to be derived from.

    Attributes:
        id: the protected picture's id, as given to :meth:`DerivativeIndex.add`.
        score: confidence in 0..1, a logistic function of the inlier count (0.5 at 9 inliers,
            ~0.77 at the :data:`MIN_INLIERS` = 12 acceptance threshold, >0.99 from 21).
            Unrelated photos in our corpus never exceeded 7 inliers.
        evidence: JSON-safe details for moderators and audit logs::

            {"method": "orb-lsh-vote+ransac-similarity",
             "inliers": 143,            # keypoints consistent with one similarity transform
             "putative_matches": 260,   # descriptor matches passing the ratio test
             "votes": 950.2,            # first-stage votes (hash collisions, idf-weighted)
             "consistent_votes": 610.7, # of those, agreeing in rotation and scale
             "mirrored": false,         # the query is a left-right mirror of the original
             "scale": 0.51,             # query pixels per protected pixel (0.5 = half size)
             "rotation_deg": 4.9,
             "query_region": [x0, y0, x1, y1],      # inlier box in query pixels
             "protected_region": [x0, y0, x1, y1],  # inlier box in protected pixels
             "protected_coverage": 0.62}            # share of the protected area in that box
    """

    id: int
    score: float
    evidence: dict = field(default_factory=dict)


def _score(inliers: int) -> float:
    return round(1.0 / (1.0 + math.exp(-(inliers - 9) / 2.5)), 4)


def _query_box(box: tuple[float, ...], mirrored: bool, canon_w: int, scale: float) -> list[float]:
    x0, y0, x1, y1 = box
    if mirrored:
        x0, x1 = canon_w - 1 - x1, canon_w - 1 - x0
    return [round(v / scale, 1) for v in (x0, y0, x1, y1)]


def _evidence(
    v: Verification,
    votes: float,
    wgc_votes: float,
    mirrored: bool,
    fp: Fingerprint,
    query_w: int,
    query_h: int,
    canon_w: int,
) -> dict:
    q_scale = CANONICAL_SIDE / max(query_w, query_h)
    p_scale = fp.width / max(fp.source_width, 1)
    px0, py0, px1, py1 = v.protected_region
    coverage = (px1 - px0) * (py1 - py0) / max(fp.width * fp.height, 1)
    return {
        "method": METHOD,
        "inliers": v.inliers,
        "putative_matches": v.matches,
        "votes": round(votes, 1),
        "consistent_votes": round(wgc_votes, 1),
        "mirrored": mirrored,
        "scale": round(p_scale / (v.scale * q_scale), 3),
        "rotation_deg": round(-v.rotation_deg if mirrored else v.rotation_deg, 1),
        "query_region": _query_box(v.query_region, mirrored, canon_w, q_scale),
        "protected_region": [round(c / p_scale, 1) for c in v.protected_region],
        "protected_coverage": round(float(coverage), 3),
    }


class DerivativeIndex:
    """In-memory index of protected pictures' fingerprints, for finding edited copies.

    Typical use::

        index = DerivativeIndex()
        for pid, blob in db.protected_fingerprints():
            index.add(pid, Fingerprint.from_bytes(blob))
        for m in index.match(uploaded_image):
            flag(upload, protected_id=m.id, confidence=m.score, evidence=m.evidence)

    Cost (measured on one core, see ``docs/derivatives.md``): ~20 KB of fingerprint plus
    ~5 KB of postings per protected picture in memory; a query costs ~10 ms of feature
    extraction, a first stage linear in the index size (~15 ms at 100k pictures) and at
    most :data:`CANDIDATES` verifications of ~1 ms each.
    """

    def __init__(self, min_inliers: int = MIN_INLIERS, candidates: int = CANDIDATES) -> None:
        """Create an empty index.

        Args:
            min_inliers: geometric inliers needed to report a match (lower: more recall on
                heavy crops, more false matches).
            candidates: (picture, orientation) pairs verified per query.
        """
        self.min_inliers = min_inliers
        self.candidates = candidates
        self._ivf = InvertedFile()
        self._slot_of: dict[int, int] = {}
        self._ids: list[int] = []
        self._fps: list[Fingerprint | None] = []

    def __len__(self) -> int:
        """Number of protected pictures currently indexed."""
        return len(self._slot_of)

    def __contains__(self, id: object) -> bool:
        return id in self._slot_of

    def add(self, id: int, fp: Fingerprint) -> None:
        """Register protected picture ``id`` with fingerprint ``fp`` (incremental).

        Re-adding an existing ``id`` replaces its fingerprint. A fingerprint without
        keypoints (flat or tiny picture) is accepted but can never match. Cost: one
        ``O(pending)`` insert; an occasional linear merge (amortised, never a rebuild).
        """
        if id in self._slot_of:
            self.remove(id)
        slot = len(self._ids)
        self._ids.append(int(id))
        self._fps.append(fp)
        self._slot_of[int(id)] = slot
        if len(fp):
            self._ivf.add(slot, hash_keys(fp.descriptors), fp.geo)

    def remove(self, id: int) -> None:
        """Stop matching protected picture ``id``; unknown ids are ignored (idempotent)."""
        slot = self._slot_of.pop(id, None)
        if slot is None:
            return
        fp = self._fps[slot]
        self._fps[slot] = None
        if fp is not None and len(fp):
            self._ivf.remove(slot, len(fp))

    def compact(self) -> None:
        """Fold pending postings into the main segment now (otherwise done automatically)."""
        self._ivf.compact()

    def memory_bytes(self) -> int:
        """Approximate resident size: postings plus stored fingerprints."""
        fps = sum(
            f.xy.nbytes + f.descriptors.nbytes + f.geo.nbytes for f in self._fps if f is not None
        )
        return self._ivf.nbytes + fps

    def match(self, image: Image.Image, limit: int = 5) -> list[DerivativeMatch]:
        """Protected pictures that ``image`` is (probably) an edited copy of.

        Args:
            image: the decoded query picture (any PIL mode).
            limit: at most this many matches are returned.

        Returns:
            Matches best first (most inliers); empty when there is none, when the index is
            empty, or when the picture is too small or flat to carry local features.
        """
        if not self._slot_of or limit <= 0:
            return []
        gray = canonical_gray(image)
        plain, mirrored = extract_both(gray, QUERY_FEATURES)
        return self.match_features(
            plain, mirrored, image.size, gray.shape[1] if gray.size else 0, limit
        )

    def match_features(
        self,
        plain: Features,
        mirrored: Features,
        size: tuple[int, int],
        canon_w: int,
        limit: int = 5,
    ) -> list[DerivativeMatch]:
        """:meth:`match` on already extracted query features (for batch tools and tests)."""
        groups = (plain, mirrored)
        sizes = [len(g[1]) for g in groups]
        if sum(sizes) == 0:
            return []
        keys = hash_keys(np.concatenate([g[1] for g in groups]))
        geo = np.concatenate([g[2] for g in groups])
        group_of = np.repeat(np.arange(2), sizes)
        flats, raw, wgc = self._ivf.candidates(keys, geo, group_of, 2)
        best: dict[int, DerivativeMatch] = {}
        for flat, n_votes, n_wgc in zip(
            flats[: self.candidates].tolist(),
            raw[: self.candidates].tolist(),
            wgc[: self.candidates].tolist(),
            strict=True,
        ):
            if n_wgc <= 0:
                break
            slot, group = divmod(int(flat), 2)
            fp = self._fps[slot]
            if fp is None:
                continue
            xy, desc, _ = groups[group]
            v = verify(xy, desc, fp.xy, fp.descriptors)
            if v is None or v.inliers < self.min_inliers:
                continue
            pid = self._ids[slot]
            if pid in best and best[pid].evidence["inliers"] >= v.inliers:
                continue
            ev = _evidence(v, n_votes, n_wgc, bool(group), fp, size[0], size[1], canon_w)
            best[pid] = DerivativeMatch(id=pid, score=_score(v.inliers), evidence=ev)
        ranked = sorted(best.values(), key=lambda m: -m.evidence["inliers"])
        return ranked[:limit]
