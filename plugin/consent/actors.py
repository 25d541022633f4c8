"""Actor URIs: how consent names a person.

A consent record names its person by ActivityPub actor id, and the authority rule (§8.3)
requires its host to be the issuing instance's domain. Mastodon's actor ids are
``https://<domain>/users/<username>``; for local people we build them from our federation
domain (the instance's domain), for remote posters from their ``user@domain`` handle.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from plugin.federation.wellknown import instance_domain
from plugin.settings import Settings


def local_actor(settings: Settings, username: str) -> str:
    return f"https://{instance_domain(settings)}/users/{username}"


def actor_for_acct(settings: Settings, acct: str | None) -> str | None:
    """The actor URI of a status author's ``acct`` (``alice`` or ``dave@remote.example``)."""
    if not acct:
        return None
    user, _, domain = acct.lstrip("@").partition("@")
    if not domain:
        return local_actor(settings, user)
    return f"https://{domain.lower()}/users/{user}"


def actor_domain(actor: str) -> str:
    return (urlsplit(actor).hostname or "").lower()


def is_local(settings: Settings, actor: str) -> bool:
    return actor_domain(actor) == instance_domain(settings)


def username_of(actor: str) -> str:
    return urlsplit(actor).path.rstrip("/").rsplit("/", 1)[-1]
