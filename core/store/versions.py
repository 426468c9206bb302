"""Encoders, model versions and pins (which version is served)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from core.store.db import _decode, _one, _rows, now, transaction

@dataclass(frozen=True)
class NewEncoder:
    """An encoder row to insert. `model` is what re-embeds added texts: a model name or the directory
    of a fine-tuned model; `path` the artifact directory with ids.npy / embeddings.npy; `family` the
    kind of encoder it is (`classifiers.encoder_family`); `version_id` the version that trained it."""

    model: str
    path: str
    n: int
    dim: int
    seconds: float
    family: str
    version_id: int | None = None


@dataclass(frozen=True)
class NewVersion:
    """A model version row to insert; its artifacts must already be in place at `path`."""

    kind: str  # JobKind.HEAD or JobKind.FULL
    encoder_id: int
    path: str
    label_watermark: int  # the newest annotation it was trained on
    n_labels: int
    metrics: dict
    params: dict
    timings: dict
    parent_id: int | None = None
    job_id: int | None = None


def add_encoder(conn: sqlite3.Connection, project_id: int, new: NewEncoder) -> int:
    cur = conn.execute(
        """INSERT INTO encoders (project_id, model, version_id, path, n, dim, seconds, created_at, family)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (project_id, new.model, new.version_id, new.path, new.n, new.dim, new.seconds, now(), new.family),
    )
    return cur.lastrowid


def latest_encoder(db, project_id: int) -> dict | None:
    return _one(db, "SELECT * FROM encoders WHERE project_id = ? ORDER BY id DESC LIMIT 1", (project_id,))


def encoder(db, encoder_id: int) -> dict | None:
    return _one(db, "SELECT * FROM encoders WHERE id = ?", (encoder_id,))


def publish_version(conn: sqlite3.Connection, project_id: int, new: NewVersion) -> int:
    """Insert a model version row, numbered after the project's newest; call inside `transaction()`."""
    number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM model_versions WHERE project_id = ?",
                          (project_id,)).fetchone()[0]
    cur = conn.execute(
        """INSERT INTO model_versions (project_id, number, kind, parent_id, encoder_id, params, label_watermark,
                                       n_labels, metrics, path, timings, job_id, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (project_id, number, new.kind, new.parent_id, new.encoder_id, json.dumps(new.params), new.label_watermark,
         new.n_labels, json.dumps(new.metrics), new.path, json.dumps(new.timings), new.job_id, now()),
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


def head_on_model_since(db, project_id: int, model: str, after_version_id: int) -> bool:
    """Whether a head version on an encoder of `model` was published after version `after_version_id`."""
    return _one(db, """SELECT 1 AS found FROM model_versions v JOIN encoders e ON e.id = v.encoder_id
                       WHERE v.project_id = ? AND v.kind = 'head' AND e.model = ? AND v.id > ? LIMIT 1""",
                (project_id, model, after_version_id)) is not None


def encoder_before(db, project_id: int, encoder_id: int, other_than_model: str) -> dict | None:
    """The newest encoder older than `encoder_id` of another model: what a retrain is compared with."""
    return _one(db, """SELECT * FROM encoders WHERE project_id = ? AND id < ? AND model != ?
                       ORDER BY id DESC LIMIT 1""", (project_id, encoder_id, other_than_model))


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


def version_id_by_number(db, project_id: int, number: int) -> int | None:
    """The id of version `number` of a project, None when it has no such version."""
    row = db.conn.execute("SELECT id FROM model_versions WHERE project_id = ? AND number = ?",
                          (project_id, number)).fetchone()
    return row[0] if row else None


def artifact_dirs(conn: sqlite3.Connection) -> list[str]:
    """The directories of every encoder and version (as stored)."""
    return [r[0] for r in conn.execute("SELECT path FROM encoders UNION SELECT path FROM model_versions")]
