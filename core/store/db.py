"""Connections, transactions, the writer lock, the migration runner and row helpers.

The database runs in WAL mode with a busy timeout, so readers never block the writer. Writes
go through `transaction()` (BEGIN IMMEDIATE ... COMMIT), which either applies all of a change
or none of it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

try:
    import fcntl
except ImportError:  # not on Windows: writers then queue on SQLite's busy timeout alone
    fcntl = None

from core import config
from core.store import schema

BUSY_TIMEOUT_MS = 15_000


class StoreError(ValueError):
    """A request the store refuses, with a message meant for the user."""


def overlap_key(project_id: int, example_id: int) -> float:
    """A fixed pseudo-random number in [0, 1) per text: the text goes to a second annotator for
    agreement when it is below the project's overlap share. A hash, so the choice is stable,
    independent of the model's queue order, and needs no stored state (SQL: sieve_overlap_key)."""
    digest = hashlib.blake2b(f"{project_id}:{example_id}".encode(), digest_size=8, person=b"sieve-ov").digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def eval_order_key(project_id: int, example_id: int) -> float:
    """A fixed pseudo-random number in [0, 1) per text: eval texts are served in ascending order of
    it (issue 20). A keyed hash of the ids alone, so the order is a uniform shuffle that no text's
    length, position in the file, lease history or the model can influence, and the eval labels
    given so far are always (up to skips and texts others hold) the first ones of that shuffle:
    a simple random sample of the eval sample, at any point."""
    digest = hashlib.blake2b(f"{project_id}:{example_id}".encode(), digest_size=8, person=b"sieve-ev").digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def now() -> float:
    return time.time()


_local = threading.local()


def connect(path: Path | str | None = None) -> "Database":
    """A connection for the current thread (sqlite3 connections must not be shared)."""
    path = str(path or config.db_path())
    cache = getattr(_local, "dbs", None)
    if cache is None:
        cache = _local.dbs = {}
    db = cache.get(path)
    if db is None:
        db = cache[path] = _open(path)
    return db


class Database(sqlite_utils.Database):
    """A store handle. Used in the thread that opened it, it is that thread's connection; used in
    any other thread, it is *that* thread's connection (`connect(path)` there).

    Why: Streamlit runs each rerun in a new thread, and with fast reruns (its default) the next
    rerun starts while the one it stopped still runs. A page's callbacks are closures over the
    `db` of the run that drew them, and the next run calls them: with one connection shared by
    two threads, a BEGIN IMMEDIATE inside the other's transaction failed ("cannot start a
    transaction within a transaction", issue 19 item 2), and the writer lock, one flock on one
    descriptor, did not keep them apart. A connection and its lock descriptor are now only ever
    used by the thread that opened them."""

    def __init__(self, conn: sqlite3.Connection, path: str, lock_fd: int | None):
        self._path, self._owner, self._own_conn, self._own_lock_fd = path, threading.current_thread(), conn, lock_fd
        super().__init__(conn)

    def _here(self) -> "Database":
        """This thread's handle on the same database."""
        if threading.current_thread() is self._owner or self._path == ":memory:":
            return self
        return connect(self._path)

    @property
    def conn(self) -> sqlite3.Connection:
        here = self._here()
        return here._own_conn

    @conn.setter
    def conn(self, value: sqlite3.Connection) -> None:  # sqlite_utils.Database.__init__ sets it
        self._own_conn = value

    @property
    def writer_lock_fd(self) -> int | None:
        return self._here()._own_lock_fd


def _open(path: str) -> Database:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    handles = _Handles(conn, None)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a label acknowledged is a label on disk
        conn.execute("PRAGMA foreign_keys=ON")
        conn.create_function("sieve_overlap_key", 2, overlap_key, deterministic=True)
        handles.lock_fd = _writer_lock_fd(path)
        db = Database(conn, path, handles.lock_fd)
        # Both close when the Database goes away: with its thread (Streamlit runs each rerun in a
        # new one) or with disconnect(). Without this every thread left a descriptor open.
        db.sieve_handles = weakref.finalize(db, handles.close)
        migrate(db)
    except BaseException:
        handles.close()
        raise
    return db


