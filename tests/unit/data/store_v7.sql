-- A Sieve database at schema version 7, made by migrating store_v6.sql with the store of issue 19.
BEGIN TRANSACTION;
CREATE TABLE adjudications (
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
CREATE TABLE annotations (
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
INSERT INTO "annotations" VALUES(1,1,1,'ann','label','yes',NULL,NULL,NULL,NULL,NULL,2.0);
CREATE TABLE assignments (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, project_id)
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    shortcut TEXT,
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
INSERT INTO "classes" VALUES(1,1,'yes',NULL,'',0);
INSERT INTO "classes" VALUES(2,1,'no',NULL,'',1);
CREATE TABLE encoders (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    version_id INTEGER,
    path TEXT NOT NULL,
    n INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    seconds REAL,
    created_at REAL NOT NULL
, family TEXT NOT NULL DEFAULT 'sentence-transformers');
CREATE TABLE examples (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    hash TEXT NOT NULL,
    split TEXT NOT NULL DEFAULT 'pool' CHECK (split IN ('pool', 'eval')),
    created_at REAL NOT NULL,
    UNIQUE (project_id, hash)
);
INSERT INTO "examples" VALUES(1,1,'a text','{}','h1','pool',1.0);
INSERT INTO "examples" VALUES(2,1,'another','{}','h2','pool',1.0);
CREATE TABLE guideline_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
CREATE TABLE jobs (
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
, result TEXT);
CREATE TABLE leases (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    annotator TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (project_id, example_id)
);
CREATE TABLE model_versions (
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
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    guidelines TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT 'default',
    settings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
, intended_use TEXT NOT NULL DEFAULT '');
INSERT INTO "projects" VALUES(1,'old','','default','{}',1.0,'');
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO "schema_version" VALUES(1);
INSERT INTO "schema_version" VALUES(2);
INSERT INTO "schema_version" VALUES(3);
INSERT INTO "schema_version" VALUES(4);
INSERT INTO "schema_version" VALUES(5);
INSERT INTO "schema_version" VALUES(6);
INSERT INTO "schema_version" VALUES(7);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'annotator')),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    retry_at REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE version_pins (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version_id INTEGER REFERENCES model_versions(id) ON DELETE CASCADE,
    pinned_by TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    pid INTEGER,
    host TEXT,
    device TEXT,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
CREATE INDEX annotations_project ON annotations(project_id, example_id);
CREATE INDEX annotations_reverts ON annotations(reverts);
CREATE INDEX jobs_status ON jobs(status, priority, id);
CREATE INDEX examples_split ON examples(project_id, split)
;
CREATE INDEX annotations_project_id ON annotations(project_id, id);
CREATE INDEX annotations_annotator ON annotations(project_id, annotator, id);
CREATE INDEX jobs_watermark ON jobs(project_id, kind, json_extract(params, '$.watermark'));
CREATE INDEX leases_annotator ON leases(project_id, annotator);
CREATE INDEX examples_shuffled ON examples(project_id, split, ((id * 2654435761) % 4294967296))
;
CREATE INDEX version_pins_project ON version_pins(project_id, id);
CREATE INDEX adjudications_example ON adjudications(project_id, example_id, id);
CREATE INDEX guideline_versions_project ON guideline_versions(project_id, id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('guideline_versions',0);
COMMIT;
