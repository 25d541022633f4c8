"""Interactive classification jobs (queue ``classify``): a caller is waiting on the answer."""

from __future__ import annotations

import base64
from typing import Any

from plugin.errors import MediaError, MediaTooLarge
from plugin.misskey import nsfwjs_predictions
from plugin.scanning import scan_bytes
from workers import context


def detect_images(images_b64: list[str]) -> list[dict[str, Any]]:
    """Misskey's detect-images for already-validated parts: one result per image, in order.

    Besides the classifiers, each picture is matched against the hash banks, so a banked
    picture is flagged even when the classifiers call it neutral.
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
        _record_derivatives(ctx, scan)
        results.append({"success": True,
                        "predictions": nsfwjs_predictions(scan["verdicts"],
                                                          bool(scan["matches"]))})
    return results


def _record_derivatives(ctx: Any, scan: dict[str, Any]) -> None:
    """A frame that derives from a protected picture is written to the audit log.

    Misskey sends normalised 299×299 PNG frames: no poster, no post, no C2PA manifest, so
    there is nobody to report and no AI evidence to weigh (nudity shows in the predictions
    anyway). What we can do is keep the finding, with its owner and evidence, for the
    admins of both sides to follow up.
    """
    for match in (scan.get("derivatives") or {}).get("matches") or []:
        ctx.services.audit.audit_append(
            actor="misskey-detect", action="consent.derivative_seen", subject=match["owner"],
            outcome="recorded", evidence={"protected_id": match["id"], "score": match["score"],
                                          "evidence": match["evidence"],
                                          "labels": scan.get("labels") or []})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}
