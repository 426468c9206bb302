"""The SQLite store: schema, migrations and every read and write.

All state shared between the UI and the worker lives here. The database runs in WAL mode
with a busy timeout, so readers never block the writer. Writes go through `transaction()`
(BEGIN IMMEDIATE ... COMMIT), which either applies all of a change or none of it.
Annotations are append-only: undo and relabel add rows, they never overwrite.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

try:
    import fcntl
except ImportError:  # not on Windows: writers then queue on SQLite's busy timeout alone
    fcntl = None

from core import config
from core.settings import ProjectSettings

SCHEMA_VERSION = 6
BUSY_TIMEOUT_MS = 15_000

# Annotation actions.
LABEL, SKIP, UNDO = "label", "skip", "undo"
# Example splits: the pool the model queries, and the eval sample it never chooses from.
POOL, EVAL = "pool", "eval"
# Job kinds and states.
EMBED, HEAD, FULL, EXPORT, QUALITY = "embed", "head", "full", "export", "quality"
PREDICT = "predict"  # a version's predictions on an uploaded file (core.predict)
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# Each lane is a thread of the worker, so work of one kind never waits behind another:
# head refits take milliseconds, embedding, exports and analyses seconds, full retrains minutes.
LANES = {"fast": (HEAD,), "embed": (EMBED, EXPORT, PREDICT, QUALITY), "slow": (FULL,)}


def now() -> float:
    return time.time()


_local = threading.local()


def connect(path: Path | str | None = None) -> sqlite_utils.Database:
    """A connection for the current thread (sqlite3 connections must not be shared)."""
    path = str(path or config.db_path())
    cache = getattr(_local, "dbs", None)
    if cache is None:
        cache = _local.dbs = {}
    db = cache.get(path)
    if db is None:
        db = cache[path] = _open(path)
    return db


def _open(path: str) -> sqlite_utils.Database:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a label acknowledged is a label on disk
    conn.execute("PRAGMA foreign_keys=ON")
    conn.create_function("sieve_overlap_key", 2, overlap_key, deterministic=True)
    db = sqlite_utils.Database(conn)
    db.writer_lock_fd = _writer_lock_fd(path)
    migrate(db)
    return db


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


# ---------------------------------------------------------------- schema

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    guidelines TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT 'default',
    settings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    shortcut TEXT,
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    hash TEXT NOT NULL,
    split TEXT NOT NULL DEFAULT 'pool' CHECK (split IN ('pool', 'eval')),
    created_at REAL NOT NULL,
    UNIQUE (project_id, hash)
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    annotator TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('label', 'skip', 'undo')),
    label TEXT,
    reverts INTEGER REFERENCES annotations(id),
    seconds REAL,
    model_version_id INTEGER,
    strategy TEXT,
    score REAL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_project ON annotations(project_id, example_id);
CREATE INDEX IF NOT EXISTS annotations_reverts ON annotations(reverts);
CREATE TABLE IF NOT EXISTS leases (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    annotator TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (project_id, example_id)
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    priority INTEGER NOT NULL DEFAULT 0,
    params TEXT NOT NULL DEFAULT '{}',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    worker TEXT,
    heartbeat_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    result_version_id INTEGER,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, priority, id);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pid INTEGER,
    host TEXT,
    device TEXT,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS encoders (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    version_id INTEGER,
    path TEXT NOT NULL,
    n INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    seconds REAL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS model_versions (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('head', 'full')),
    parent_id INTEGER REFERENCES model_versions(id),
    encoder_id INTEGER NOT NULL REFERENCES encoders(id),
    params TEXT NOT NULL DEFAULT '{}',
    label_watermark INTEGER NOT NULL,
    n_labels INTEGER NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL,
    timings TEXT NOT NULL DEFAULT '{}',
    job_id INTEGER,
    created_at REAL NOT NULL,
    UNIQUE (project_id, number)
);
"""

# v2: encoders record the family that produced them, so added texts are embedded the same way.
_SCHEMA_V2 = """
ALTER TABLE encoders ADD COLUMN family TEXT NOT NULL DEFAULT 'sentence-transformers'
"""

# v3: a job's result beyond a version (an export's file); counting examples by split uses an index.
_SCHEMA_V3 = """
ALTER TABLE jobs ADD COLUMN result TEXT;
CREATE INDEX IF NOT EXISTS examples_split ON examples(project_id, split)
"""

# v4: what runs inside the label and claim transactions reads by index, never a whole table:
# an annotator's history, annotations since a watermark, a project's newest job watermark,
# an annotator's leases.
_SCHEMA_V4 = """
CREATE INDEX IF NOT EXISTS annotations_project_id ON annotations(project_id, id);
CREATE INDEX IF NOT EXISTS annotations_annotator ON annotations(project_id, annotator, id);
CREATE INDEX IF NOT EXISTS jobs_watermark ON jobs(project_id, kind, json_extract(params, '$.watermark'));
CREATE INDEX IF NOT EXISTS leases_annotator ON leases(project_id, annotator);
CREATE INDEX IF NOT EXISTS examples_shuffled ON examples(project_id, split, ((id * 2654435761) % 4294967296))
"""