class _Handles:
    """What one Database holds open: its sqlite connection and its own `<database>.writer-lock` descriptor.

    Each connection has its own descriptor, never a shared one: an flock belongs to the open
    file description, so two threads locking one descriptor would not exclude each other.
    """

    def __init__(self, conn: sqlite3.Connection, lock_fd: int | None):
        self.conn, self.lock_fd = conn, lock_fd

    def close(self) -> None:
        conn, fd, self.conn, self.lock_fd = self.conn, self.lock_fd, None, None
        try:
            if conn is not None:
                conn.close()
        finally:
            if fd is not None:
                os.close(fd)


def disconnect(path: Path | str | None = None) -> None:
    """Close the current thread's connection to this database now (the next connect() opens a new one)."""
    path = str(path or config.db_path())
    db = getattr(_local, "dbs", {}).pop(path, None)
    if db is not None:
        db.sieve_handles()


def _writer_lock_fd(path: str) -> int | None:
    """A file descriptor of `<database>.writer-lock`, which `transaction()` locks while it writes.

    Why: SQLite's busy handler makes a waiting writer sleep and poll with growing sleeps (up
    to 100 ms each), so under load a writer can lose the race again and again: with 20
    annotators some waited seconds, and one hit the busy timeout. A waiter on flock sleeps
    in the kernel and wakes as soon as the lock is free. The kernel drops the lock when its
    holder exits, even on kill -9, so a dead process never blocks the others.
    """
    if fcntl is None or path == ":memory:" or path.startswith("file:"):
        return None
    return os.open(path + ".writer-lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def _writer_turn(db: sqlite_utils.Database) -> Iterator[None]:
    fd = getattr(db, "writer_lock_fd", None)
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, all or nothing; Sieve's writers take turns on the writer lock first.

    Keep the work inside short: every other writer (annotators, the worker) waits for it.
    Read what can be read before it.
    """
    db = db._here() if isinstance(db, Database) else db  # this thread's connection and lock, both
    conn = db.conn
    with _writer_turn(db):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # also when COMMIT itself failed: nothing of it stays
                conn.execute("ROLLBACK")
            raise


# ---------------------------------------------------------------- migrations


def schema_version(db: sqlite_utils.Database) -> int:
    db.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    return db.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0


def migrate(db: sqlite_utils.Database) -> None:
    """Bring the database to `schema.SCHEMA_VERSION`: every missing version's statements, one by
    one, and its row in `schema_version`, all in one transaction (a failure leaves no half of it).

    A version that rebuilds tables (`schema.NO_FOREIGN_KEYS`) runs with foreign keys off for this
    connection (the pragma is a no-op inside a transaction, so it is set before), else dropping a
    parent table would cascade into its children; `foreign_key_check` must find nothing before it
    commits."""
    if schema_version(db) >= schema.SCHEMA_VERSION:
        return
    conn = db.conn
    rebuilds = any(v in schema.NO_FOREIGN_KEYS for v in schema.MIGRATIONS if v > schema_version(db))
    if rebuilds:
        conn.execute("PRAGMA foreign_keys=OFF")
    try:
        with transaction(db) as conn:
            current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            for version in sorted(v for v in schema.MIGRATIONS if v > current):
                for statement in schema.MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            if rebuilds and (broken := conn.execute("PRAGMA foreign_key_check").fetchall()):
                raise sqlite3.IntegrityError(f"the migration would break foreign keys: {broken[:5]}")
    finally:
        if rebuilds:
            conn.execute("PRAGMA foreign_keys=ON")


# ---------------------------------------------------------------- helpers


def _rows(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    """The rows of a read as dicts. A plain execute: no savepoint around it (sqlite_utils' query
    adds one), so a read costs one statement, also inside the label transaction."""
    cursor = db.conn.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _one(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> dict | None:
    rows = _rows(db, sql, params)
    return rows[0] if rows else None


def _decode(row: dict | None, *fields: str) -> dict | None:
    if row is not None:
        for field in fields:
            if isinstance(row.get(field), str):
                row[field] = json.loads(row[field])
    return row


