"""The schema: each version's statements, applied in order by `db.migrate`.

A version once released never changes; a change of schema is a new version at the end.
"""
from __future__ import annotations

SCHEMA_VERSION = 9

_V1 = [
    """
    CREATE TABLE IF NOT EXISTS projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        guidelines TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT 'default',
        settings TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS classes (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        shortcut TEXT,
        description TEXT NOT NULL DEFAULT '',
        position INTEGER NOT NULL,
        UNIQUE (project_id, name)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS examples (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        hash TEXT NOT NULL,
        split TEXT NOT NULL DEFAULT 'pool' CHECK (split IN ('pool', 'eval')),
        created_at REAL NOT NULL,
        UNIQUE (project_id, hash)
    )
    """,
    """
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
    )
    """,
    "CREATE INDEX IF NOT EXISTS annotations_project ON annotations(project_id, example_id)",
    "CREATE INDEX IF NOT EXISTS annotations_reverts ON annotations(reverts)",
    """
    CREATE TABLE IF NOT EXISTS leases (
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
        annotator TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (project_id, example_id)
    )
    """,
    """
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
    )
    """,
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, priority, id)",
    """
    CREATE TABLE IF NOT EXISTS workers (
        id TEXT PRIMARY KEY,
        pid INTEGER,
        host TEXT,
        device TEXT,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL
    )
    """,
    """
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
    )
    """,
    """
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
    )
    """,
]

# v2: encoders record the family that produced them, so added texts are embedded the same way.
_V2 = [
    "ALTER TABLE encoders ADD COLUMN family TEXT NOT NULL DEFAULT 'sentence-transformers'",
]

# v3: a job's result beyond a version (an export's file); counting examples by split uses an index.
_V3 = [
    "ALTER TABLE jobs ADD COLUMN result TEXT",
    "CREATE INDEX IF NOT EXISTS examples_split ON examples(project_id, split)",
]

# v4: what runs inside the label and claim transactions reads by index, never a whole table:
# an annotator's history, annotations since a watermark, a project's newest job watermark,
# an annotator's leases.
_V4 = [
    "CREATE INDEX IF NOT EXISTS annotations_project_id ON annotations(project_id, id)",
    "CREATE INDEX IF NOT EXISTS annotations_annotator ON annotations(project_id, annotator, id)",
    "CREATE INDEX IF NOT EXISTS jobs_watermark ON jobs(project_id, kind, json_extract(params, '$.watermark'))",
    "CREATE INDEX IF NOT EXISTS leases_annotator ON leases(project_id, annotator)",
    "CREATE INDEX IF NOT EXISTS examples_shuffled ON examples(project_id, split, ((id * 2654435761) % 4294967296))",
]

# v5: pinning a version as the one served and exported (every pin and unpin kept, with who and when);
# the project's intended use, written by its admin for the model card.
_V5 = [
    """
    CREATE TABLE IF NOT EXISTS version_pins (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        version_id INTEGER REFERENCES model_versions(id) ON DELETE CASCADE,
        pinned_by TEXT NOT NULL,
        created_at REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS version_pins_project ON version_pins(project_id, id)",
    "ALTER TABLE projects ADD COLUMN intended_use TEXT NOT NULL DEFAULT ''",
]

# v6: team mode. Users (argon2 hashes only), sessions (a hash of the token only), which
# projects an annotator may label, settled labels (adjudication and review, append-only: the
# newest per text is in effect) and an audit log of who changed settings, users and labels.
_V6 = [
    """
    CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'annotator')),
        password_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        retry_at REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS assignments (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, project_id)
    )
    """,
    """
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
    )
    """,
    "CREATE INDEX IF NOT EXISTS adjudications_example ON adjudications(project_id, example_id, id)",
    """
    CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        project_id INTEGER,
        detail TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    )
    """,
]

# v7: ids are never reused (issue 19 item 1). A plain INTEGER PRIMARY KEY takes max(id) + 1, so
# deleting the newest project gave its id, and its texts' and jobs' ids, to the next one: a
# running job of the deleted project then published into the new one. AUTOINCREMENT never
# hands out an id again. SQLite cannot ALTER a table to AUTOINCREMENT, so each table is rebuilt
# (the SQLite manual's procedure: new table, copy, drop, rename, indexes again) with foreign keys
# off for that connection (`NO_FOREIGN_KEYS`: a DROP would otherwise cascade), checked with
# foreign_key_check before the one transaction commits. Ids that rows no longer hold but other
# rows still name (a deleted project in the audit log, a deleted version in annotations, an
# account in an audit detail) are never handed out either: each sequence starts above them.
_V7_TABLES: dict[str, str] = {
    "projects": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        guidelines TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT 'default',
        settings TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        intended_use TEXT NOT NULL DEFAULT ''
    """,
    "classes": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        shortcut TEXT,
        description TEXT NOT NULL DEFAULT '',
        position INTEGER NOT NULL,
        UNIQUE (project_id, name)
    """,
    "examples": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        hash TEXT NOT NULL,
        split TEXT NOT NULL DEFAULT 'pool' CHECK (split IN ('pool', 'eval')),
        created_at REAL NOT NULL,
        UNIQUE (project_id, hash)
    """,
    "annotations": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    """,
    "jobs": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
        finished_at REAL,
        result TEXT
    """,
    "encoders": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        version_id INTEGER,
        path TEXT NOT NULL,
        n INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        seconds REAL,
        created_at REAL NOT NULL,
        family TEXT NOT NULL DEFAULT 'sentence-transformers'
    """,
    "model_versions": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    """,
    "version_pins": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        version_id INTEGER REFERENCES model_versions(id) ON DELETE CASCADE,
        pinned_by TEXT NOT NULL,
        created_at REAL NOT NULL
    """,
    "users": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'annotator')),
        password_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        retry_at REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    """,
    "adjudications": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('adjudication', 'review')),
        previous TEXT,
        reason TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    """,
    "audit_log": """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        project_id INTEGER,
        detail TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    """,
}


def _rebuild(table: str, columns: str) -> list[str]:
    names = ", ".join(line.strip().split()[0] for line in columns.strip().splitlines()
                      if not line.strip().startswith("UNIQUE"))
    return [f"CREATE TABLE {table}_v7 ({columns}\n    )",
            f"INSERT INTO {table}_v7 ({names}) SELECT {names} FROM {table}",
            f"DROP TABLE {table}",
            f"ALTER TABLE {table}_v7 RENAME TO {table}"]


def _sequence_above(table: str, *named_by: str) -> list[str]:
    """Start `table`'s sequence above every id it or `named_by` (SQL expressions) holds."""
    highest = ", ".join([f"(SELECT coalesce(max(id), 0) FROM {table})", *named_by])
    return [f"DELETE FROM sqlite_sequence WHERE name = '{table}'",
            f"INSERT INTO sqlite_sequence (name, seq) VALUES ('{table}', max({highest}, 0))"]


