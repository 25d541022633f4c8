"""ReceivedStore: the records peers sent us (``fed_received``), and the bulk writes behind them.

Split from ``federation_store`` (peers and our change log) because its job is different: a
cold sync writes 10^6 rows through it, so it has its own bulk paths. ``insert_rows`` issues
multi-row INSERTs without SQLAlchemy's per-row bookkeeping (a third of a cold sync's time went
there); ``received_apply`` writes a page (bank entries, bank changes, received rows) in one
transaction, adding entries exactly as ``BankStore.entries_add`` would (canonical values,
tombstones revived, one ``bank_changes`` "add" per changed entry) so every ``BankMatcher``
picks them up. Lookups by hash go through ``ix_fed_received_hash_key`` by peer and
``hash_key`` (a 64-bit key of type and value, migration 0012), then compare type and value on
the rows found; given ``state = 'active'``, SQLite would read every active row instead.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from hashlib import blake2b
from itertools import chain
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from plugin.storage.database import Database
from plugin.storage.federation_models import Peer, ReceivedRecord
from plugin.storage.federation_store import checkpoint_set
from plugin.storage.models import BankChange, BankEntry, utcnow

__all__ = ["BoundRows", "PreparedWrite", "ReceivedStore", "bind_rows", "hash_key", "hash_keys",
           "insert_bound", "insert_rows"]


def hash_key(hash_type: str, hash_value: str) -> int:
    """What ``ix_fed_received_hash_key`` indexes: BLAKE2b-64 of "type:value", signed (BIGINT)."""
    digest = blake2b(f"{hash_type}:{hash_value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def hash_keys(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Each distinct (hash_type, hash_value) pair with its ``hash_key``."""
    return {pair: hash_key(*pair) for pair in set(pairs)}


