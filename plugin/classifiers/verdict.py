"""Verdict dataclasses: what one model concluded about one image.

A verdict keeps the model's identity (``name@version``), its raw per-label scores, the scores
mapped onto the common taxonomy and the taxonomy labels that crossed the manifest thresholds,
so a stored verdict can be re-judged later with other thresholds without re-running the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _r(x: float) -> float:
    return round(float(x), 6)


@dataclass(frozen=True)
class Detection:
    """One detector box in source-image pixels: ``box`` is (x, y, width, height)."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": _r(self.score),
            "box": [round(float(v), 1) for v in self.box],
        }


@dataclass(frozen=True)
class Verdict:
    """One model's result for one image.

    ``scores``: raw model label -> score (softmax probability, or the best kept box's score).
    ``taxonomy``: common taxonomy label -> best score among the model labels mapped to it.
    ``labels``: the taxonomy labels whose score reached the manifest threshold, with scores.
    """

    model: str
    scores: dict[str, float]
    taxonomy: dict[str, float]
    labels: dict[str, float]
    detections: tuple[Detection, ...] = field(default_factory=tuple)

    def flagged(self, label: str) -> bool:
        return label in self.labels

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (plain str/float/list only)."""
        return {
            "model": self.model,
            "scores": {k: _r(v) for k, v in self.scores.items()},
            "taxonomy": {k: _r(v) for k, v in self.taxonomy.items()},
            "labels": {k: _r(v) for k, v in self.labels.items()},
            "detections": [d.to_dict() for d in self.detections],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            model=str(data["model"]),
            scores={str(k): float(v) for k, v in data["scores"].items()},
            taxonomy={str(k): float(v) for k, v in data["taxonomy"].items()},
            labels={str(k): float(v) for k, v in data["labels"].items()},
            detections=tuple(
                Detection(str(d["label"]), float(d["score"]), tuple(d["box"]))  # type: ignore[arg-type]
                for d in data.get("detections", [])
            ),
        )
