"""The federation stores on SQLite and PostgreSQL: ordered publishing, filtering, bulk adds."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from plugin.errors import NotFound
from plugin.federation.changelog import changes_page, publish_bank_changes
from plugin.federation.context import federation
from plugin.federation.records import verify_record
from plugin.services import Services
from plugin.storage.banks import EntryInput
from plugin.storage.received_store import hash_keys
from tests.conftest import make_settings


def _services(tmp_path: Path, redis_url: str, db_url: str) -> Services:
    svc = Services.from_settings(make_settings(tmp_path, redis_url, db_url,
                                               federation_domain="a.test"))
    svc.db.migrate()
    return svc


def test_concurrent_publishers_keep_ids_ordered_and_unique(tmp_path, redis_url,
                                                          any_db_url) -> None:
    svc = _services(tmp_path, redis_url, any_db_url)
    fed = federation(svc)
    svc.banks.bank_create("shared", "spam", visibility="peers")
    errors: list[Exception] = []

    def writer(start: int) -> None:
        try:
            for i in range(start, start + 30, 3):
                svc.banks.entries_add("shared", [EntryInput("sha256", f"{i:064x}")])
                publish_bank_changes(fed, batch=7)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    publish_bank_changes(fed)  # the periodic run picks up anything a gap held back
    page = changes_page(fed, {"read_visibility": "peers"}, "0", 1000)
    records = [json.loads(t) for t in page["records_json"]]
    ids = [r["id"] for r in records]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 30
    assert {r["hash_value"] for r in records} == {f"{i:064x}" for i in range(30)}
    key = fed.identity.public_key
    for record in records:
        verify_record(record, lambda _m: key)
    # Paging by cursor returns the same sequence.
    seen, cursor = [], "0"
    while True:
        page = changes_page(fed, {"read_visibility": "peers"}, cursor, 4)
        seen += [json.loads(t)["id"] for t in page["records_json"]]
        cursor = page["next"]
        if not page["has_more"]:
            break
    assert seen == ids
    svc.db.dispose()


def test_bulk_entries_revive_and_feed_the_bank_change_log(tmp_path, redis_url,
                                                         any_db_url) -> None:
    svc = _services(tmp_path, redis_url, any_db_url)
    fed = federation(svc)
    bank = svc.banks.bank_create("peer:b.test:spam", "spam")
    seq = svc.banks.last_change()
    items = [("sha256", f"{i:064x}", None) for i in range(5)]
    assert fed.received.entries_add_bulk(bank["id"], items + items[:2], source="peer:b.test") == 5
    assert fed.received.entries_add_bulk(bank["id"], items, source="peer:b.test") == 0
    svc.banks.entry_remove("peer:b.test:spam", "sha256", items[0][1], by="t", reason="t")
    assert fed.received.entries_add_bulk(bank["id"], items[:1], source="peer:b.test") == 1
    ops = [op for _, op, _ in svc.banks.changes_since(seq)]
    assert ops == ["add"] * 5 + ["remove", "add"]
    assert len(list(svc.banks.entries_export("peer:b.test:spam"))) == 5
    svc.db.dispose()


def test_page_writes_and_proof_bookkeeping(tmp_path, redis_url, any_db_url) -> None:
    """The bulk page path writes what BankStore would, on SQLite and PostgreSQL alike."""
    from datetime import UTC, datetime

    svc = _services(tmp_path, redis_url, any_db_url)
    fed = federation(svc)
    peer = fed.peers.peer_upsert("b.test", "https://b.test", [], ["consentry/1"])
    bank = svc.banks.bank_create("peer:b.test:ncii", "ncii", visibility="private")
    old, live = f"{1:064x}", f"{2:064x}"
    svc.banks.entries_add("peer:b.test:ncii", [EntryInput("pdq", old), EntryInput("pdq", live)])
    svc.banks.entry_remove("peer:b.test:ncii", "pdq", old, by="t", reason="tombstone")
    now = datetime.now(UTC)

    def row(n: int, value: str, state: str, checked: bool) -> dict:
        return {"peer_id": peer["id"], "record_id": f"rec-{n}", "type": "hash",
                "hash_type": "pdq", "hash_value": value, "category": "ncii",
                "bank": "peer:b.test:ncii", "state": state, "expires_at": None,
                "received_at": now, "proof_checked_at": now if checked else None,
                "record": json.dumps({"n": n, "text": "é"}, ensure_ascii=False)}

    new = f"{3:064x}"
    changed = fed.received.received_apply(
        {bank["id"]: [("pdq", old, "revived"), ("pdq", live, "dup"), ("pdq", new, "new")]},
        "peer:b.test", [row(1, old, "active", False), row(2, new, "active", True),
                        row(3, live, "quarantined", False)], [])
    assert changed == 2  # the tombstone revived and the new entry; the live one untouched
    values = sorted(e["value"] for e in svc.banks.entries_export("peer:b.test:ncii"))
    assert values == [old, live, new]
    assert svc.banks.entry_get("peer:b.test:ncii", "pdq", new)["source"] == "peer:b.test"

    keys = fed.received.received_active_keys(
        peer["id"], hash_keys([("pdq", old), ("pdq", live)]))
    assert keys == [("pdq", old, "ncii", "rec-1")]  # rec-3 is not active
    assert fed.received.received_max_record_id(peer["id"]) == "rec-3"

    unchecked = fed.received.received_unchecked(10)
    assert [r["record_id"] for r in unchecked] == ["rec-1", "rec-3"]
    assert json.loads(unchecked[0]["record"]) == {"n": 1, "text": "é"}
    fed.received.received_mark_checked([unchecked[0]["id"]], {unchecked[1]["id"]: "bad"})
    assert fed.received.received_count_unchecked() == 0
    held = fed.received.received_in_state(peer["id"], "refused")
    assert [r["record_id"] for r in held] == ["rec-3"]
    fed.received.received_update_many([{"row_id": held[0]["id"], "new_state": "filtered",
                                        "new_bank": None, "new_category": "spam"}])
    (again,) = fed.received.received_in_state(peer["id"], "filtered")
    assert (again["bank"], again["category"]) == (None, "spam")


def test_a_page_two_banks_supersessions_and_cursor_commit_together(tmp_path, redis_url,
                                                                   any_db_url) -> None:
    """One page's final write: entries of two banks (each change logged once, against its
    own bank), a supersession and the feed cursor, in one transaction on either database."""
    from datetime import UTC, datetime

    svc = _services(tmp_path, redis_url, any_db_url)
    fed = federation(svc)
    peer = fed.peers.peer_upsert("b.test", "https://b.test", [], ["consentry/1"])
    ncii = svc.banks.bank_create("peer:b.test:ncii", "ncii", visibility="private")
    spam = svc.banks.bank_create("peer:b.test:spam", "spam", visibility="private")
    gone = f"{9:064x}"
    svc.banks.entries_add("peer:b.test:spam", [EntryInput("pdq", gone)])
    svc.banks.entry_remove("peer:b.test:spam", "pdq", gone, by="t", reason="tombstone")
    now = datetime.now(UTC)
    old = {"peer_id": peer["id"], "record_id": "rec-0", "type": "hash", "hash_type": "pdq",
           "hash_value": gone, "category": "spam", "bank": "peer:b.test:spam",
           "state": "active", "expires_at": None, "received_at": now,
           "proof_checked_at": now, "record": "{}"}
    fed.received.received_apply({}, "peer:b.test", [old], [])
    seq = svc.banks.last_change()

    values = [f"{i:064x}" for i in range(1, 5)]
    changed = fed.received.received_apply(
        {ncii["id"]: [("pdq", v, None) for v in values[:3]],
         spam["id"]: [("pdq", values[3], None), ("pdq", gone, None)]},
        "peer:b.test", [{**old, "record_id": "rec-1"}], [],
        superseded=(peer["id"], ["rec-0"]), cursor=(peer["id"], "rec-1", True))
    assert changed == 5  # four new entries and one revived tombstone
    logged = svc.banks.changes_since(seq)
    assert [op for _, op, _ in logged] == ["add"] * 5
    by_bank = {"ncii": set(values[:3]), "spam": {values[3], gone}}
    for name, expected in by_bank.items():
        ids = {svc.banks.entry_get(f"peer:b.test:{name}", "pdq", v)["id"] for v in expected}
        assert ids <= {entry for _, _, entry in logged}
    assert len({entry for _, _, entry in logged}) == 5
    assert fed.received.received_active_keys(peer["id"], hash_keys([("pdq", gone)])) == [
        ("pdq", gone, "spam", "rec-1")]  # rec-0 superseded in the same write
    stored = fed.peers.peer_get(peer["id"])
    assert stored["cursor"] == "rec-1" and stored["backfilled_at"] is not None

    # a failing page leaves neither its rows nor its cursor behind
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError
        fed.received.received_apply(
            {ncii["id"]: [("pdq", f"{7:064x}", None)]}, "peer:b.test",
            [{**old, "record_id": "rec-1"}], [],  # rec-1 again: unique (peer, record id)
            cursor=(peer["id"], "rec-2", True))
    assert fed.peers.peer_get(peer["id"])["cursor"] == "rec-1"
    with pytest.raises(NotFound):
        svc.banks.entry_get("peer:b.test:ncii", "pdq", f"{7:064x}")
    svc.db.dispose()


def test_backfill_batches_commit_pages_together_and_supersede_across_them(
        tmp_path, redis_url, any_db_url) -> None:
    """A PageWriter gathers pages into one transaction (rows and last cursor together), and a
    hash re-asserted by a later page supersedes the earlier record whether that one is still
    gathered, in flight or committed, or was stored by an earlier run (the run's memo looks
    up only hashes this run has sent, until the peer had rows before the run)."""
    from plugin.federation.ids import uuid7
    from plugin.federation.ingest import RunMemo, apply_page
    from plugin.federation.page_writer import PageWriter
    from tests.federation.conftest import hash_record

    svc = _services(tmp_path, redis_url, any_db_url)
    fed = federation(svc)
    peer = fed.peers.peer_get(
        fed.peers.peer_upsert("b.test", "https://b.test", [], ["consentry/1"])["id"])
    h = [f"{i:064x}" for i in range(5)]
    ids = [uuid7() for _ in range(9)]
    writer, memo = PageWriter(batch_records=4), RunMemo()

    def page(*pairs: tuple[int, int]) -> None:
        records = [hash_record(id=ids[i], issuer="b.test", hash_value=h[v]) for i, v in pairs]
        apply_page(fed, peer, records, [None] * len(records), writer=writer, memo=memo,
                   cursor=(records[-1]["id"], False))

    def states() -> dict[str, str]:
        return {r["record_id"]: r["state"] for r in fed.received.received_in_state(
            peer["id"], "active") + fed.received.received_in_state(peer["id"], "superseded")}

    page((0, 1), (1, 2))  # two records: gathered, nothing written yet
    assert writer.gathered == 2
    assert states() == {} and fed.peers.peer_get(peer["id"])["cursor"] == peer["cursor"]
    assert writer.uncommitted(("pdq", h[1], "ncii")) == [ids[0]]
    page((2, 1), (3, 3))  # four: handed to the thread as one transaction
    assert writer.gathered == 0
    page((4, 1), (5, 4))  # h[1] a third time, while the batch before may be in flight
    writer.drain()
    page((6, 2))  # h[2] again: its record ids[1] was committed by this run
    writer.close()
    assert states() == {ids[0]: "superseded", ids[1]: "superseded", ids[2]: "superseded",
                        ids[3]: "active", ids[4]: "active", ids[5]: "active", ids[6]: "active"}
    assert fed.peers.peer_get(peer["id"])["cursor"] == ids[6]
    assert sorted(e["value"] for e in svc.banks.entries_export("peer:b.test:ncii")) == [
        h[1], h[2], h[3], h[4]]
    assert memo.stored_before is False and len(memo.hash_keys) == 4
    writer, memo = PageWriter(batch_records=4), RunMemo()  # the next run
    page((7, 3), (8, 0))  # h[3] was asserted by ids[3], in the run before
    writer.close()
    assert memo.stored_before is True
    assert states()[ids[3]] == "superseded" and states()[ids[7]] == "active"
    svc.db.dispose()