class ReceivedStore:
    """Records received from peers, and the bulk bank writes that make them matchable."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def received_known(self, peer_id: int, record_ids: list[str]) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(ReceivedRecord.record_id).where(
                ReceivedRecord.peer_id == peer_id, ReceivedRecord.record_id.in_(record_ids))))

    def received_get(self, peer_id: int, record_ids: list[str]) -> dict[str, dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(ReceivedRecord).where(
                ReceivedRecord.peer_id == peer_id, ReceivedRecord.record_id.in_(record_ids)))
            return {r.record_id: _received(r) for r in rows}

    def received_max_record_id(self, peer_id: int) -> str | None:
        """The largest record id received from *peer_id* (one probe of the unique index)."""
        with self.db.session() as s:
            return s.scalar(select(func.max(ReceivedRecord.record_id)).where(
                ReceivedRecord.peer_id == peer_id))

    def received_active_for(self, peer_id: int, keys: list[tuple[str, str]]
                            ) -> list[dict[str, Any]]:
        """Active hash records of *peer_id* for these (hash_type, hash_value) pairs.

        ``state``/``type`` are filtered here, not in SQL: given ``state = 'active'`` SQLite
        picks ``ix_fed_received_state`` and reads every active row of every peer (a cold sync
        went quadratic); by peer and hash key each key is one index probe.
        """
        wanted, out = set(keys), []
        t = ReceivedRecord.__table__
        with self.db.session() as s:
            for part in _chunks(hash_keys(keys).values()):
                rows = s.execute(select(*[t.c[c] for c in _RECEIVED_COLUMNS]).where(
                    t.c.peer_id == peer_id, t.c.hash_key.in_(part)))
                out.extend(dict(r._mapping) for r in rows
                           if r.state == "active" and r.type == "hash"
                           and (r.hash_type, r.hash_value) in wanted)
        return out

    def received_active_keys(self, peer_id: int, keys: dict[tuple[str, str], int]
                             ) -> list[tuple[str, str, str, str]]:
        """(hash_type, hash_value, category, record_id) of *peer_id*'s active hash records
        for these (hash_type, hash_value) pairs: the supersede lookup of every feed page.

        *keys* maps each pair to its ``hash_key`` (``hash_keys(pairs)``): a page computes
        them once, for this lookup and for the rows it stores."""
        wanted, out = set(keys), []
        with self.db.session() as s:
            conn = s.connection()
            mark = _mark(conn.dialect)
            for part in _chunks(keys.values()):
                # Driver SQL: SQLAlchemy's expanding IN compiles 1,000 parameters per page in
                # Python, 5% of a cold sync's interpreter time. Same index probes.
                rows = conn.exec_driver_sql(
                    "SELECT hash_type, hash_value, category, record_id, state, type "
                    f"FROM fed_received WHERE peer_id = {mark} "
                    f"AND hash_key IN ({', '.join([mark] * len(part))})", (peer_id, *part))
                out.extend((r[0], r[1], r[2], r[3]) for r in rows
                           if r[4] == "active" and r[5] == "hash" and (r[0], r[1]) in wanted)
        return out

    def received_update_many(self, rows: list[dict[str, Any]]) -> None:
        """Set state, bank, category of rows (``row_id``, ``new_*``): a quarantine replay."""
        if rows:
            with self.db.session() as s:
                _update_many(s, rows)

    def received_in_state(self, peer_id: int, state: str, *, after: str = "",
                          limit: int = 1000) -> list[dict[str, Any]]:
        """Rows of *peer_id* in *state* with record id > *after*, in feed (record id) order."""
        t = ReceivedRecord.__table__
        query = (select(*[t.c[c] for c in _RECEIVED_COLUMNS], t.c.record)
                 .where(t.c.peer_id == peer_id, t.c.state == state, t.c.record_id > after)
                 .order_by(t.c.record_id).limit(limit))
        with self.db.session() as s:
            return [dict(r._mapping) for r in s.execute(query)]

    def received_unchecked(self, limit: int = 5000) -> list[dict[str, Any]]:
        """Rows whose proof is not verified yet, oldest first (partial index, no scan)."""
        t = ReceivedRecord.__table__
        query = (select(*[t.c[c] for c in _RECEIVED_COLUMNS], t.c.record)
                 .where(t.c.proof_checked_at.is_(None)).order_by(t.c.id).limit(limit))
        with self.db.session() as s:
            return [dict(r._mapping) for r in s.execute(query)]

    def received_mark_checked(self, ok: list[int], failed: dict[int, str]) -> None:
        """Record the proof outcome; a failed row also becomes ``refused``."""
        t = ReceivedRecord.__table__
        now = utcnow()
        with self.db.bulk_session() as s:
            for start in range(0, len(ok), 5000):
                s.execute(update(t).where(t.c.id.in_(ok[start:start + 5000]))
                          .values(proof_checked_at=now))
            if failed:
                s.connection().execute(
                    update(t).where(t.c.id == bindparam("row_id")).values(
                        proof_checked_at=now, proof_error=bindparam("error"), state="refused"),
                    [{"row_id": i, "error": code[:32]} for i, code in failed.items()])

    def received_count_unchecked(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(ReceivedRecord).where(
                ReceivedRecord.proof_checked_at.is_(None))) or 0)

    def received_set_state(self, ids: list[int], state: str) -> None:
        if ids:
            with self.db.session() as s:
                s.execute(update(ReceivedRecord).where(ReceivedRecord.id.in_(ids))
                          .values(state=state))

    def received_supersede(self, peer_id: int, record_ids: list[str]) -> None:
        if record_ids:
            with self.db.session() as s:
                _supersede(s, peer_id, record_ids)

    def received_expired(self, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(ReceivedRecord).where(
                ReceivedRecord.state.in_(("active", "quarantined", "popular")),
                ReceivedRecord.expires_at.is_not(None), ReceivedRecord.expires_at <= now)
                .limit(limit))
            return [_received(r) for r in rows]

    def received_for_entries(self, banks_values: list[tuple[str, str, str]]
                             ) -> list[dict[str, Any]]:
        """Active received records behind (bank, hash_type, value) triples."""
        if not banks_values:
            return []
        with self.db.session() as s:
            # Naming every peer lets the (peer_id, hash_key) index answer: a few point
            # lookups, where the state index alone would read every active record.
            peers = list(s.scalars(select(Peer.id)))
            wanted = set(banks_values)  # state is filtered here, or the planner takes its index
            out = []
            for part in _chunks(hash_keys((t, v) for _, t, v in banks_values).values()):
                rows = s.scalars(select(ReceivedRecord).where(
                    ReceivedRecord.peer_id.in_(peers), ReceivedRecord.hash_key.in_(part)))
                out.extend(_received(r) for r in rows if r.state == "active"
                           and (r.bank, r.hash_type, r.hash_value) in wanted)
            return out

    def received_count_since(self, peer_id: int, since: datetime) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(ReceivedRecord).where(
                ReceivedRecord.peer_id == peer_id, ReceivedRecord.received_at >= since)) or 0)

    def local_media_counts(self, hash_type: str, values: list[str]) -> dict[str, int]:
        """How many local media scans carry each exact sha256 (popular-hash check)."""
        from plugin.storage.models import MediaScan

        if hash_type != "sha256" or not values:
            return {}
        with self.db.session() as s:
            rows = s.execute(select(MediaScan.sha256, func.count()).where(
                MediaScan.sha256.in_(values)).group_by(MediaScan.sha256))
            return {v: int(n) for v, n in rows}

    def received_apply(self, adds: dict[int, list[tuple[str, str, str | None]]], source: str,
                       rows: list[dict[str, Any]], updates: list[dict[str, Any]], *,
                       superseded: tuple[int, list[str]] | None = None,
                       cursor: tuple[int, str, bool] | None = None) -> int:
        """One page's writes in one transaction: bank entries (per bank id), received rows,
        updated rows, *superseded* (peer id, record ids) and the feed *cursor* (peer id,
        cursor, backfilled), so a page and its checkpoint land together or not at all.

        Entries are added as ``BankStore.entries_add`` adds them (canonical values, tombstones
        revived, the same ``bank_changes`` "add" rows), in multi-row statements. Returns how
        many entries changed. ``received_prepare`` + ``received_write``, on this thread.
        """
        return self.received_write(self.received_prepare(adds, source, rows), updates,
                                   superseded=superseded, cursor=cursor)

    def received_prepare(self, adds: dict[int, list[tuple[str, str, str | None]]],
                         source: str, rows: list[dict[str, Any]]) -> PreparedWrite:
        """The part of ``received_apply`` that needs no database: canonical values, digests,
        hash keys and the bound parameters of every row.

        Why separate: a sync's writer thread shares the interpreter lock with the thread that
        decides pages; preparing a batch on the deciding thread leaves the writer thread to
        SQLite, which runs without the lock (``plugin.federation.page_writer``).
        """
        from plugin.hashing.types import hash_type
        from plugin.storage.banks import value_digest

        now = utcnow()
        dialect = self.db.engine.dialect
        banks = []
        kinds: dict[str, Any] = {}
        for bank_id, items in adds.items():
            wanted: dict[tuple[str, str], str | None] = {}
            for kind_name, value, note in items:
                kind = kinds.get(kind_name) or kinds.setdefault(kind_name, hash_type(kind_name))
                wanted.setdefault((kind.name, kind.canonical(value)), note)
            if not wanted:
                continue
            # In index order: neighbouring keys share leaves (a few % at 10^5 rows a batch).
            entries = sorted((
                {"bank_id": bank_id, "hash_type": k[0], "value": k[1],
                 "value_digest": value_digest(k[1]), "note": note, "source": source,
                 "created_at": now, "updated_at": now} for k, note in wanted.items()),
                key=operator.itemgetter("hash_type", "value_digest"))
            banks.append((bank_id, entries, bind_rows(dialect, BankEntry.__table__, entries)))
        for row in rows:  # the store's own index key, where the row does not carry it
            if row.get("hash_key") is None:
                value = row["hash_value"]
                row["hash_key"] = hash_key(row["hash_type"], value) if value else None
        return PreparedWrite(now, banks, bind_rows(dialect, ReceivedRecord.__table__, rows))

    def received_write(self, prepared: PreparedWrite, updates: list[dict[str, Any]], *,
                       superseded: tuple[int, list[str]] | None = None,
                       cursor: tuple[int, str, bool] | None = None) -> int:
        """Run a prepared write, *updates*, *superseded* and *cursor* in one transaction."""
        changed = 0
        now = prepared.now
        with self.db.bulk_session() as s:  # its WAL checkpoint runs off this thread
            for bank_id, entries, bound in prepared.banks:
                if self.db.is_sqlite:
                    changed += _add_entries_sqlite(s, bank_id, entries, bound, now)
                    continue
                added = insert_bound(s, BankEntry.__table__, bound,
                                     on_conflict=("bank_id", "hash_type", "value_digest"),
                                     returning=("id", "hash_type", "value_digest"))
                ids = [r[0] for r in added]
                inserted = {(r[1], r[2]) for r in added}
                # Only a key already present (live or tombstoned) can need reviving.
                present = [(e["hash_type"], e["value"]) for e in entries
                           if (e["hash_type"], e["value_digest"]) not in inserted]
                ids += _revive(s, bank_id, present, now) if present else []
                _log_adds(s, bank_id, ids, now)
                changed += len(ids)
            if prepared.rows.values:
                insert_bound(s, ReceivedRecord.__table__, prepared.rows)
            if updates:
                _update_many(s, updates)
            if superseded and superseded[1]:
                _supersede(s, *superseded)
            if cursor is not None:
                checkpoint_set(s, *cursor)
        return changed

    def entries_add_bulk(self, bank_id: int, items: list[tuple[str, str, str | None]],
                         *, source: str) -> int:
        """Add or revive (hash_type, value, note) entries in one transaction; count changes.

        The same rows and change-log entries as every bank write: ``BankStore`` does it.
        """
        from plugin.storage.banks import BankStore, EntryInput

        return BankStore(self.db).entries_add_by_id(
            bank_id, [EntryInput(kind, value, note, source=source) for kind, value, note in items])


@dataclass
class BoundRows:
    """Rows as the driver takes them: column names and, per row, the bound values."""

    columns: list[str]
    values: list[tuple[Any, ...]]


@dataclass
class PreparedWrite:
    """``received_prepare``'s output: per bank (id, entry dicts, bound entries), and the
    bound received rows."""

    now: datetime
    banks: list[tuple[int, list[dict[str, Any]], BoundRows]]
    rows: BoundRows


def bind_rows(dialect: Any, table: Table, rows: list[dict[str, Any]]) -> BoundRows:
    """*rows* (same keys each) as the values each column type's bind processor makes of them
    (e.g. SQLite's datetime-to-text), so the stored bytes are the same as an ORM insert's."""
    if not rows:
        return BoundRows([], [])
    columns = list(rows[0])
    procs = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    get = operator.itemgetter(*columns)
    fix = [(i, p) for i, p in enumerate(procs) if p is not None]
    memo: dict[int, tuple[Any, Any]] = {}  # a page's rows share their timestamps: convert once
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(get(row)) if len(columns) > 1 else [get(row)]
        for i, process in fix:
            value = values[i]
            seen = memo.get(i)
            if seen is not None and seen[0] is value:
                values[i] = seen[1]
            else:
                values[i] = process(value)
                memo[i] = (value, values[i])
        out.append(tuple(values))
    return BoundRows(columns, out)


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]], *,
                on_conflict: tuple[str, ...] = (), returning: tuple[str, ...] = (),
                chunk: int = 2000) -> list[Any]:
    """INSERT *rows* (same keys each) as multi-row VALUES statements, on any dialect.

    What SQLAlchemy's "insertmanyvalues" does, without its per-row bookkeeping (a third of a
    cold sync's time went there): ``bind_rows``, then ``insert_bound``.
    """
    bound = bind_rows(session.connection().dialect, table, rows)
    return insert_bound(session, table, bound, on_conflict=on_conflict, returning=returning,
                        chunk=chunk)


def insert_bound(session: Session, table: Table, bound: BoundRows, *,
                 on_conflict: tuple[str, ...] = (), returning: tuple[str, ...] = (),
                 chunk: int = 2000) -> list[Any]:
    """INSERT bound rows as multi-row VALUES statements.

    ``ON CONFLICT (...) DO NOTHING`` and ``RETURNING`` are spelled the same by SQLite (3.35+)
    and PostgreSQL; with *returning*, those columns of the inserted rows (tuples).
    """
    if not bound.values:
        return []
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    columns = bound.columns
    mark = _mark(conn.dialect)
    group = "(" + ", ".join([mark] * len(columns)) + ")"
    head = f"INSERT INTO {table.name} (" + ", ".join(quote(c) for c in columns) + ") VALUES "
    tail = ""
    if on_conflict:
        tail += " ON CONFLICT (" + ", ".join(quote(c) for c in on_conflict) + ") DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(quote(c) for c in returning)
    # One statement per page where the driver allows: each statement gives up and retakes
    # the interpreter lock, and under a busy main thread each retake waits (bounded by the
    # 32,766 parameters SQLite 3.32+ takes, and PostgreSQL's 65,535).
    chunk = max(1, min(chunk, 30_000 // len(columns)))
    out: list[Any] = []
    for start in range(0, len(bound.values), chunk):
        part = bound.values[start:start + chunk]
        result = conn.exec_driver_sql(head + ", ".join([group] * len(part)) + tail,
                                      tuple(chain.from_iterable(part)))
        if returning:
            out.extend(tuple(r) for r in result)
    return out


def _chunks(keys: Iterable[int], size: int = 1000) -> Iterator[list[int]]:
    """Up to *size* distinct sorted ``hash_key``s at a time: the shape of every lookup
    through ``ix_fed_received_hash_key``."""
    listed = sorted(set(keys))
    for start in range(0, len(listed), size):
        yield listed[start:start + size]


def _update_many(s: Session, rows: list[dict[str, Any]]) -> None:
    t = ReceivedRecord.__table__
    s.connection().execute(
        update(t).where(t.c.id == bindparam("row_id")).values(
            state=bindparam("new_state"), bank=bindparam("new_bank"),
            category=bindparam("new_category")), rows)


def _supersede(s: Session, peer_id: int, record_ids: list[str]) -> None:
    s.execute(update(ReceivedRecord).where(
        ReceivedRecord.peer_id == peer_id, ReceivedRecord.record_id.in_(record_ids),
        ReceivedRecord.state == "active").values(state="superseded"))


def _mark(dialect: Any) -> str:
    """The driver's positional placeholder: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def _add_entries_sqlite(s: Session, bank_id: int, entries: list[dict[str, Any]],
                        bound: BoundRows, now: datetime) -> int:
    """Insert entries, revive tombstoned ones, log an "add" per change; count the changes.

    The same outcome as the RETURNING path, without returning a row per entry: pysqlite
    steps through RETURNING rows one at a time, giving up and retaking the interpreter lock
    for each, and while the sync's main thread computes each retake waits for its switch
    interval (a page's 1,000 rows took 30 ms instead of 8). SQLite has one writer at a time
    and gives each new row ``max(id) + 1``, so the rows this statement inserts are exactly
    the bank's rows above the largest id before it, and the change log is filled from them
    in SQL.
    """
    conn = s.connection()
    mark = _mark(conn.dialect)
    at = BankChange.__table__.c.at.type._cached_bind_processor(conn.dialect)
    stamp = at(now) if at else now
    before = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM bank_entries").scalar()
    insert_bound(s, BankEntry.__table__, bound,
                 on_conflict=("bank_id", "hash_type", "value_digest"))
    added = conn.exec_driver_sql(
        "INSERT INTO bank_changes (bank_id, entry_id, op, at) SELECT bank_id, id, 'add', "
        # "+bank_id": compare, never search by it; the bank's index would read every entry
        f"{mark} FROM bank_entries WHERE id > {mark} AND +bank_id = {mark}",
        (stamp, before, bank_id)).rowcount
    if added == len(entries):
        return added
    # Some keys were present already: those tombstoned come back (few rows, if any).
    present = [(e["hash_type"], e["value"]) for e in entries]
    revived = _revive(s, bank_id, present, now)
    _log_adds(s, bank_id, revived, now)
    return added + len(revived)


