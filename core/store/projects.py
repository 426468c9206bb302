"""Projects, their settings and classes."""
from __future__ import annotations

import json
import sqlite3

from core import config
from core.settings import ProjectSettings
from core.store.db import StoreError, _one, _rows, now
from core.store.labels import in_effect

KINDS = ("single", "multi")  # single-label (one class per text) or multi-label (a set of classes)


def create_project(conn: sqlite3.Connection, name: str, classes: list[dict], guidelines: str = "",
                   model: str = config.DEFAULT_MODEL, settings: ProjectSettings | None = None,
                   kind: str = "single") -> int:
    """Insert a project and its classes; call inside `transaction()`. `kind` ('single' or 'multi',
    issue 21) is fixed here: nothing updates it later."""
    name = name.strip()
    if kind not in KINDS:
        raise StoreError(f"A project is single- or multi-label, not {kind!r}.")
    if not name:
        raise StoreError("The project needs a name.")
    if conn.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
        raise StoreError(f"A project called {name!r} already exists.")
    cur = conn.execute(
        "INSERT INTO projects (name, guidelines, model, settings, created_at, kind) VALUES (?, ?, ?, ?, ?, ?)",
        (name, guidelines, model or config.DEFAULT_MODEL, json.dumps((settings or ProjectSettings()).to_dict()),
         now(), kind),
    )
    project_id = cur.lastrowid
    if guidelines:  # the first version (who created the project is in the audit log)
        conn.execute("INSERT INTO guideline_versions (project_id, text, author, created_at) VALUES (?, ?, '', ?)",
                     (project_id, guidelines, now()))
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


def change_settings(conn: sqlite3.Connection, project_id: int, changes: dict) -> tuple[ProjectSettings, ProjectSettings]:
    """Apply only `changes` to the settings as stored now (so two people saving different
    settings do not undo each other's), check the result, and store it; (before, after).
    Call inside `transaction()`."""
    row = conn.execute("SELECT settings FROM projects WHERE id = ?", (project_id,)).fetchone()
    if row is None:
        raise StoreError("That project does not exist.")
    before = ProjectSettings.from_dict(json.loads(row[0] or "{}"))
    updated = before.with_changes(changes)
    conn.execute("UPDATE projects SET settings = ? WHERE id = ?", (json.dumps(updated.to_dict()), project_id))
    return before, updated


def rename_project(conn: sqlite3.Connection, project_id: int, name: str) -> str:
    """Rename a project (names are unique); the name as stored. Call inside `transaction()`."""
    name = name.strip()
    if not name:
        raise StoreError("The project needs a name.")
    if conn.execute("SELECT 1 FROM projects WHERE name = ? AND id != ?", (name, project_id)).fetchone():
        raise StoreError(f"A project called {name!r} already exists.")
    conn.execute("UPDATE projects SET name = ? WHERE id = ?", (name, project_id))
    return name


def delete_project(conn: sqlite3.Connection, project_id: int) -> str | None:
    """Delete a project with its texts, labels, jobs and versions (not its artifacts); its name,
    None when there was none. Call inside `transaction()`."""
    row = conn.execute("SELECT name FROM projects WHERE id = ?", (project_id,)).fetchone()
    conn.execute("DELETE FROM model_versions WHERE project_id = ?", (project_id,))  # they reference encoders
    conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))
    return row[0] if row else None


def set_intended_use(conn: sqlite3.Connection, project_id: int, text: str) -> None:
    """The intended use the model card states. Call inside `transaction()`."""
    conn.execute("UPDATE projects SET intended_use = ? WHERE id = ?", (text.strip(), project_id))


def project_kind(db, project_id: int) -> str:
    """'single' or 'multi' (issue 21); fixed when the project was created."""
    row = db.conn.execute("SELECT kind FROM projects WHERE id = ?", (project_id,)).fetchone()
    if row is None:
        raise StoreError("That project does not exist.")
    return row[0]


def classes(db, project_id: int) -> list[dict]:
    return _rows(db, "SELECT * FROM classes WHERE project_id = ? ORDER BY position", (project_id,))


def class_names(db, project_id: int) -> list[str]:
    return [c["name"] for c in classes(db, project_id)]




def project_table(db) -> list[dict]:
    """Every project with its counts, in one query: {id, name, texts, labels, classes (names in order)}."""
    rows = _rows(db, f"""
        SELECT p.id, p.name,
               (SELECT count(*) FROM examples e WHERE e.project_id = p.id) AS texts,
               (SELECT count(DISTINCT a.example_id) FROM annotations a
                 WHERE a.project_id = p.id AND {in_effect("a")}) AS labels,
               (SELECT json_group_array(name) FROM (SELECT name FROM classes c WHERE c.project_id = p.id
                                                   ORDER BY position)) AS classes
        FROM projects p ORDER BY p.id""")
    for row in rows:
        row["classes"] = json.loads(row["classes"])
    return rows