# v5: pinning a version as the one served and exported (every pin and unpin kept, with who and when);
# the project's intended use, written by its admin for the model card.
_SCHEMA_V5 = """
CREATE TABLE IF NOT EXISTS version_pins (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version_id INTEGER REFERENCES model_versions(id) ON DELETE CASCADE,
    pinned_by TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS version_pins_project ON version_pins(project_id, id);
ALTER TABLE projects ADD COLUMN intended_use TEXT NOT NULL DEFAULT ''
"""

# v6: team mode. Users (argon2 hashes only), sessions (a hash of the token only), which
# projects an annotator may label, settled labels (adjudication and review, append-only: the
# newest per text is in effect) and an audit log of who changed settings, users and labels.
_SCHEMA_V6 = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'annotator')),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    retry_at REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, project_id)
);
CREATE TABLE IF NOT EXISTS adjudications (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('adjudication', 'review')),
    previous TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS adjudications_example ON adjudications(project_id, example_id, id);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
)
"""

MIGRATIONS = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4, 5: _SCHEMA_V5, 6: _SCHEMA_V6}


def migrate(db: sqlite_utils.Database) -> None:
    db.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    if (db.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0) >= max(MIGRATIONS):
        return
    with transaction(db) as conn:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version in sorted(v for v in MIGRATIONS if v > current):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


# ---------------------------------------------------------------- helpers


def _rows(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    return list(db.query(sql, params))


def _one(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> dict | None:
    rows = _rows(db, sql, params)
    return rows[0] if rows else None


def _decode(row: dict | None, *fields: str) -> dict | None:
    if row is not None:
        for field in fields:
            if isinstance(row.get(field), str):
                row[field] = json.loads(row[field])
    return row


# ---------------------------------------------------------------- projects and classes


class StoreError(ValueError):
    """A request the store refuses, with a message meant for the user."""


def create_project(conn: sqlite3.Connection, name: str, classes: list[dict], guidelines: str = "",
                   model: str = config.DEFAULT_MODEL, settings: ProjectSettings | None = None) -> int:
    """Insert a project and its classes; call inside `transaction()`."""
    name = name.strip()
    if not name:
        raise StoreError("The project needs a name.")
    if conn.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
        raise StoreError(f"A project called {name!r} already exists.")
    cur = conn.execute(
        "INSERT INTO projects (name, guidelines, model, settings, created_at) VALUES (?, ?, ?, ?, ?)",
        (name, guidelines, model or config.DEFAULT_MODEL, json.dumps((settings or ProjectSettings()).to_dict()),
         now()),
    )
    project_id = cur.lastrowid
    for position, cls in enumerate(classes):
        conn.execute(
            "INSERT INTO classes (project_id, name, shortcut, description, position) VALUES (?, ?, ?, ?, ?)",
            (project_id, cls["name"], cls.get("shortcut"), cls.get("description", ""), position),
        )
    return project_id


def _project_row(row: dict | None) -> dict | None:
    """A project row with its settings as a `ProjectSettings`."""
    if row is not None:
        row["settings"] = ProjectSettings.from_dict(json.loads(row["settings"] or "{}"))
    return row


def projects(db) -> list[dict]:
    return [_project_row(r) for r in _rows(db, "SELECT * FROM projects ORDER BY id")]


def project(db, project_id: int) -> dict | None:
    return _project_row(_one(db, "SELECT * FROM projects WHERE id = ?", (project_id,)))


def project_by_name(db, name: str) -> dict | None:
    return _project_row(_one(db, "SELECT * FROM projects WHERE name = ?", (name,)))


def settings(db, project_id: int) -> ProjectSettings:
    row = db.conn.execute("SELECT settings FROM projects WHERE id = ?", (project_id,)).fetchone()
    if row is None:
        raise StoreError("That project does not exist.")
    return ProjectSettings.from_dict(json.loads(row[0] or "{}"))


def update_settings(db, actor, project_id: int, changes: dict) -> ProjectSettings:
    """Apply only `changes` to the settings as stored now (so two people saving different
    settings do not undo each other's), check the result, and store it (admins only; audited)."""
    from core.team import auth

    actor = auth.require(db, actor, auth.SETTINGS, project_id)
    with transaction(db) as conn:
        row = conn.execute("SELECT settings FROM projects WHERE id = ?", (project_id,)).fetchone()
        if row is None:
            raise StoreError("That project does not exist.")
        before = ProjectSettings.from_dict(json.loads(row[0] or "{}"))
        updated = before.with_changes(changes)
        conn.execute("UPDATE projects SET settings = ? WHERE id = ?", (json.dumps(updated.to_dict()), project_id))
        auth.audit(conn, actor, "change settings", project_id, changes=changes)
        if updated.head != before.head and label_count(db, project_id):
            # The quick model follows its settings at once, not after the next few labels.
            enqueue(conn, project_id, HEAD, {"reason": "quick-model settings changed"}, priority=10)
    return updated


def rename_project(db, actor, project_id: int, name: str) -> None:
    from core.team import auth

    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    name = name.strip()
    if not name:
        raise StoreError("The project needs a name.")
    with transaction(db) as conn:
        if conn.execute("SELECT 1 FROM projects WHERE name = ? AND id != ?", (name, project_id)).fetchone():
            raise StoreError(f"A project called {name!r} already exists.")
        conn.execute("UPDATE projects SET name = ? WHERE id = ?", (name, project_id))
        auth.audit(conn, actor, "rename project", project_id, name=name)


def delete_project(db, actor, project_id: int) -> None:
    """Delete a project with its texts, labels, jobs and versions (its artifacts are the caller's); admins only."""
    from core.team import auth

    actor = auth.require(db, actor, auth.DELETE, project_id)
    with transaction(db) as conn:
        row = conn.execute("SELECT name FROM projects WHERE id = ?", (project_id,)).fetchone()
        auth.audit(conn, actor, "delete project", project_id, name=row[0] if row else None)
        conn.execute("DELETE FROM model_versions WHERE project_id = ?", (project_id,))  # they reference encoders
        conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))