def _log_adds(s: Session, bank_id: int, entry_ids: list[int], now: datetime) -> None:
    """One ``bank_changes`` "add" per entry id, as ``BankStore`` logs each added entry."""
    if entry_ids:
        insert_rows(s, BankChange.__table__, [
            {"bank_id": bank_id, "entry_id": i, "op": "add", "at": now} for i in entry_ids])


def _revive(s: Session, bank_id: int, keys: list[tuple[str, str]], now: datetime) -> list[int]:
    """Clear the tombstones among these (hash_type, value) keys; their entry ids.

    Looked up by key on the unique index (one probe each); asking first whether the bank has
    any tombstone at all reads the whole bank, which per page of a cold sync is quadratic.
    """
    from plugin.storage.banks import value_digest

    t = BankEntry.__table__
    by_type: dict[str, list[str]] = {}
    for kind, value in keys:
        by_type.setdefault(kind, []).append(value_digest(value))
    ids: list[int] = []
    for kind, digests in by_type.items():
        for start in range(0, len(digests), 1000):
            ids.extend(s.scalars(select(t.c.id).where(
                t.c.bank_id == bank_id, t.c.hash_type == kind,
                t.c.value_digest.in_(digests[start:start + 1000]),
                t.c.removed_at.is_not(None))))
    if ids:
        s.execute(update(t).where(t.c.id.in_(ids)).values(
            removed_at=None, removed_by=None, removed_reason=None, updated_at=now))
    return ids


_RECEIVED_COLUMNS = ("id", "peer_id", "record_id", "type", "hash_type", "hash_value", "category",
                     "bank", "state", "expires_at")


def _received(r: ReceivedRecord) -> dict[str, Any]:
    return {"id": r.id, "peer_id": r.peer_id, "record_id": r.record_id, "type": r.type,
            "hash_type": r.hash_type, "hash_value": r.hash_value, "category": r.category,
            "bank": r.bank, "state": r.state, "expires_at": r.expires_at}
