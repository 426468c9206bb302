"""Texts of a project: insert, count, look up, search."""
from __future__ import annotations

import sqlite3

from core.store.db import _decode, _one, _rows, now
from core.store.enums import Split
from core.store.labels import CURRENT_LABELS_SQL

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
            WHERE e.project_id = ? AND e.split = '{Split.POOL}' AND e.text LIKE ? ESCAPE '\\'
              AND e.id NOT IN (SELECT example_id FROM ({CURRENT_LABELS_SQL}))
            ORDER BY e.id LIMIT ?""",
        (project_id, "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", project_id, limit),
    )


def example_project(db, example_id: int) -> int | None:
    """The project a text belongs to, None when there is no such text."""
    row = db.conn.execute("SELECT project_id FROM examples WHERE id = ?", (example_id,)).fetchone()
    return row[0] if row else None
