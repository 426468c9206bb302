"""The migration runner (core.store.db.migrate) and the schema (core.store.schema): databases
made by the store before it became a package, at every schema version, migrate to the same
schema a fresh database has, and keep their rows."""
import sqlite3
from pathlib import Path

import pytest

from core import store
from core.store import schema

OLD = Path(__file__).parent / "data"  # store_v{N}.sql: made by the pre-package store (commit 107a9dd) at version N


def layout(conn: sqlite3.Connection) -> dict:
    """Tables with their columns and indexes with their key columns (or expressions), by name."""
    out = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        out[name] = [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({name})")]
        for idx in conn.execute(f"PRAGMA index_list({name})").fetchall():
            out[f"{name}.{idx[1]}"] = ([tuple(r[1:]) for r in conn.execute(f"PRAGMA index_xinfo({idx[1]})")], idx[2])
    return out


def fresh_layout(tmp_path: Path) -> dict:
    return layout(store.connect(tmp_path / "fresh.db").conn)


# Fixtures exist for the versions the pre-package store made (1 to 6); later versions are this store's own.
@pytest.mark.parametrize("version", sorted(int(p.stem.removeprefix("store_v")) for p in OLD.glob("store_v*.sql")))
def test_an_old_database_migrates_to_the_current_schema_and_keeps_its_rows(tmp_path, version):
    path = tmp_path / f"v{version}.db"
    old = sqlite3.connect(path)
    old.executescript((OLD / f"store_v{version}.sql").read_text())
    old.close()
    db = store.connect(path)
    assert store.schema_version(db) == schema.SCHEMA_VERSION
    assert [r[0] for r in db.conn.execute("SELECT version FROM schema_version ORDER BY version")] == \
        list(range(1, schema.SCHEMA_VERSION + 1))
    assert layout(db.conn) == fresh_layout(tmp_path)
    assert store.project_by_name(db, "old")["intended_use"] == ""
    assert [(r["example_id"], r["label"]) for r in store.current_labels(db, 1)] == [(1, "yes")]
    assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v5.db"
    old = sqlite3.connect(path)
    old.executescript((OLD / "store_v5.sql").read_text())
    old.close()
    broken = {**schema.MIGRATIONS, 6: schema.MIGRATIONS[6][:2] + ["CREATE TABLE users (id INTEGER PRIMARY KEY)"]}
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        store.connect(path)
    check = sqlite3.connect(path)
    assert check.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 5
    assert check.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('users', 'sessions')").fetchone()[0] == 0


def test_each_version_is_a_list_of_single_statements():
    assert sorted(schema.MIGRATIONS) == list(range(1, schema.SCHEMA_VERSION + 1))
    for statements in schema.MIGRATIONS.values():
        assert statements and all(isinstance(s, str) and sqlite3.complete_statement(s + ";") for s in statements)
        assert not any(";" in s for s in statements)


def test_upgrading_an_old_database_makes_ids_never_reused_and_keeps_its_rows_and_cascades(tmp_path):
    """Issue 19 item 1: SQLite rebuilds each table with AUTOINCREMENT (it cannot ALTER to it). A
    v6 database whose newest project was deleted (its id still named by the audit log) upgrades:
    every row stays, foreign keys still cascade, and no id is handed out again."""
    path = tmp_path / "v6.db"
    old = sqlite3.connect(path)
    old.executescript((OLD / "store_v6.sql").read_text())
    old.executescript("""
        INSERT INTO projects (id, name, created_at) VALUES (2, 'second', 1), (3, 'deleted', 1);
        INSERT INTO examples (id, project_id, text, hash, created_at) VALUES (3, 2, 'b', 'hb', 1), (4, 3, 'c', 'hc', 1);
        INSERT INTO jobs (id, project_id, kind, created_at) VALUES (7, 3, 'embed', 1);
        INSERT INTO audit_log (actor, action, project_id, detail, created_at) VALUES ('a', 'import', 3, '{}', 1);
        DELETE FROM projects WHERE id = 3;""")
    old.commit()
    assert old.execute("SELECT count(*) FROM examples WHERE project_id = 3").fetchone()[0] == 1  # FKs were off
    old.execute("DELETE FROM examples WHERE project_id = 3")
    old.execute("DELETE FROM jobs WHERE project_id = 3")
    old.commit()
    old.close()
    db = store.connect(path)
    assert store.schema_version(db) == schema.SCHEMA_VERSION
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert [p["name"] for p in store.projects(db)] == ["old", "second"]
    assert [(r["example_id"], r["label"]) for r in store.current_labels(db, 1)] == [(1, "yes")]
    for table in ("projects", "examples", "annotations", "jobs", "model_versions", "users", "audit_log"):
        sql = db.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert "AUTOINCREMENT" in sql, table
    with store.transaction(db) as conn:
        new = store.create_project(conn, "new", [{"name": "yes"}, {"name": "no"}])
        job = store.enqueue(conn, new, store.JobKind.EMBED)
    assert new == 4  # 3 is named by the audit log: never given again
    # From now on a deleted row's id is never given again (before the upgrade a deleted row whose id
    # no other row names, like job 7 here, could not be known).
    with store.transaction(db) as conn:
        conn.execute("DELETE FROM jobs WHERE id = ?", (job,))
        assert store.enqueue(conn, new, store.JobKind.EMBED) == job + 1
        store.delete_project(conn, new)
        assert store.create_project(conn, "newer", [{"name": "yes"}, {"name": "no"}]) == 5
    with store.transaction(db) as conn:
        store.delete_project(conn, 2)
    assert db.conn.execute("SELECT count(*) FROM examples WHERE project_id = 2").fetchone()[0] == 0  # cascades
    assert layout(db.conn) == fresh_layout(tmp_path)


def test_a_failing_rebuild_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v6.db"
    old = sqlite3.connect(path)
    old.executescript((OLD / "store_v6.sql").read_text())
    old.close()
    broken = {**schema.MIGRATIONS, 7: schema.MIGRATIONS[7][:8] + ["INSERT INTO nowhere VALUES (1)"]}
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store.connect(path)
    check = sqlite3.connect(path)
    assert check.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 6
    assert "AUTOINCREMENT" not in check.execute("SELECT sql FROM sqlite_master WHERE name = 'projects'").fetchone()[0]
    assert check.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1
    assert not check.execute("SELECT name FROM sqlite_master WHERE name LIKE '%_v7'").fetchall()