def classes(db, project_id: int) -> list[dict]:
    return _rows(db, "SELECT * FROM classes WHERE project_id = ? ORDER BY position", (project_id,))


def class_names(db, project_id: int) -> list[str]:
    return [c["name"] for c in classes(db, project_id)]


# ---------------------------------------------------------------- examples


def insert_examples(conn: sqlite3.Connection, project_id: int, rows: list[tuple[str, str, str, str]]) -> dict[str, int]:
    """Insert (text, meta_json, hash, split) rows, skipping hashes already in the project.

    Returns hash -> example id for every row (new or existing); call inside `transaction()`.
    """
    created = now()
    conn.executemany(
        "INSERT OR IGNORE INTO examples (project_id, text, meta, hash, split, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(project_id, text, meta, digest, split, created) for text, meta, digest, split in rows],
    )
    hashes = [r[2] for r in rows]
    ids: dict[str, int] = {}
    for start in range(0, len(hashes), 900):  # SQLite's bound-parameter limit
        chunk = hashes[start:start + 900]
        marks = ",".join("?" * len(chunk))
        for example_id, digest in conn.execute(
            f"SELECT id, hash FROM examples WHERE project_id = ? AND hash IN ({marks})", (project_id, *chunk)
        ):
            ids[digest] = example_id
    return ids


def existing_hashes(db, project_id: int) -> set[str]:
    return {r[0] for r in db.conn.execute("SELECT hash FROM examples WHERE project_id = ?", (project_id,))}


def example(db, example_id: int) -> dict | None:
    return _decode(_one(db, "SELECT * FROM examples WHERE id = ?", (example_id,)), "meta")


def example_count(db, project_id: int, split: str | None = None) -> int:
    if split:
        return db.conn.execute("SELECT count(*) FROM examples WHERE project_id = ? AND split = ?",
                               (project_id, split)).fetchone()[0]
    return db.conn.execute("SELECT count(*) FROM examples WHERE project_id = ?", (project_id,)).fetchone()[0]


def unlabeled_count(db, project_id: int, split: str) -> int:
    """Texts of a split with no label in effect."""
    return db.conn.execute(
        f"""SELECT count(*) FROM examples WHERE project_id = ? AND split = ?
              AND id NOT IN (SELECT example_id FROM ({CURRENT_LABELS_SQL}))""",
        (project_id, split, project_id)).fetchone()[0]


def example_ids(db, project_id: int, split: str | None = None) -> list[int]:
    sql = "SELECT id FROM examples WHERE project_id = ?" + (" AND split = ?" if split else "") + " ORDER BY id"
    return [r[0] for r in db.conn.execute(sql, (project_id, split) if split else (project_id,))]


