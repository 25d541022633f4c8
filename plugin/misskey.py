"""Misskey's external sensitive-media detector contract (``misskey-dev/sensitive-detector``).

Misskey posts normalised 299×299 PNG frames and reads back nsfwjs-style class probabilities
(``Drawing``, ``Hentai``, ``Neutral``, ``Porn``, ``Sexy``), applying its own thresholds. We
answer from our taxonomy, and a picture that matches a hash bank, or derives from a protected
picture in a way the consent decision acts on (``plugin.consent.detect``), is reported as
``Porn`` 1.0 whatever the classifiers say, so that Misskey marks it sensitive.

The mapping (taxonomy scores are the best over all models, before thresholds):

    Porn    = nudity.explicit   (1.0 when flagged: a bank match or an acted-on derivative)
    Sexy    = max(nudity.partial, sexual.suggestive)
    Drawing = drawing           (no shipped model emits it: 0)
    Hentai  = drawing × max(nudity.explicit, nudity.partial)
    Neutral = 1 − max(the others)
"""

from __future__ import annotations

from typing import Any

CONTENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp")


def taxonomy_scores(verdicts: list[dict[str, Any]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for verdict in verdicts:
        for label, score in verdict.get("taxonomy", {}).items():
            scores[label] = max(score, scores.get(label, 0.0))
    return scores


def nsfwjs_predictions(verdicts: list[dict[str, Any]], flagged: bool) -> list[dict[str, Any]]:
    t = taxonomy_scores(verdicts)
    porn = 1.0 if flagged else t.get("nudity.explicit", 0.0)
    sexy = max(t.get("nudity.partial", 0.0), t.get("sexual.suggestive", 0.0))
    drawing = t.get("drawing", 0.0)
    hentai = drawing * max(t.get("nudity.explicit", 0.0), t.get("nudity.partial", 0.0))
    neutral = max(0.0, 1.0 - max(porn, sexy, drawing, hentai))
    classes = {"Drawing": drawing, "Hentai": hentai, "Neutral": neutral, "Porn": porn,
               "Sexy": sexy}
    return [{"className": name, "probability": round(float(p), 6)}
            for name, p in sorted(classes.items(), key=lambda kv: -kv[1])]
