"""Manifest-driven ONNX classifiers: a whole-image softmax classifier and a box detector.

Both hold a cached session, batch the caller's decoded images (``manifest.batch_size`` per
session run) and turn outputs into :class:`Verdict` objects through the manifest's label
mapping, so adding a model is writing a manifest, not code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plugin.classifiers.interfaces import ImageLike
from plugin.classifiers.manifest import Manifest
from plugin.classifiers.verdict import Detection, Verdict
from workers.classifiers import postprocess as post
from workers.classifiers.preprocess import Transform, make_batch
from workers.classifiers.providers import resolve_providers, resolve_threads
from workers.classifiers.sessions import get_session


class _OnnxModel:
    def __init__(
        self,
        manifest: Manifest,
        providers: Sequence[str] | str | None = None,
        threads: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.manifest = manifest
        self.session = get_session(
            manifest.weights, resolve_providers(providers), resolve_threads(threads)
        )
        inputs = self.session.get_inputs()
        self._input_name = manifest.input.name or inputs[0].name
        self._outputs = list(manifest.output.outputs) or [
            o.name for o in self.session.get_outputs()
        ]
        self.batch_size = max(1, batch_size or manifest.batch_size)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers the session really runs on (CPU after a CUDA fallback)."""
        return tuple(self.session.get_providers())

    def classify(self, images: list[ImageLike]) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch, transforms = make_batch(chunk, self.manifest.input)
            outputs = self.session.run(self._outputs, {self._input_name: batch})
            verdicts.extend(self._verdicts(outputs, transforms))
        return verdicts

    def _verdicts(self, outputs: list[np.ndarray], transforms: list[Transform]) -> list[Verdict]:
        raise NotImplementedError

    def _verdict(self, scores: dict[str, float]) -> Verdict:
        """Map raw label scores onto the taxonomy and apply the manifest thresholds."""
        taxonomy: dict[str, float] = {}
        flagged: dict[str, float] = {}
        for label, rule in self.manifest.rules.items():
            if rule.taxonomy is None:
                continue
            score = scores.get(label, 0.0)
            taxonomy[rule.taxonomy] = max(taxonomy.get(rule.taxonomy, 0.0), score)
            if score >= rule.threshold:
                flagged[rule.taxonomy] = max(flagged.get(rule.taxonomy, 0.0), score)
        return Verdict(self.id, scores, taxonomy, flagged)


class OnnxSoftmaxClassifier(_OnnxModel):
    """Whole-image classifier: one probability per manifest label."""

    def _verdicts(self, outputs: list[np.ndarray], transforms: list[Transform]) -> list[Verdict]:
        probs = outputs[0].reshape(len(transforms), -1).astype(np.float64)
        if self.manifest.output.apply_softmax:
            probs = post.softmax(probs)
        labels = self.manifest.labels
        return [
            self._verdict({label: float(p) for label, p in zip(labels, row, strict=True)})
            for row in probs
        ]


class OnnxDetector(_OnnxModel):
    """Box detector: YOLOv8-style or SSD-anchor outputs, decoded and NMS-ed in numpy."""

    def __init__(self, manifest: Manifest, *args: object, **kwargs: object) -> None:
        super().__init__(manifest, *args, **kwargs)  # type: ignore[arg-type]
        spec = manifest.output
        self._anchors = None
        if spec.format == "ssd_anchors":
            self._anchors = post.ssd_anchors(spec, manifest.input.width, manifest.input.height)

    def detect_raw(self, outputs: list[np.ndarray], i: int, tf: Transform) -> post.Boxes:
        spec = self.manifest.output
        if spec.format == "yolov8":
            return post.decode_yolov8(outputs[0][i], tf, spec)
        size = (self.manifest.input.width, self.manifest.input.height)
        return post.decode_ssd(outputs[0][i], outputs[1][i], self._anchors, tf, spec, size)

    def _verdicts(self, outputs: list[np.ndarray], transforms: list[Transform]) -> list[Verdict]:
        labels = self.manifest.labels
        verdicts = []
        for i, tf in enumerate(transforms):
            cls, scores, xywh = self.detect_raw(outputs, i, tf)
            detections = tuple(
                Detection(labels[int(c)], float(s), tuple(float(v) for v in box))  # type: ignore[arg-type]
                for c, s, box in zip(cls, scores, xywh, strict=True)
            )
            best: dict[str, float] = {}
            for det in detections:
                best[det.label] = max(best.get(det.label, 0.0), det.score)
            verdict = self._verdict(best)
            verdicts.append(
                Verdict(verdict.model, best, verdict.taxonomy, verdict.labels, detections)
            )
        return verdicts
