"""Interactive classification jobs (queue ``classify``): a caller is waiting on the answer."""

from __future__ import annotations

import base64
from typing import Any

from plugin.consent.detect import enforce_detect
from plugin.consent.stage import ACTED
from plugin.errors import MediaError, MediaTooLarge
from plugin.misskey import nsfwjs_predictions
from plugin.scanning import scan_bytes
from workers import context


def detect_images(images_b64: list[str]) -> list[dict[str, Any]]:
    """Misskey's detect-images for already-validated parts: one result per image, in order.

    Besides the classifiers, each picture is matched against the hash banks, so a banked
    picture is flagged even when the classifiers call it neutral, and against the protected
    pictures: a derivative the consent decision acts on is flagged too, and reviewed and told
    to its owner (``plugin.consent.detect``).
    """
    ctx = context.scan_context()
    results = []
    for encoded in images_b64:
        try:
            scan = scan_bytes(base64.b64decode(encoded), ctx)
        except MediaTooLarge as exc:
            results.append(_error("REQUEST_TOO_LARGE", exc.message))
            continue
        except MediaError as exc:
            results.append(_error("IMAGE_DECODE_FAILED", exc.message))
            continue
        verdict = enforce_detect(ctx.services, scan)
        flagged = bool(scan["matches"]) or (verdict is not None and verdict.category in ACTED)
        results.append({"success": True,
                        "predictions": nsfwjs_predictions(scan["verdicts"], flagged)})
    return results


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}
