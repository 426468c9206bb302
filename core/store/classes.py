"""A project's classes and guidelines after creation: add, rename, describe; guideline versions.

A class keeps its row, and so its `position`, for good: renaming changes the name on the row
(and on every label and decision that carries it), adding appends at the end, and nothing
reorders or deletes classes. Every model stores its classes by position (a head's class ids,
a probability matrix's columns, a transformer's id2label), so a position is a class's stable id
and a model trained before a rename or an addition still means the same classes
(`core.files.model_export` names them by position with the current names).

Write functions take the connection of a `transaction()`.
"""
from __future__ import annotations

import sqlite3

from core.store.db import StoreError, _rows, now


def add_class(conn: sqlite3.Connection, project_id: int, name: str, shortcut: str | None, description: str) -> int:
    """Append a class (after every existing one); its id."""
    if conn.execute("SELECT 1 FROM classes WHERE project_id = ? AND name = ?", (project_id, name)).fetchone():
        raise StoreError(f"The project already has a class called {name!r}.")
    position = conn.execute("SELECT coalesce(max(position) + 1, 0) FROM classes WHERE project_id = ?",
                            (project_id,)).fetchone()[0]
    return conn.execute(
        "INSERT INTO classes (project_id, name, shortcut, description, position) VALUES (?, ?, ?, ?, ?)",
        (project_id, name, shortcut, description, position)).lastrowid


def rename_class(conn: sqlite3.Connection, project_id: int, old: str, new: str) -> int:
    """Rename a class in place, with every label and decision that names it; the labels renamed.

    The annotations stay append-only in what they say (who chose which class when): the class
    is the same, only what it is called changed."""
    if conn.execute("SELECT 1 FROM classes WHERE project_id = ? AND name = ?", (project_id, old)).fetchone() is None:
        raise StoreError(f"The project has no class called {old!r}.")
    if conn.execute("SELECT 1 FROM classes WHERE project_id = ? AND name = ?", (project_id, new)).fetchone():
        raise StoreError(f"The project already has a class called {new!r}.")
    conn.execute("UPDATE classes SET name = ? WHERE project_id = ? AND name = ?", (new, project_id, old))
    kind = conn.execute("SELECT kind FROM projects WHERE id = ?", (project_id,)).fetchone()[0]
    if kind == "multi":  # a label is a JSON list of class names in class order: rename the element in place
        return _rename_in_sets(conn, project_id, old, new)
    labels = conn.execute("UPDATE annotations SET label = ? WHERE project_id = ? AND label = ?",
                          (new, project_id, old)).rowcount
    conn.execute("UPDATE adjudications SET label = ? WHERE project_id = ? AND label = ?", (new, project_id, old))
    conn.execute("UPDATE adjudications SET previous = ? WHERE project_id = ? AND previous = ?", (new, project_id, old))
    return labels


def _rename_in_sets(conn: sqlite3.Connection, project_id: int, old: str, new: str) -> int:
    """A multi-label project's sets (annotations and decisions) that hold `old` hold `new` instead,
    at the same place (the class keeps its position, so the set stays in class order)."""
    changed = 0
    for table, column in (("annotations", "label"), ("adjudications", "label"), ("adjudications", "previous")):
        changed_here = conn.execute(
            f"""UPDATE {table} SET {column} = (
                    SELECT json_group_array(CASE WHEN e.value = :old THEN :new ELSE e.value END)
                    FROM (SELECT value FROM json_each({table}.{column}) ORDER BY key) e)
                WHERE project_id = :pid AND json_valid({column}) AND json_type({column}) = 'array'
                  AND EXISTS (SELECT 1 FROM json_each({table}.{column}) WHERE value = :old)""",
            {"old": old, "new": new, "pid": project_id}).rowcount
        if table == "annotations":
            changed = changed_here
    return changed


def set_class_description(conn: sqlite3.Connection, project_id: int, name: str, description: str) -> None:
    if not conn.execute("UPDATE classes SET description = ? WHERE project_id = ? AND name = ?",
                        (description, project_id, name)).rowcount:
        raise StoreError(f"The project has no class called {name!r}.")


def set_guidelines(conn: sqlite3.Connection, project_id: int, text: str, author: str) -> int:
    """The project's guidelines now, kept as a new version with who wrote it and when; its version number."""
    conn.execute("UPDATE projects SET guidelines = ? WHERE id = ?", (text, project_id))
    conn.execute("INSERT INTO guideline_versions (project_id, text, author, created_at) VALUES (?, ?, ?, ?)",
                 (project_id, text, author, now()))
    return conn.execute("SELECT count(*) FROM guideline_versions WHERE project_id = ?", (project_id,)).fetchone()[0]


def guideline_versions(db, project_id: int) -> list[dict]:
    """Every version of the project's guidelines, oldest first, numbered from 1: {number, text, author, created_at}."""
    rows = _rows(db, "SELECT text, author, created_at FROM guideline_versions WHERE project_id = ? ORDER BY id",
                 (project_id,))
    return [{"number": i, **row} for i, row in enumerate(rows, 1)]
