"""``/.well-known/consentry``: building ours and checking a peer's (``docs/peer-protocol.md`` §4).

The discovery document is the root of trust in a peer's keys, so parsing is strict: the
document must name the domain we expected, list exactly one active key first, and every key's
``key_id`` must be re-derivable from its public key, with both encodings of the key agreeing.
What we keep of a peer (``PeerKey`` dicts in ``fed_peers.keys``) is only what verification
needs: key id, raw public key (base64url), status and retirement time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from plugin import __version__
from plugin.settings import Settings

from . import PROTOCOL_VERSION
from .errors import InvalidRequest, UnknownKey
from .identity import (
    ServiceIdentity,
    derive_key_id,
    key_url,
    public_key_b64url,
    public_key_from_b64url,
    public_key_from_multibase,
)
from .schema import is_valid_domain

__all__ = ["WELL_KNOWN_PATH", "discovery_document", "instance_domain", "parse_discovery",
           "public_base"]

WELL_KNOWN_PATH = "/.well-known/consentry"
ENDPOINT_PATHS = {"pair": "/federation/v1/pair", "changes": "/federation/v1/changes",
                  "nudge": "/federation/v1/nudge"}


def public_base(settings: Settings) -> str:
    """Where peers reach us: ``public_url`` (or ``https://<domain>``)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.federation_domain:
        return f"https://{settings.federation_domain}"
    return settings.base_url


def instance_domain(settings: Settings) -> str:
    """Our federation domain: ``CONSENTRY_FEDERATION_DOMAIN`` or the host of the public URL."""
    domain = settings.federation_domain or urlsplit(public_base(settings)).hostname or ""
    domain = domain.lower()
    if not is_valid_domain(domain):
        from plugin.errors import ConfigError

        raise ConfigError(f"federation domain {domain!r} is not a DNS name; set "
                          "CONSENTRY_FEDERATION_DOMAIN (or CONSENTRY_PUBLIC_URL)")
    return domain


def discovery_document(settings: Settings, identity: ServiceIdentity) -> dict[str, Any]:
    domain = instance_domain(settings)
    base = public_base(settings)
    return {
        "domain": domain,
        "software": {"name": "consentry", "version": __version__},
        "protocols": [PROTOCOL_VERSION],
        "keys": [k.to_json(domain) for k in identity.public_keys()],
        "endpoints": {name: base + path for name, path in ENDPOINT_PATHS.items()},
    }


def parse_discovery(doc: Any, *, expected_domain: str | None, base_url: str) -> dict[str, Any]:
    """Validate a peer's discovery document; return ``{domain, keys, protocols, endpoints}``.

    *expected_domain* is the host we fetched (None only for loopback test peers, where the
    document's domain is taken as is). Endpoints must share *base_url*'s origin, so a
    document cannot send our signed requests elsewhere.
    """
    if not isinstance(doc, Mapping):
        raise InvalidRequest("discovery document is not a JSON object")
    domain = doc.get("domain")
    if not is_valid_domain(domain):
        raise InvalidRequest("discovery document has no valid domain")
    if expected_domain is not None and domain != expected_domain:
        raise InvalidRequest(f"discovery document names {domain!r}, fetched from "
                             f"{expected_domain!r}")
    protocols = doc.get("protocols")
    if not isinstance(protocols, list) or not all(isinstance(p, str) for p in protocols):
        raise InvalidRequest("discovery document protocols must be a list of strings")
    keys = parse_keys(doc.get("keys"), domain)
    endpoints = doc.get("endpoints") or {}
    if not isinstance(endpoints, Mapping):
        raise InvalidRequest("discovery endpoints must be an object")
    origin = _origin(base_url)
    for name, url in endpoints.items():
        if not isinstance(url, str) or _origin(url) != origin:
            raise InvalidRequest(f"endpoint {name!r} is not on {origin}")
    return {"domain": domain, "keys": keys, "protocols": protocols,
            "endpoints": dict(endpoints)}


def parse_keys(raw: Any, domain: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("discovery document lists no keys")
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or entry.get("type") != "Multikey":
            raise InvalidRequest("each key must be a Multikey object")
        try:
            key = public_key_from_b64url(str(entry.get("publicKeyBase64url")))
            other = public_key_from_multibase(str(entry.get("publicKeyMultibase")))
        except ValueError as exc:
            raise InvalidRequest(f"bad key encoding: {exc}") from None
        if public_key_b64url(key) != public_key_b64url(other):
            raise InvalidRequest("the two encodings of a key differ")
        key_id = derive_key_id(key)
        if entry.get("key_id") != key_id or entry.get("id") != key_url(domain, key_id):
            raise InvalidRequest("key_id or key URL does not match the published key")
        status = entry.get("status")
        if status not in ("active", "retired") or (status == "active") != (i == 0):
            raise InvalidRequest("exactly one active key, listed first, is required")
        out.append({"key_id": key_id, "public_key": public_key_b64url(key), "status": status,
                    "retired": entry.get("retired")})
    return out


def find_key(keys: list[dict[str, Any]], key_id: str, *, http: bool,
             now: float | None = None) -> Any:
    """The public key with *key_id* among a peer's stored keys, under §3's rules.

    Record proofs accept active and retired keys; HTTP signatures accept the active key and
    a retired one for an hour after its retirement.
    """
    from .timestamps import parse_rfc3339

    for entry in keys:
        if entry["key_id"] != key_id:
            continue
        if http and entry["status"] == "retired":
            try:
                retired = parse_rfc3339(entry.get("retired")).timestamp()
            except ValueError:
                raise UnknownKey("retired key has no retirement time") from None
            if now is None or now - retired > 3600:
                raise UnknownKey("retired key is no longer accepted for HTTP signatures")
        return public_key_from_b64url(entry["public_key"])
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
