"""The media gate's refusal index in Redis: which media the instance must stop serving.

nginx asks ``/gate`` once per media request, so the answer must come from memory, never SQL:
one Redis hash maps a media id (and, for media whose URL we know, its URL path) to the
reason it is refused (the category). Mastodon stores attachments under
``.../media_attachments/files/<id partition>/<style>/<name>`` — the id partition is the
attachment id in 3-digit groups — so every style (original, small) and the cache of remote
media (``/system/cache/...``) map back to the same id. Items that are opened, confirmed or
dismissed update the index at once; ``rebuild`` restores it from SQL after Redis lost it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from redis import Redis

from plugin.redis_keys import PREFIX

REFUSED = PREFIX + "gate:refused"  # hash: "id:<media_id>" | "path:<path>" -> category
BUILT = PREFIX + "gate:built"
_PARTITION = re.compile(r"/media_attachments/files/((?:\d{3}/)+)[a-z_]+/[^/]+$")
LEGAL_CATEGORIES = ("csam", "ncii", "terror", "nonconsensual_ai_edit")


def media_id_from_path(path: str) -> str | None:
    match = _PARTITION.search(path.split("?", 1)[0])
    if not match:
        return None
    return str(int(match.group(1).replace("/", "")))


def _fields(media_id: str | None, url: str | None) -> list[str]:
    fields = [f"id:{media_id}"] if media_id else []
    if url:
        fields.append("path:" + urlsplit(url).path)
    return fields


class GateIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def refuse(self, media_id: str | None, url: str | None, category: str) -> None:
        fields = _fields(media_id, url)
        if fields:
            self.redis.hset(REFUSED, mapping=dict.fromkeys(fields, category))

    def allow(self, media_id: str | None, url: str | None) -> None:
        fields = _fields(media_id, url)
        if fields:
            self.redis.hdel(REFUSED, *fields)

    def lookup(self, path: str) -> tuple[str | None, bool]:
        """(category the path is refused for or None, whether the index is built).

        One round trip: HMGET of the path and the media id, and EXISTS of the built marker.
        """
        media_id = media_id_from_path(path)
        keys = [f"path:{path.split('?', 1)[0]}"] + ([f"id:{media_id}"] if media_id else [])
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(REFUSED, keys)
        pipe.exists(BUILT)
        values, built = pipe.execute()
        reason = next((v.decode() for v in values if v is not None), None)
        return reason, bool(built)

    def built(self) -> bool:
        return bool(self.redis.exists(BUILT))

    def rebuild(self, refused: list[tuple[str, str | None, str]]) -> int:
        mapping: dict[str, str] = {}
        for media_id, url, category in refused:
            mapping.update(dict.fromkeys(_fields(media_id, url), category))
        pipe = self.redis.pipeline()
        pipe.delete(REFUSED)
        if mapping:
            pipe.hset(REFUSED, mapping=mapping)
        pipe.set(BUILT, "1")
        pipe.execute()
        return len(refused)