def texts_by_id(db, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        marks = ",".join("?" * len(chunk))
        out.update(db.conn.execute(f"SELECT id, text FROM examples WHERE id IN ({marks})", chunk).fetchall())
    return out


def search_examples(db, project_id: int, query: str, limit: int = 20) -> list[dict]:
    """Keyword search over unlabeled pool texts, for finding rare classes at cold start."""
    return _rows(
        db,
        f"""SELECT e.id, e.text FROM examples e
            WHERE e.project_id = ? AND e.split = 'pool' AND e.text LIKE ? ESCAPE '\\'
              AND e.id NOT IN (SELECT example_id FROM ({CURRENT_LABELS_SQL}))
            ORDER BY e.id LIMIT ?""",
        (project_id, "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", project_id, limit),
    )


# ---------------------------------------------------------------- annotations

# The effective label of an example: its latest 'label' annotation that no 'undo' reverted.
CURRENT_LABELS_SQL = """
    SELECT example_id, label, annotation_id, annotator, created_at FROM (
        SELECT a.example_id, a.label, a.id AS annotation_id, a.annotator, a.created_at,
               ROW_NUMBER() OVER (PARTITION BY a.example_id ORDER BY a.id DESC) AS rn
        FROM annotations a
        WHERE a.project_id = ? AND a.action = 'label'
          AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
    ) WHERE rn = 1
"""


def add_annotation(conn: sqlite3.Connection, project_id: int, example_id: int, annotator: str, action: str,
                   label: str | None = None, reverts: int | None = None, seconds: float | None = None,
                   model_version_id: int | None = None, strategy: str | None = None,
                   score: float | None = None) -> int:
    """Append one annotation row; call inside `transaction()`."""
    cur = conn.execute(
        """INSERT INTO annotations (project_id, example_id, annotator, action, label, reverts, seconds,
                                    model_version_id, strategy, score, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (project_id, example_id, annotator, action, label, reverts, seconds, model_version_id, strategy, score, now()),
    )
    return cur.lastrowid


def current_labels(db, project_id: int, split: str | None = None) -> list[dict]:
    """Every labeled example with its effective label, ordered by example id."""
    sql = f"SELECT c.*, e.split FROM ({CURRENT_LABELS_SQL}) c JOIN examples e ON e.id = c.example_id"
    params: tuple = (project_id,)
    if split:
        sql += " WHERE e.split = ?"
        params += (split,)
    return _rows(db, sql + " ORDER BY c.example_id", params)


def label_count(db, project_id: int) -> int:
    return db.conn.execute(f"SELECT count(*) FROM ({CURRENT_LABELS_SQL})", (project_id,)).fetchone()[0]


def max_annotation_id(db, project_id: int) -> int:
    return db.conn.execute("SELECT coalesce(max(id), 0) FROM annotations WHERE project_id = ?",
                           (project_id,)).fetchone()[0]


def labels_since(db, project_id: int, watermark: int, at_most: int | None = None) -> int:
    """Label annotations added after `watermark` (an annotation id) that are still in effect.

    Same count as CURRENT_LABELS_SQL's rows newer than the watermark, but it reads only the
    annotations after it (index on (project_id, id)), and stops at `at_most` when given, so
    the label transaction that asks "are there `every` new labels yet?" stays short.
    """
    return db.conn.execute(
        """SELECT count(*) FROM (
               SELECT 1 FROM annotations a
               WHERE a.project_id = ? AND a.id > ? AND a.action = 'label'
                 AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
                 AND NOT EXISTS (SELECT 1 FROM annotations b WHERE b.project_id = a.project_id
                                   AND b.example_id = a.example_id AND b.action = 'label' AND b.id > a.id
                                   AND NOT EXISTS (SELECT 1 FROM annotations v WHERE v.reverts = b.id))
               LIMIT ?)""",
        (project_id, watermark, -1 if at_most is None else at_most),
    ).fetchone()[0]


def last_undoable(db, project_id: int, annotator: str) -> dict | None:
    """The annotator's latest label or skip that has not been undone (index on (project_id, annotator, id))."""
    return _one(
        db,
        """SELECT * FROM annotations a WHERE a.project_id = ? AND a.annotator = ? AND a.action IN ('label', 'skip')
             AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
           ORDER BY a.id DESC LIMIT 1""",
        (project_id, annotator),
    )


def annotations(db, project_id: int) -> list[dict]:
    return _rows(db, "SELECT * FROM annotations WHERE project_id = ? ORDER BY id", (project_id,))


IMPORTED = "import"  # the annotator name of labels that came with an uploaded file


def overlap_key(project_id: int, example_id: int) -> float:
    """A fixed pseudo-random number in [0, 1) per text: the text goes to a second annotator for
    agreement when it is below the project's overlap share. A hash, so the choice is stable,
    independent of the model's queue order, and needs no stored state (SQL: sieve_overlap_key)."""
    digest = hashlib.blake2b(f"{project_id}:{example_id}".encode(), digest_size=8, person=b"sieve-ov").digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def overlap_chosen(project_id: int, example_id: int, overlap_percent: float) -> bool:
    return overlap_key(project_id, example_id) < overlap_percent / 100.0


def label_holders(conn: sqlite3.Connection, project_id: int, example_id: int) -> set[str]:
    """The annotators who have a label of this example in effect."""
    return {r[0] for r in conn.execute(
        """SELECT annotator FROM annotations a INDEXED BY annotations_project WHERE a.project_id = ? AND a.example_id = ?
             AND a.action = 'label' AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)""",
        (project_id, example_id))}


def second_label_open(project_id: int, example_id: int, holders: set[str], annotator: str,
                      overlap_percent: float) -> bool:
    """Whether `annotator` may (still) label a text these annotators have labeled: nobody else
    has, or it is a text chosen for overlap and exactly one other annotator (not an import) has."""
    others = holders - {annotator}
    if not others:
        return True
    return (len(others) == 1 and IMPORTED not in others and annotator not in holders
            and overlap_chosen(project_id, example_id, overlap_percent))


def waiting_for_second_label(db, project_id: int, annotator: str, split: str, overlap_percent: float,
                             limit: int = 200) -> list[int]:
    """Texts chosen for overlap that one other annotator labeled and that wait for a second label,
    the longest-waiting first (read outside the claim transaction; the claim checks again)."""
    if overlap_percent <= 0:
        return []
    rows = db.conn.execute(
        """SELECT a.example_id FROM annotations a JOIN examples e ON e.id = a.example_id
           WHERE a.project_id = ? AND a.action = 'label' AND e.split = ?
             AND sieve_overlap_key(a.project_id, a.example_id) < ?
             AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
           GROUP BY a.example_id
           HAVING count(DISTINCT a.annotator) = 1 AND min(a.annotator) NOT IN (?, ?)
           ORDER BY min(a.id) LIMIT ?""",
        (project_id, split, overlap_percent / 100.0, annotator, IMPORTED, limit))
    return [r[0] for r in rows]


def lease_holder(conn: sqlite3.Connection, project_id: int, example_id: int) -> str | None:
    """Who holds a live (unexpired) lease on this example, None if nobody."""
    row = conn.execute("SELECT annotator FROM leases WHERE project_id = ? AND example_id = ? AND expires_at > ?",
                       (project_id, example_id, now())).fetchone()
    return row[0] if row else None


def unavailable(conn: sqlite3.Connection, project_id: int, annotator: str, example_ids: list[int],
                overlap_percent: float = 0.0) -> set[int]:
    """Of these examples (at most ~400), those this annotator may not be given: leased live to
    someone else, labeled by them, or labeled by someone else (unless `second_label_open`).

    Point look-ups by index, so a claim inside the write transaction costs well under a millisecond.
    """
    marks = ",".join("?" * len(example_ids))
    holders: dict[int, set[str]] = {}
    for example_id, holder in conn.execute(
            f"""SELECT a.example_id, a.annotator FROM annotations a INDEXED BY annotations_project
                WHERE a.project_id = ? AND a.example_id IN ({marks}) AND a.action = 'label'
                  AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)""",
            (project_id, *example_ids)):
        holders.setdefault(example_id, set()).add(holder)
    taken = {i for i, names in holders.items()
             if annotator in names or not second_label_open(project_id, i, names, annotator, overlap_percent)}
    taken.update(r[0] for r in conn.execute(
        f"""SELECT example_id FROM leases
            WHERE project_id = ? AND example_id IN ({marks}) AND annotator != ? AND expires_at > ?""",
        (project_id, *example_ids, annotator, now())))
    return taken


def skipped_by(conn: sqlite3.Connection, project_id: int, annotator: str, split: str) -> list[int]:
    """Examples of this split the annotator skipped (skip not undone), the longest-ago skip first."""
    rows = conn.execute(
        # Read the annotator's own rows (by index), not every annotation of the project: without
        # statistics the planner prefers annotations_project for the GROUP BY.
        """SELECT a.example_id, max(a.id) AS last_skip
           FROM annotations a INDEXED BY annotations_annotator CROSS JOIN examples e ON e.id = a.example_id
           WHERE a.project_id = ? AND a.annotator = ? AND a.action = 'skip' AND e.split = ?
             AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
           GROUP BY a.example_id ORDER BY last_skip""",
        (project_id, annotator, split),
    )
    return [r[0] for r in rows]


# A fixed shuffled order of a project's texts (a bijection of the id, so keys are unique), for
# texts no queue covers; the expression index examples_shuffled reads it in order from any point.
SHUFFLE_KEY = "((id * 2654435761) % 4294967296)"


def shuffled_examples(conn: sqlite3.Connection, project_id: int, split: str, from_key: int, to_key: int,
                      limit: int) -> list[tuple[int, int]]:
    """(example id, shuffle key) with from_key <= key < to_key, in shuffled order, at most `limit`."""
    return conn.execute(
        f"""SELECT id, {SHUFFLE_KEY} FROM examples WHERE project_id = ? AND split = ?
              AND {SHUFFLE_KEY} >= ? AND {SHUFFLE_KEY} < ? ORDER BY {SHUFFLE_KEY} LIMIT ?""",
        (project_id, split, from_key, to_key, limit)).fetchall()


def own_lease(conn: sqlite3.Connection, project_id: int, annotator: str, split: str) -> int | None:
    """The unlabeled text of this split the annotator holds a live lease on (shown, not yet answered)."""
    row = conn.execute(
        """SELECT l.example_id FROM leases l JOIN examples e ON e.id = l.example_id
           WHERE l.project_id = ? AND l.annotator = ? AND l.expires_at > ? AND e.split = ?
             AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.project_id = l.project_id
                               AND a.example_id = l.example_id AND a.action = 'label' AND a.annotator = l.annotator
                               AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id))
           LIMIT 1""", (project_id, annotator, now(), split)).fetchone()
    return row[0] if row else None


def lease(conn: sqlite3.Connection, project_id: int, example_id: int, annotator: str, seconds: float) -> bool:
    """Lease an example to an annotator; True if it is now theirs.

    A live lease of someone else is never taken over (they are reading the text); an expired
    one is, and the annotator's own lease is renewed. Call inside `transaction()`.
    """
    t = now()
    cur = conn.execute(
        """INSERT INTO leases (project_id, example_id, annotator, expires_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (project_id, example_id) DO UPDATE SET annotator = excluded.annotator,
               expires_at = excluded.expires_at
           WHERE leases.annotator = excluded.annotator OR leases.expires_at <= ?""",
        (project_id, example_id, annotator, t + seconds, t),
    )
    return cur.rowcount > 0


def release_leases(conn: sqlite3.Connection, project_id: int, annotator: str) -> None:
    conn.execute("DELETE FROM leases WHERE project_id = ? AND annotator = ?", (project_id, annotator))


# ---------------------------------------------------------------- jobs


def enqueue(conn: sqlite3.Connection, project_id: int, kind: str, params: dict | None = None,
            priority: int = 0) -> int:
    cur = conn.execute(
        "INSERT INTO jobs (project_id, kind, params, priority, created_at) VALUES (?, ?, ?, ?, ?)",
        (project_id, kind, json.dumps(params or {}), priority, now()),
    )
    return cur.lastrowid


def claim_job(db, worker_id: str, kinds: tuple[str, ...]) -> dict | None:
    """Atomically move the next runnable queued job of these kinds to 'running'.

    A head refit waits while its project still has embedding work pending, because it
    needs the pool's embeddings.
    """
    marks = ",".join("?" * len(kinds))
    t = now()
    with transaction(db) as conn:
        row = conn.execute(
            f"""SELECT id FROM jobs j WHERE status = 'queued' AND kind IN ({marks})
                  AND NOT (kind = 'head' AND EXISTS (
                      SELECT 1 FROM jobs e WHERE e.project_id = j.project_id AND e.kind = 'embed'
                        AND e.status IN ('queued', 'running')))
                ORDER BY priority DESC, id LIMIT 1""",
            kinds,
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            """UPDATE jobs SET status = 'running', worker = ?, heartbeat_at = ?, started_at = ?,
                   attempts = attempts + 1, progress = 0, message = 'started' WHERE id = ?""",
            (worker_id, t, t, row[0]),
        )
    return job(db, row[0])


def job(db, job_id: int) -> dict | None:
    return _decode(_one(db, "SELECT * FROM jobs WHERE id = ?", (job_id,)), "params", "result")


def jobs(db, project_id: int, limit: int = 50) -> list[dict]:
    return [_decode(r, "params", "result") for r in
            _rows(db, "SELECT * FROM jobs WHERE project_id = ? ORDER BY id DESC LIMIT ?", (project_id, limit))]


def has_active_job(db, project_id: int, kind: str, statuses: tuple[str, ...] = (QUEUED, RUNNING)) -> bool:
    """Whether a job of this kind is in one of `statuses` for the project (by index, for the label transaction)."""
    marks = ",".join("?" * len(statuses))
    return db.conn.execute(
        f"SELECT 1 FROM jobs WHERE project_id = ? AND kind = ? AND status IN ({marks}) LIMIT 1",
        (project_id, kind, *statuses)).fetchone() is not None


def active_jobs(db, project_id: int) -> list[dict]:
    return [_decode(r, "params", "result") for r in _rows(
        db, "SELECT * FROM jobs WHERE project_id = ? AND status IN ('queued', 'running') ORDER BY id", (project_id,))]


def job_progress(db, job_id: int, progress: float, message: str) -> None:
    with transaction(db) as conn:
        conn.execute("UPDATE jobs SET progress = ?, message = ?, heartbeat_at = ? WHERE id = ? AND status = 'running'",
                     (progress, message, now(), job_id))


def heartbeat_jobs(db, worker_id: str) -> None:
    with transaction(db) as conn:
        conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE worker = ? AND status = 'running'", (now(), worker_id))


def finish_job(conn: sqlite3.Connection, job_id: int, version_id: int | None = None, message: str = "done",
               result: dict | None = None) -> None:
    conn.execute(
        """UPDATE jobs SET status = 'done', progress = 1, message = ?, finished_at = ?, result_version_id = ?,
               result = ? WHERE id = ?""",
        (message, now(), version_id, json.dumps(result) if result is not None else None, job_id),
    )


def fail_job(db, job_id: int, error: str) -> None:
    """Retry a failed job until MAX_ATTEMPTS, then leave it failed with its error for the UI."""
    reason = error.strip().splitlines()[-1][:200] if error and error.strip() else "unknown error"
    with transaction(db) as conn:
        attempts = conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        status = FAILED if attempts >= config.MAX_ATTEMPTS else QUEUED
        conn.execute("UPDATE jobs SET status = ?, worker = NULL, error = ?, message = ?, finished_at = ? WHERE id = ?",
                     (status, error, attempt_message(attempts, reason), now(), job_id))


def attempt_message(attempts: int, reason: str) -> str:
    """What a failed attempt means for the job, in words that stay true: retried, or given up."""
    if attempts >= config.MAX_ATTEMPTS:
        return f"failed after {attempts} attempts: {reason}"
    return f"attempt {attempts} of {config.MAX_ATTEMPTS} failed, retrying: {reason}"


WORKER_DIED = "the worker stopped responding"


def requeue_stale_jobs(db, stale_after_s: float | None = None) -> list[int]:
    """Put 'running' jobs whose heartbeat stopped (their worker died) back in the queue, or fail
    them for good after MAX_ATTEMPTS; each message says which."""
    cutoff = now() - (stale_after_s if stale_after_s is not None else config.STALE_AFTER_S)
    with transaction(db) as conn:
        stale = conn.execute(
            "SELECT id, attempts FROM jobs WHERE status = 'running' AND coalesce(heartbeat_at, 0) < ?",
            (cutoff,)).fetchall()
        for job_id, attempts in stale:
            _hand_back(conn, job_id, attempts)
    return [job_id for job_id, _ in stale]


def _hand_back(conn: sqlite3.Connection, job_id: int, attempts: int) -> None:
    """A job whose worker died: queued again with its attempt counted, or failed after the last one."""
    failed = attempts >= config.MAX_ATTEMPTS
    message = (attempt_message(attempts, WORKER_DIED) if failed
               else f"{WORKER_DIED}; re-queued (attempt {attempts} of {config.MAX_ATTEMPTS})")
    conn.execute("""UPDATE jobs SET status = ?, worker = NULL, message = ?, finished_at = ?,
                        error = coalesce(error, 'worker heartbeat went stale') WHERE id = ?""",
                 (FAILED if failed else QUEUED, message, now() if failed else None, job_id))


def requeue_worker_jobs(db, worker_id: str) -> None:
    """A worker shutting down hands its running jobs back at once instead of waiting to go stale;
    being stopped is not the job's failure, so the attempt is not counted."""
    with transaction(db) as conn:
        conn.execute("""UPDATE jobs SET status = 'queued', worker = NULL, attempts = max(attempts - 1, 0),
                            message = 'the worker was stopped; re-queued'
                        WHERE worker = ? AND status = 'running'""", (worker_id,))


def unresolved_failures(db, project_id: int) -> list[dict]:
    """Failed jobs of the project, newest first, that no later job of the same kind has made good:
    a failed retrain stays in view however many head refits ran after it."""
    return [_decode(r, "params", "result") for r in _rows(db, """
        SELECT * FROM jobs f WHERE f.project_id = ? AND f.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM jobs d WHERE d.project_id = f.project_id AND d.kind = f.kind
                            AND d.status = 'done' AND d.id > f.id)
        ORDER BY f.id DESC""", (project_id,))]


# ---------------------------------------------------------------- workers


def worker_heartbeat(db, worker_id: str, pid: int, host: str, device: str) -> None:
    t = now()
    with transaction(db) as conn:
        conn.execute(
            """INSERT INTO workers (id, pid, host, device, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at""",
            (worker_id, pid, host, device, t, t),
        )


def live_workers(db, stale_after_s: float | None = None) -> list[dict]:
    cutoff = now() - (stale_after_s if stale_after_s is not None else config.STALE_AFTER_S)
    return _rows(db, "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY heartbeat_at DESC", (cutoff,))


def worker_device(db) -> str | None:
    """The device the live worker trains on ('cuda' if any live worker has one), None without a worker.

    The UI asks the store, never torch: the worker may run on another host, and the UI
    process must not load ML libraries."""
    devices = {w["device"] for w in live_workers(db)}
    return "cuda" if "cuda" in devices else next(iter(devices), None)


def db_workers(db) -> list[dict]:
    """Every worker row, live or not."""
    return _rows(db, "SELECT * FROM workers ORDER BY started_at")


def reap_worker(db, worker_id: str) -> None:
    """A worker found dead: its running jobs are handed back (the attempt counts) and its row goes."""
    with transaction(db) as conn:
        for job_id, attempts in conn.execute("SELECT id, attempts FROM jobs WHERE worker = ? AND status = 'running'",
                                             (worker_id,)).fetchall():
            _hand_back(conn, job_id, attempts)
        conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))


