"""The common label taxonomy that moderation policies are written against.

Every model maps its own labels (``nsfw``, ``FEMALE_BREAST_EXPOSED``, ``face``...) onto this
small, stable vocabulary in its manifest, so a policy never depends on one model's label set and
an admin can swap models without rewriting policies.
"""

from __future__ import annotations

NUDITY_EXPLICIT = "nudity.explicit"
NUDITY_PARTIAL = "nudity.partial"
SEXUAL_SUGGESTIVE = "sexual.suggestive"
DRAWING = "drawing"
NEUTRAL = "neutral"
FACE = "face"

TAXONOMY: dict[str, str] = {
    NUDITY_EXPLICIT: "exposed genitalia or anus",
    NUDITY_PARTIAL: "exposed female breast or buttocks",
    SEXUAL_SUGGESTIVE: "sexualised but not nude: covered intimate areas, whole-image NSFW score",
    DRAWING: "drawn, painted or rendered rather than photographed (no shipped model emits it)",
    NEUTRAL: "nothing of concern was found by a whole-image classifier",
    FACE: "a real person's face is pictured",
}


def is_taxonomy_label(label: str) -> bool:
    """True when ``label`` belongs to the common taxonomy."""
    return label in TAXONOMY
