"""Annotations (append-only: undo and relabel add rows, they never overwrite) and the label in effect.

The label in effect of a text is its newest 'label' annotation that no 'undo' reverted; per
annotator, that annotator's newest such label. The rule is written once, in `not_undone`,
`in_effect` and `labels_in_effect`; every query here and in `leases` builds on them, so the
statements keep the shape the covering indexes serve (annotations_project, annotations_reverts,
annotations_project_id, annotations_annotator).
"""
from __future__ import annotations

import sqlite3

from core.store.db import _one, _rows, now
from core.store.enums import Action

IMPORTED = "import"  # the annotator name of labels that came with an uploaded file


# ---------------------------------------------------------------- the rule


def not_undone(a: str = "a", as_of: str | None = None) -> str:
    """SQL condition: no 'undo' reverted annotation `a` (counting only undos up to the
    annotation id `as_of`, an SQL expression such as '?', when given)."""
    upto = f" AND u.id <= {as_of}" if as_of else ""
    return f"NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = {a}.id{upto})"


def in_effect(a: str = "a", as_of: str | None = None) -> str:
    """SQL condition: annotation `a` is a label that no undo reverted (as of annotation `as_of`)."""
    return f"{a}.action = '{Action.LABEL}' AND {not_undone(a, as_of)}"


def labels_in_effect(per_annotator: bool = False, as_of: str | None = None) -> str:
    """SELECT of the label in effect per text (or per text and annotator), as of annotation
    `as_of` when given: (example_id, label, annotation_id, annotator, seconds, created_at).
    Its one parameter is the project id, then `as_of`'s twice when that is '?'."""
    partition = "a.example_id, a.annotator" if per_annotator else "a.example_id"
    upto = f" AND a.id <= {as_of}" if as_of else ""
    return f"""
    SELECT example_id, label, annotation_id, annotator, seconds, created_at FROM (
        SELECT a.example_id, a.label, a.id AS annotation_id, a.annotator, a.seconds, a.created_at,
               ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY a.id DESC) AS rn
        FROM annotations a
        WHERE a.project_id = ?{upto} AND {in_effect("a", as_of)}
    ) WHERE rn = 1
"""


CURRENT_LABELS_SQL = labels_in_effect()  # per text; one parameter, the project id


# ---------------------------------------------------------------- annotations


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
    return [_without_seconds(r) for r in _rows(db, sql + " ORDER BY c.example_id", params)]


def _without_seconds(row: dict) -> dict:
    row.pop("seconds", None)
    return row


def annotator_labels(db, project_id: int) -> list[dict]:
    """The label each annotator has in effect on each text: (example_id, annotator, label, seconds,
    created_at, annotation_id, split), by example then annotation."""
    return _rows(db, f"""SELECT l.example_id, l.annotator, l.label, l.seconds, l.created_at, l.annotation_id, e.split
                         FROM ({labels_in_effect(per_annotator=True)}) l JOIN examples e ON e.id = l.example_id
                         ORDER BY l.example_id, l.annotation_id""", (project_id,))


def label_count(db, project_id: int) -> int:
    return db.conn.execute(f"SELECT count(*) FROM ({CURRENT_LABELS_SQL})", (project_id,)).fetchone()[0]


def max_annotation_id(db, project_id: int) -> int:
    return db.conn.execute("SELECT coalesce(max(id), 0) FROM annotations WHERE project_id = ?",
                           (project_id,)).fetchone()[0]


def newest_annotation_at(db, project_id: int) -> float:
    """When the project's newest annotation was made (0 without any)."""
    return db.conn.execute("SELECT max(created_at) FROM annotations WHERE project_id = ?",
                           (project_id,)).fetchone()[0] or 0


def annotation_times(db, annotation_ids: list[int]) -> dict[int, float]:
    """annotation id -> when it was made, for these ids (e.g. versions' label watermarks)."""
    out: dict[int, float] = {}
    ids = sorted(set(annotation_ids))
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        out.update(db.conn.execute(f"SELECT id, created_at FROM annotations WHERE id IN ({','.join('?' * len(chunk))})",
                                   chunk).fetchall())
    return out


