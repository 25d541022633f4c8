"""Run one fuzz target under atheris: ``python -m tests.fuzz.run TARGET [libFuzzer flags]``.

Example, the 30-minute run: ``python -m tests.fuzz.run image -max_total_time=1800``.
Seeds come from ``tests/hostile/make_corpus.py`` (images) and small built-in samples; a
crash writes ``crash-<sha1>`` in the working directory and exits non-zero.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from tests.fuzz.targets import TARGETS

SEEDS: dict[str, list[bytes]] = {
    "webhook": [b'{"event":"status.created","created_at":"2025-01-01T00:00:00Z","object":'
                b'{"id":"1","account":{"id":"2","acct":"a"},"media_attachments":[{"id":"3",'
                b'"type":"image","url":"http://x/y.jpg"}]}}'],
    "jcs": [b'{"b":[1,2.5,"\\u00e9",null,true],"a":{"c":-0}}'],
    "structured_fields": [b'sig1=("@method" "@target-uri");created=1;keyid="k";alg="ed25519"',
                          b"sig1=:AAECAw==:, x=?1"],
    "record": [b'{"type":"hash","id":"x","issuer":"a.example","issued":"2025-06-15T15:00:00Z",'
               b'"hash_type":"pdq","hash_value":"' + b"f" * 64 + b'","category":"ncii",'
               b'"proof":{"type":"DataIntegrityProof"}}'],
}


def main() -> None:
    name = sys.argv[1]
    target = TARGETS[name]
    seeds = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    if name == "image":
        from tests.hostile.make_corpus import images

        samples = [data for _, data, _ in images() if len(data) < 200_000]
    else:
        samples = SEEDS[name]
    for i, data in enumerate(samples):
        (seeds / f"seed-{i}").write_bytes(data)
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(seeds)], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
