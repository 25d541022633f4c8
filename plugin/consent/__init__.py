"""Consent: "no AI edits of my pictures", from the toggle to enforcement on every peer.

* ``actors`` — who a person is (their ActivityPub actor URI) on this instance and elsewhere;
* ``choices`` — changing a choice and what follows at once (protection, records, peers);
* ``registration`` — protecting a person's pictures (new posts and the backfill);
* ``records`` / ``remote`` — consent records we publish and those peers send us;
* ``c2pa`` — reading AI provenance (C2PA ``digitalSourceType``) from a picture's bytes;
* ``decision`` — the pure enforcement decision for one derivative match;
* ``stage`` — the scan-pipeline stage that ties the above to ``plugin.scanning``;
* ``notify`` — telling the owner; ``check`` — the public "may I edit this?" answer.

The normative parts of the wire format are in ``docs/peer-protocol.md`` §8.3; the guide for
people and tool authors is ``docs/consent.md``.
"""
