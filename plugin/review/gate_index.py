"""The media gate's refusal index in Redis: which media the instance must stop serving.

nginx asks the gate once per media request, so the answer must come from memory, never SQL:
one Redis hash maps a media id (and, for media whose URL we know, its URL path) to the
reason it is refused (the category). Mastodon stores attachments under
``.../media_attachments/files/<id partition>/<style>/<name>`` — the id partition is the
attachment id in 3-digit groups — so every style (original, small) and the cache of remote
media (``/system/cache/...``) map back to the same id. Items that are opened, confirmed or
dismissed update the index at once; ``rebuild`` restores it from SQL after Redis lost it.

Every change also bumps a sequence number and appends to a capped change stream, in one Lua
script so the three never disagree. The dedicated gate process (``plugin.gate``) keeps a copy
of the hash in its own memory and follows that stream with a blocking ``XREAD``: a change
reaches it within one round trip, and a gap in the sequence (a trimmed stream, a flushed
Redis) makes it reload the whole hash instead of guessing.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from redis import Redis

from plugin.redis_keys import PREFIX

REFUSED = PREFIX + "gate:refused"  # hash: "id:<media_id>" | "path:<path>" -> category
BUILT = PREFIX + "gate:built"
SEQ = PREFIX + "gate:seq"  # counter: one per change of REFUSED
CHANGES = PREFIX + "gate:changes"  # stream: seq, op (refuse|allow|rebuild), category, fields
CHANGES_MAXLEN = 10_000
_PARTITION = re.compile(r"/media_attachments/files/((?:\d{3}/)+)[a-z_]+/[^/]+$")
LEGAL_CATEGORIES = ("csam", "ncii", "terror", "nonconsensual_ai_edit")

# KEYS: REFUSED, SEQ, CHANGES. ARGV: op, category, maxlen, fields as JSON, field...
_CHANGE = """
local seq = redis.call('INCR', KEYS[2])
if ARGV[1] == 'refuse' then
  for i = 5, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[2]) end
elseif ARGV[1] == 'allow' and #ARGV >= 5 then
  redis.call('HDEL', KEYS[1], unpack(ARGV, 5))
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
           'seq', seq, 'op', ARGV[1], 'category', ARGV[2], 'fields', ARGV[4])
return seq
"""


def media_id_from_path(path: str) -> str | None:
    match = _PARTITION.search(path.split("?", 1)[0])
    if not match:
        return None
    return str(int(match.group(1).replace("/", "")))


def lookup_keys(path: str) -> list[str]:
    """The hash fields that would refuse ``path``: its own path, then its media id."""
    media_id = media_id_from_path(path)
    return [f"path:{path.split('?', 1)[0]}"] + ([f"id:{media_id}"] if media_id else [])


def verdict(reason: str | None) -> tuple[int, str]:
    """(HTTP status for nginx, X-Consentry-Status) for a refusal reason (None: serve)."""
    if reason is None:
        return 200, "200"
    return 403, "451" if reason in LEGAL_CATEGORIES else "403"


def _fields(media_id: str | None, url: str | None) -> list[str]:
    fields = [f"id:{media_id}"] if media_id else []
    if url:
        fields.append("path:" + urlsplit(url).path)
    return fields


class GateIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def _record(self, op: str, category: str, fields: list[str], client=None) -> None:
        self.redis.register_script(_CHANGE)(keys=[REFUSED, SEQ, CHANGES],
                     args=[op, category, CHANGES_MAXLEN, json.dumps(fields), *fields],
                     client=client)

    def refuse(self, media_id: str | None, url: str | None, category: str) -> None:
        fields = _fields(media_id, url)
        if fields:
            self._record("refuse", category, fields)

    def allow(self, media_id: str | None, url: str | None) -> None:
        fields = _fields(media_id, url)
        if fields:
            self._record("allow", "", fields)

    def lookup(self, path: str) -> tuple[str | None, bool]:
        """(category the path is refused for or None, whether the index is built).

        One round trip: HMGET of the path and the media id, and EXISTS of the built marker.
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(REFUSED, lookup_keys(path))
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
        pipe = self.redis.pipeline()  # MULTI: a follower never sees half a rebuild
        pipe.delete(REFUSED)
        if mapping:
            pipe.hset(REFUSED, mapping=mapping)
        pipe.set(BUILT, "1")
        self._record("rebuild", "", [], client=pipe)
        pipe.execute()
        return len(refused)