_V7 = [statement for table, columns in _V7_TABLES.items() for statement in _rebuild(table, columns)] + [
    # DROP TABLE took the indexes with it.
    "CREATE INDEX IF NOT EXISTS annotations_project ON annotations(project_id, example_id)",
    "CREATE INDEX IF NOT EXISTS annotations_reverts ON annotations(reverts)",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, priority, id)",
    "CREATE INDEX IF NOT EXISTS examples_split ON examples(project_id, split)",
    *_V4,
    "CREATE INDEX IF NOT EXISTS version_pins_project ON version_pins(project_id, id)",
    "CREATE INDEX IF NOT EXISTS adjudications_example ON adjudications(project_id, example_id, id)",
    *_sequence_above("projects", "(SELECT coalesce(max(project_id), 0) FROM audit_log)"),
    *_sequence_above("model_versions", "(SELECT coalesce(max(model_version_id), 0) FROM annotations)",
                     "(SELECT coalesce(max(result_version_id), 0) FROM jobs)",
                     "(SELECT coalesce(max(version_id), 0) FROM encoders)"),
    *_sequence_above("users", "(SELECT coalesce(max(CAST(json_extract(detail, '$.user_id') AS INTEGER)), 0) "
                              "FROM audit_log)"),
]
# Also in v7 (issue 19 item 5): failed sign-ins in a row per name typed, known or not (so an
# unknown name is delayed exactly like an account, and the delay tells nobody which names exist),
# and when the next attempt may be checked.
_V7 += [
    """
    CREATE TABLE IF NOT EXISTS sign_in_attempts (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        failures INTEGER NOT NULL DEFAULT 0,
        retry_at REAL NOT NULL DEFAULT 0
    )
    """,
]
# Versions whose statements run with foreign keys off (and foreign_key_check before commit).
NO_FOREIGN_KEYS = frozenset({7})

# v8: multi-label projects (issue 21). A project's kind is chosen at creation and never changes;
# a multi-label annotation keeps the set of labels in `label` as a JSON list (core.learning.labelsets),
# `[]` being the explicit answer "none of these" (a skip stays action 'skip').
_V8 = [
    "ALTER TABLE projects ADD COLUMN kind TEXT NOT NULL DEFAULT 'single' CHECK (kind IN ('single', 'multi'))",
]

# v9: guidelines are edited after creation, and every version is kept with who wrote it and when
# (the guidelines a project already had become its first version, author unknown).
_V9 = [
    """
    CREATE TABLE IF NOT EXISTS guideline_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS guideline_versions_project ON guideline_versions(project_id, id)",
    """INSERT INTO guideline_versions (project_id, text, author, created_at)
       SELECT id, guidelines, '', created_at FROM projects WHERE guidelines != ''""",
]

MIGRATIONS: dict[int, list[str]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7, 8: _V8, 9: _V9}
assert max(MIGRATIONS) == SCHEMA_VERSION