def labels_by_split(db, project_id: int, annotator: str) -> dict[str, int]:
    """split -> how many label annotations this annotator has given in it (undone ones too)."""
    return dict(db.conn.execute(
        f"""SELECT e.split, count(*) FROM annotations a JOIN examples e ON e.id = a.example_id
           WHERE a.project_id = ? AND a.annotator = ? AND a.action = '{Action.LABEL}' GROUP BY e.split""",
        (project_id, annotator)).fetchall())


def labels_since(db, project_id: int, watermark: int, at_most: int | None = None) -> int:
    """Label annotations added after `watermark` (an annotation id) that are still in effect.

    Same count as CURRENT_LABELS_SQL's rows newer than the watermark, but it reads only the
    annotations after it (index on (project_id, id)), and stops at `at_most` when given, so
    the label transaction that asks "are there `every` new labels yet?" stays short.
    """
    return db.conn.execute(
        f"""SELECT count(*) FROM (
               SELECT 1 FROM annotations a
               WHERE a.project_id = ? AND a.id > ? AND {in_effect("a")}
                 AND NOT EXISTS (SELECT 1 FROM annotations b WHERE b.project_id = a.project_id
                                   AND b.example_id = a.example_id AND b.id > a.id AND {in_effect("b")})
               LIMIT ?)""",
        (project_id, watermark, -1 if at_most is None else at_most),
    ).fetchone()[0]


def last_undoable(db, project_id: int, annotator: str) -> dict | None:
    """The annotator's latest label or skip that has not been undone (index on (project_id, annotator, id))."""
    return _one(
        db,
        f"""SELECT * FROM annotations a WHERE a.project_id = ? AND a.annotator = ?
             AND a.action IN ('{Action.LABEL}', '{Action.SKIP}') AND {not_undone("a")}
           ORDER BY a.id DESC LIMIT 1""",
        (project_id, annotator),
    )


def annotations(db, project_id: int) -> list[dict]:
    return _rows(db, "SELECT * FROM annotations WHERE project_id = ? ORDER BY id", (project_id,))


def labels_at(db, project_id: int, watermark: int, split: str | None = None) -> list[dict]:
    """The labels in effect when annotation `watermark` was the newest: what a version with that
    label watermark saw ({example_id, label}, ordered by example id)."""
    sql = f"SELECT example_id, label FROM ({labels_in_effect(as_of='?')}) c"
    params: tuple = (project_id, watermark, watermark)
    if split:
        sql += " WHERE example_id IN (SELECT id FROM examples WHERE project_id = ? AND split = ?)"
        params += (project_id, split)
    return _rows(db, sql + " ORDER BY example_id", params)


def _like(query: str) -> str:
    """A LIKE pattern (ESCAPE '\\') that matches `query` literally anywhere in a text."""
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def label_history(db, project_id: int, annotator: str, query: str = "", limit: int = 50) -> list[dict]:
    """The annotator's labels in effect, newest first: {annotation_id, example_id, text, label,
    created_at, split}; only texts containing `query` when it is not blank (issue 20 item 8)."""
    sql = f"""SELECT c.annotation_id, c.example_id, e.text, c.label, c.created_at, e.split
              FROM ({labels_in_effect(per_annotator=True)}) c JOIN examples e ON e.id = c.example_id
              WHERE c.annotator = ?"""
    params: tuple = (project_id, annotator)
    if query.strip():
        sql += " AND e.text LIKE ? ESCAPE '\\'"
        params += (_like(query.strip()),)
    return _rows(db, sql + " ORDER BY c.annotation_id DESC LIMIT ?", params + (limit,))


def recent_label_times(db, project_id: int, annotator: str, limit: int = 2000) -> list[tuple[float, float | None, int, bool]]:
    """(created_at, seconds shown, example_id, undone) of the annotator's newest label annotations,
    newest first, undone ones too (the time was spent; `undone` says an undo reverted it)
    (index on (project_id, annotator, id), and annotations_reverts for the undo)."""
    return [(r[0], r[1], r[2], bool(r[3])) for r in db.conn.execute(
        f"""SELECT a.created_at, a.seconds, a.example_id, NOT ({not_undone("a")}) FROM annotations a
             WHERE a.project_id = ? AND a.annotator = ? AND a.action = '{Action.LABEL}'
             ORDER BY a.id DESC LIMIT ?""", (project_id, annotator, limit))]