def remove_worker(db, worker_id: str) -> None:
    with transaction(db) as conn:
        conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))


# ---------------------------------------------------------------- encoders and versions


def add_encoder(conn: sqlite3.Connection, project_id: int, model: str, path: str, n: int, dim: int,
                seconds: float, family: str, version_id: int | None = None) -> int:
    """`model` is what re-embeds added texts: a model name or the path of a fine-tuned model;
    `family` the kind of encoder it is (`classifiers.encoder_family`)."""
    cur = conn.execute(
        """INSERT INTO encoders (project_id, model, version_id, path, n, dim, seconds, created_at, family)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (project_id, model, version_id, path, n, dim, seconds, now(), family),
    )
    return cur.lastrowid


def latest_encoder(db, project_id: int) -> dict | None:
    return _one(db, "SELECT * FROM encoders WHERE project_id = ? ORDER BY id DESC LIMIT 1", (project_id,))


def encoder(db, encoder_id: int) -> dict | None:
    return _one(db, "SELECT * FROM encoders WHERE id = ?", (encoder_id,))


def publish_version(conn: sqlite3.Connection, project_id: int, kind: str, encoder_id: int, path: str,
                    label_watermark: int, n_labels: int, metrics: dict, params: dict, timings: dict,
                    parent_id: int | None = None, job_id: int | None = None) -> int:
    """Insert a model version row; its artifacts must already be in place at `path`."""
    number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM model_versions WHERE project_id = ?",
                          (project_id,)).fetchone()[0]
    cur = conn.execute(
        """INSERT INTO model_versions (project_id, number, kind, parent_id, encoder_id, params, label_watermark,
                                       n_labels, metrics, path, timings, job_id, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (project_id, number, kind, parent_id, encoder_id, json.dumps(params), label_watermark, n_labels,
         json.dumps(metrics), path, json.dumps(timings), job_id, now()),
    )
    return cur.lastrowid


def update_timing(db, version_id: int, key: str, seconds: float) -> None:
    with transaction(db) as conn:
        conn.execute("UPDATE model_versions SET timings = json_set(timings, '$.' || ?, ?) WHERE id = ?",
                     (key, seconds, version_id))


def versions(db, project_id: int) -> list[dict]:
    return [_decode(r, "params", "metrics", "timings") for r in
            _rows(db, "SELECT * FROM model_versions WHERE project_id = ? ORDER BY number", (project_id,))]


def latest_version(db, project_id: int, kind: str | None = None) -> dict | None:
    sql = "SELECT * FROM model_versions WHERE project_id = ?" + (" AND kind = ?" if kind else "")
    params: tuple[Any, ...] = (project_id, kind) if kind else (project_id,)
    return _decode(_one(db, sql + " ORDER BY number DESC LIMIT 1", params), "params", "metrics", "timings")


def current_version(db, project_id: int) -> dict | None:
    """The version served to annotators and exported: the pinned one while a pin holds (see
    `pin`), else the one trained on the newest labels, the newest of those. A full retrain that
    finishes after labels moved on therefore never replaces a head refitted on more labels (its
    own head refit on all labels follows it). A version whose `params.serving.served` is false is
    never served unpinned: a full retrain's own version, and whichever of the two heads the
    comparison after a retrain found worse (`core.learning.comparison`)."""
    pinned = pin(db, project_id)
    if pinned is not None:
        return version(db, pinned["version_id"])
    return _decode(_one(db, """SELECT * FROM model_versions WHERE project_id = ?
                                 AND coalesce(json_extract(params, '$.serving.served'), 1) != 0
                               ORDER BY label_watermark DESC, number DESC LIMIT 1""", (project_id,)),
                   "params", "metrics", "timings")


def version(db, version_id: int) -> dict | None:
    return _decode(_one(db, "SELECT * FROM model_versions WHERE id = ?", (version_id,)),
                   "params", "metrics", "timings")


# ---------------------------------------------------------------- pins and intended use


def set_pin(conn: sqlite3.Connection, project_id: int, version_id: int | None, by: str) -> int:
    """Record a pin (`version_id`) or an unpin (None); the latest row holds. Call inside `transaction()`."""
    return conn.execute("INSERT INTO version_pins (project_id, version_id, pinned_by, created_at) VALUES (?, ?, ?, ?)",
                        (project_id, version_id, by, now())).lastrowid


def pin(db, project_id: int) -> dict | None:
    """The pin in force ({version_id, number, pinned_by, created_at}), or None when the newest version is served."""
    return _one(db, """SELECT p.version_id, v.number, p.pinned_by, p.created_at FROM version_pins p
                       JOIN model_versions v ON v.id = p.version_id
                       WHERE p.id = (SELECT max(id) FROM version_pins WHERE project_id = ?)""", (project_id,))


def pin_history(db, project_id: int) -> list[dict]:
    """Every pin and unpin, newest first ({version_id or None, number or None, pinned_by, created_at})."""
    return _rows(db, """SELECT p.version_id, v.number, p.pinned_by, p.created_at FROM version_pins p
                        LEFT JOIN model_versions v ON v.id = p.version_id
                        WHERE p.project_id = ? ORDER BY p.id DESC""", (project_id,))


def set_intended_use(db, actor, project_id: int, text: str) -> None:
    """The intended use the model card states (admins only; audited)."""
    from core.team import auth

    actor = auth.require(db, actor, auth.SETTINGS, project_id)
    with transaction(db) as conn:
        conn.execute("UPDATE projects SET intended_use = ? WHERE id = ?", (text.strip(), project_id))
        auth.audit(conn, actor, "change intended use", project_id)


def labels_at(db, project_id: int, watermark: int, split: str | None = None) -> list[dict]:
    """The labels in effect when annotation `watermark` was the newest: what a version with that
    label watermark saw ({example_id, label}, ordered by example id)."""
    sql = """SELECT example_id, label FROM (
                 SELECT a.example_id, a.label, ROW_NUMBER() OVER (PARTITION BY a.example_id ORDER BY a.id DESC) AS rn
                 FROM annotations a
                 WHERE a.project_id = ? AND a.action = 'label' AND a.id <= ?
                   AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id AND u.id <= ?)
             ) c WHERE rn = 1"""
    params: tuple = (project_id, watermark, watermark)
    if split:
        sql += " AND example_id IN (SELECT id FROM examples WHERE project_id = ? AND split = ?)"
        params += (project_id, split)
    return _rows(db, sql + " ORDER BY example_id", params)
