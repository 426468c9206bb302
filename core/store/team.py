"""The team's tables: users, sessions, project assignments, adjudications and the audit log.

The policy (who may do what, password hashing, sign-in delays) is `core.team.auth`'s; these
are its reads and writes. Write functions take the connection of a `transaction()`.
"""
from __future__ import annotations

import json
import sqlite3

from core.store.db import _one, _rows, now

_USER_COLUMNS = "id, name, role, active, failed_logins, retry_at, created_at"


# ---------------------------------------------------------------- users


def has_users(db) -> bool:
    return db.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def user_exists(db, name: str) -> bool:
    """Whether an account has this name (names compare without case)."""
    return db.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None


def add_user(conn: sqlite3.Connection, name: str, role: str, password_hash: str) -> int:
    return conn.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                        (name, role, password_hash, now())).lastrowid


def users(db) -> list[dict]:
    """Accounts without their hashes."""
    return _rows(db, f"SELECT {_USER_COLUMNS} FROM users ORDER BY id")


def user(db, user_id: int) -> dict | None:
    """An account without its hash."""
    return _one(db, f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))


def user_for_login(db, name: str) -> dict | None:
    """An account with its password hash, by name (for sign-in only)."""
    return _one(db, "SELECT id, name, role, password_hash, active, failed_logins, retry_at FROM users WHERE name = ?",
                (name,))


def set_role(conn: sqlite3.Connection, user_id: int, role: str) -> None:
    conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))


def set_active(conn: sqlite3.Connection, user_id: int, active: bool) -> None:
    conn.execute("UPDATE users SET active = ? WHERE id = ?", (int(bool(active)), user_id))


def other_active_admins(db, user_id: int) -> int:
    """Active admins other than this user."""
    return db.conn.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?",
                           (user_id,)).fetchone()[0]


def set_password_hash(conn: sqlite3.Connection, user_id: int, password_hash: str, reset_failures: bool = True) -> None:
    if reset_failures:
        conn.execute("UPDATE users SET password_hash = ?, failed_logins = 0, retry_at = 0 WHERE id = ?",
                     (password_hash, user_id))
        conn.execute("DELETE FROM sign_in_attempts WHERE name = (SELECT name FROM users WHERE id = ?)", (user_id,))
    else:
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))


def failed_logins(db, user_id: int) -> int:
    return db.conn.execute("SELECT failed_logins FROM users WHERE id = ?", (user_id,)).fetchone()[0]


def set_failed_logins(conn: sqlite3.Connection, user_id: int, failures: int, retry_at: float) -> None:
    """Failed sign-ins in a row, and when the next attempt may be made (0, 0 after a success)."""
    conn.execute("UPDATE users SET failed_logins = ?, retry_at = ? WHERE id = ?", (failures, retry_at, user_id))


def sign_in_attempts(conn: sqlite3.Connection, name: str) -> tuple[int, float]:
    """(failed sign-ins in a row, when the next may be checked) for a name typed, known or not."""
    row = conn.execute("SELECT failures, retry_at FROM sign_in_attempts WHERE name = ?", (name,)).fetchone()
    return (row[0], row[1]) if row else (0, 0.0)


def set_sign_in_attempts(conn: sqlite3.Connection, name: str, failures: int, retry_at: float) -> None:
    """Record a name's failures in a row (0 clears them); an account of that name shows the count
    too. Call inside the transaction that read them (`transaction()`: attempts take turns)."""
    if failures:
        conn.execute("""INSERT INTO sign_in_attempts (name, failures, retry_at) VALUES (?, ?, ?)
                        ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, retry_at = excluded.retry_at""",
                     (name, failures, retry_at))
    else:
        conn.execute("DELETE FROM sign_in_attempts WHERE name = ?", (name,))
    conn.execute("UPDATE users SET failed_logins = ?, retry_at = ? WHERE name = ?", (failures, retry_at, name))


def forget_sign_in_attempts(conn: sqlite3.Connection, before: float) -> None:
    """Drop the counts of names whose delay ended before `before`: names typed once (anyone can
    type any) do not pile up."""
    conn.execute("DELETE FROM sign_in_attempts WHERE retry_at < ?", (before,))


# ---------------------------------------------------------------- sessions


def add_session(conn: sqlite3.Connection, token_hash: str, user_id: int, created_at: float, expires_at: float) -> None:
    """A new session (only the hash of its token is stored); expired sessions go at the same time."""
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (created_at,))
    conn.execute("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                 (token_hash, user_id, created_at, expires_at))


def session_user(db, token_hash: str, at: float) -> dict | None:
    """{id, name, role} of an active user whose session with this token hash is unexpired at `at`."""
    return _one(db, """SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
                       WHERE s.token_hash = ? AND s.expires_at > ? AND u.active = 1""", (token_hash, at))


def end_session(conn: sqlite3.Connection, token_hash: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


def end_sessions(conn: sqlite3.Connection, user_id: int) -> None:
    """Every session of this user."""
    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))


# ---------------------------------------------------------------- assignments


def is_assigned(db, user_id: int, project_id: int) -> bool:
    return db.conn.execute("SELECT 1 FROM assignments WHERE user_id = ? AND project_id = ?",
                           (user_id, project_id)).fetchone() is not None


def assigned_projects(db, user_id: int) -> list[int]:
    return [r[0] for r in db.conn.execute("SELECT project_id FROM assignments WHERE user_id = ? ORDER BY project_id",
                                          (user_id,))]


def set_assigned(conn: sqlite3.Connection, user_id: int, project_id: int, assigned: bool) -> None:
    if assigned:
        conn.execute("INSERT OR IGNORE INTO assignments (user_id, project_id) VALUES (?, ?)", (user_id, project_id))
    else:
        conn.execute("DELETE FROM assignments WHERE user_id = ? AND project_id = ?", (user_id, project_id))


# ---------------------------------------------------------------- adjudications


def add_decision(conn: sqlite3.Connection, project_id: int, example_id: int, label: str, reviewer: str, source: str,
                 previous: str | None, reason: str) -> int:
    """Append an adjudication or review decision (the newest per text is in effect)."""
    return conn.execute(
        """INSERT INTO adjudications (project_id, example_id, label, reviewer, source, previous, reason, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (project_id, example_id, label, reviewer, source, previous, reason, now())).lastrowid


def decisions(db, project_id: int) -> dict[int, dict]:
    """The adjudication or review decision in effect per text (the newest)."""
    rows = _rows(db, """SELECT * FROM adjudications d WHERE project_id = ? AND id = (
                           SELECT max(id) FROM adjudications x WHERE x.project_id = d.project_id
                             AND x.example_id = d.example_id)""", (project_id,))
    return {r["example_id"]: r for r in rows}


def decided_examples(db, project_id: int) -> set[int]:
    """Texts with any adjudication or review decision."""
    return {r[0] for r in db.conn.execute("SELECT DISTINCT example_id FROM adjudications WHERE project_id = ?",
                                          (project_id,))}


# ---------------------------------------------------------------- audit log


def add_audit(conn: sqlite3.Connection, actor: str, action: str, project_id: int | None = None,
              detail: dict | None = None) -> None:
    """Append to the audit log (`actor` is a name); call inside the transaction of the change."""
    conn.execute("INSERT INTO audit_log (actor, action, project_id, detail, created_at) VALUES (?, ?, ?, ?, ?)",
                 (actor, action, project_id, json.dumps(detail or {}, default=str), now()))


def audit_log(db, limit: int = 200) -> list[dict]:
    rows = _rows(db, "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows
