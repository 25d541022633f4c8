"""Pairing (§5): what the admin commands and the ``/federation/v1/pair`` endpoint do.

The handshake is symmetric and needs both admins:

1. ``add URL`` fetches the peer's discovery document and stores the peer with its keys (state
   ``added``); the admin compares the key id out of band if they wish.
2. ``approve ID`` is our admin's consent: we send a signed pair request. The peer answers
   ``202 pending`` (its admin has not approved us yet) or ``200 active``.
3. On the other side the request shows as ``awaiting_our_approval``; when that admin approves,
   their pair request reaches us, we answer ``200 active``, and records flow both ways.

``remove ID`` unpairs: we forget both halves of the handshake, tell the peer
(``DELETE /federation/v1/pair``), stop serving and pulling. Nothing flows until both admins
approve again. Peer settings (trust level, categories, auto-act, most severe action, which of
our banks it may read) are changed with ``peer_configure``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from plugin.errors import BadRequest
from plugin.policy import ACTIONS

from . import PROTOCOL_VERSION
from .client import PeerClient, check_peer_url, is_loopback_url
from .context import Federation
from .errors import InvalidRequest, PairingRejected, UnsupportedVersion
from .wellknown import WELL_KNOWN_PATH

__all__ = ["TRUST_LEVELS", "accept_pair_request", "add_peer", "approve_peer",
           "configure_peer", "reject_peer", "remove_peer"]

log = logging.getLogger(__name__)
TRUST_LEVELS = ("untrusted", "normal", "trusted")
READ_VISIBILITIES = ("peers", "vetted")


def add_peer(fed: Federation, url: str, *, approve: bool = False,
             message: str | None = None) -> dict[str, Any]:
    base = check_peer_url(url, allow_insecure=fed.settings.allow_insecure_peers)
    doc = PeerClient(fed).discover(base)
    if doc["domain"] == fed.domain:
        raise BadRequest("that is this instance")
    peer = fed.peers.peer_upsert(doc["domain"], base, doc["keys"], doc["protocols"])
    return approve_peer(fed, peer["id"], message=message) if approve else peer


def approve_peer(fed: Federation, peer_id: int, *, message: str | None = None) -> dict[str, Any]:
    peer = fed.peers.peer_approve(peer_id)
    state = PeerClient(fed).pair(peer, message)
    log.info("pair request to %s: %s", peer["domain"], state)
    fed.services.audit.audit_append(actor="admin", action="federation.approve_peer",
                                    subject=peer["domain"], outcome=state)
    return {**fed.peers.peer_get(peer_id), "remote_state": state}


def reject_peer(fed: Federation, peer_id: int) -> dict[str, Any]:
    peer = fed.peers.peer_reject(peer_id)
    fed.services.audit.audit_append(actor="admin", action="federation.reject_peer",
                                    subject=peer["domain"], outcome="done")
    return peer


def remove_peer(fed: Federation, peer_id: int) -> dict[str, Any]:
    peer = fed.peers.peer_get(peer_id)
    told = None
    try:
        told = PeerClient(fed, timeout_s=10).unpair(peer)
    except Exception as exc:  # unpairing locally must work with a dead peer
        log.warning("could not tell %s about the unpairing: %s", peer["domain"], exc)
    peer = fed.peers.peer_unpair(peer_id)
    fed.services.audit.audit_append(actor="admin", action="federation.remove_peer",
                                    subject=peer["domain"], outcome="done",
                                    detail={"peer_answered": told})
    return peer


def configure_peer(fed: Federation, peer_id: int, **values: Any) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "trust_level" and value not in TRUST_LEVELS:
            raise BadRequest(f"trust_level must be one of {', '.join(TRUST_LEVELS)}")
        if key == "max_action" and value not in ACTIONS:
            raise BadRequest(f"max_action must be one of {', '.join(ACTIONS)}")
        if key == "read_visibility" and value not in READ_VISIBILITIES:
            raise BadRequest("read_visibility must be 'peers' or 'vetted'")
        if key == "categories" and not (value == "all" or (
                isinstance(value, list) and all(isinstance(c, str) for c in value))):
            raise BadRequest("categories must be a list of category names or 'all'")
        if key == "auto_act" and not isinstance(value, bool):
            raise BadRequest("auto_act must be a boolean")
        clean[key] = None if value == "all" else value
    peer = fed.peers.peer_update(peer_id, **clean)
    fed.services.audit.audit_append(actor="admin", action="federation.configure_peer",
                                    subject=peer["domain"], outcome="done", detail=clean)
    return peer


def accept_pair_request(fed: Federation, body: Any) -> tuple[dict[str, Any], str]:
    """Steps 1 and 3-4 of §5 for a request whose body is *body*; signature checked by caller.

    Returns the stored peer and the discovery document's keys are what the caller must
    verify the signature against (the caller is unknown before this request).
    """
    if not isinstance(body, dict) or not isinstance(body.get("well_known"), str):
        raise InvalidRequest("pair request needs well_known")
    protocols = body.get("protocols")
    if not isinstance(protocols, list):
        raise InvalidRequest("pair request needs protocols")
    if PROTOCOL_VERSION not in protocols:
        raise UnsupportedVersion(f"we speak {PROTOCOL_VERSION} only")
    message = body.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > 500):
        raise InvalidRequest("message must be a string of at most 500 characters")
    well_known = body["well_known"]
    parts = urlsplit(well_known)
    if parts.path != WELL_KNOWN_PATH or parts.query or parts.fragment:
        raise InvalidRequest(f"well_known must be <base>{WELL_KNOWN_PATH}")
    base = check_peer_url(f"{parts.scheme}://{parts.netloc}",
                          allow_insecure=fed.settings.allow_insecure_peers)
    doc = PeerClient(fed).discover(base)
    if not is_loopback_url(base) and doc["domain"] != parts.hostname:
        raise InvalidRequest("well_known host and document domain differ")
    existing = fed.peers.peer_by_domain(doc["domain"])
    if existing and existing["state"] == "rejected":
        raise PairingRejected("our admin rejected pairing with you")
    return doc, message or ""


def store_pair_request(fed: Federation, doc: dict[str, Any], message: str) -> dict[str, Any]:
    peer = fed.peers.peer_upsert(doc["domain"], doc["base_url"], doc["keys"], doc["protocols"],
                                 requested=True, message=message)
    fed.services.audit.audit_append(actor=f"peer:{doc['domain']}",
                                    action="federation.pair_request", subject=doc["domain"],
                                    outcome=peer["state"])
    return peer
