"""Reading AI provenance from a picture: C2PA manifests with an AI ``digitalSourceType``.

Why C2PA: AI editors that label their output (Adobe Firefly, OpenAI, Google, Microsoft and
others) write a C2PA manifest whose actions carry an IPTC ``digitalSourceType``;
``trainedAlgorithmicMedia`` (generated) and ``compositeWithTrainedAlgorithmicMedia`` (partly
generated, e.g. in-painting) are what "AI-edited" means here. We read it with c2pa-python.

Trust: a manifest whose claim signature fails validation (tampered bytes) is ignored. A valid
signature from a certificate outside the C2PA trust list still counts: claiming AI
provenance only ever incriminates the poster's own upload, so a self-signed claim is evidence
enough to act (``trusted`` in the result says which it was). Mastodon strips metadata from
local uploads, so on local posts this signal is usually absent; remote and Misskey pictures
and the ``consent/check`` endpoint see original bytes.
"""

from __future__ import annotations

import io
import json
from typing import Any

AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia",
                   "algorithmicMedia", "compositeSynthetic")
_FATAL = ("claimSignature.mismatch", "assertion.dataHash.mismatch",
          "assertion.hashedURI.mismatch", "claimSignature.missing")
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
         "TIFF": "image/tiff", "AVIF": "image/avif", "HEIF": "image/heif"}


def mime_of(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_provenance(data: bytes, mime: str | None = None) -> dict[str, Any] | None:
    """The C2PA facts of a picture, or None when it carries no (readable) manifest."""
    mime = mime or mime_of(data)
    if mime is None:
        return None
    try:
        import c2pa
    except ImportError:  # c2pa-python is a declared dependency; a broken wheel is no crash
        return None
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data))
        store = json.loads(reader.json())
    except Exception:  # no manifest, or one the library cannot parse
        return None
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    if not active:
        return None
    codes = [v.get("code", "") for v in store.get("validation_status") or []]
    types, agents = [], []
    for assertion in active.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            source = str(action.get("digitalSourceType") or "")
            if source:
                types.append(source.rsplit("/", 1)[-1])
            agent = action.get("softwareAgent")
            if isinstance(agent, dict) and agent.get("name"):
                agents.append(str(agent["name"]))
            elif isinstance(agent, str):
                agents.append(agent)
    tampered = any(code in _FATAL for code in codes)
    signature = active.get("signature_info") or {}
    return {
        "ai": bool(set(types) & set(AI_SOURCE_TYPES)) and not tampered,
        "digital_source_types": sorted(set(types)),
        "software_agents": sorted(set(agents)),
        "claim_generator": [g.get("name") for g in active.get("claim_generator_info") or []],
        "signer": {"issuer": signature.get("issuer"), "common_name": signature.get("common_name")},
        "trusted": "signingCredential.untrusted" not in codes,
        "tampered": tampered,
        "validation": codes,
    }
