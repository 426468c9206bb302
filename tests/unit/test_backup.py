"""Backups: `python -m core backup OUT` copies the store online (SQLite's backup API) with the
artifacts it references; `python -m core restore IN` brings it back, never under a live worker."""
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from core import artifacts, store
from core.jobs import backup
from core.team import auth
from tests.conftest import ROOT
from tests.unit.test_recovery import make_dir
from tests.conftest import make_project

TEXTS = tuple(f"text number {i}" for i in range(300))


def label_rows(db_or_path):
    conn = sqlite3.connect(db_or_path) if not hasattr(db_or_path, "conn") else db_or_path.conn
    return conn.execute("SELECT id, example_id, annotator, action, label FROM annotations ORDER BY id").fetchall()


def label_all(db, pid, count, annotator="ann", start=0):
    ids = store.example_ids(db, pid)
    for example_id in ids[start:start + count]:
        from core.labeling import annotate

        annotate.submit_label(db, auth.local_actor(annotator), pid, annotate.NextText.direct(example_id), "yes" if example_id % 2 else "no")


@pytest.fixture
def project(db):
    pid = make_project(db, texts=TEXTS)
    root = artifacts.project_dir(pid)
    enc, ver = make_dir(root / "encoders" / "enc-a"), make_dir(root / "versions" / "v-a")
    with store.transaction(db) as conn:
        encoder_id = store.add_encoder(conn, pid, store.NewEncoder("default", str(enc), 3, 4, 0.1, "sentence-transformers"))
        store.publish_version(conn, pid, store.NewVersion("head", encoder_id, str(ver), 0, 0, {}, {}, {}))
    label_all(db, pid, 20)
    return pid


def test_backup_then_restore_gives_back_the_same_labels_and_artifacts(db, project, tmp_path):
    out = tmp_path / "backup"
    summary = backup.backup(out)
    assert summary["annotations"] == 20 and summary["artifact_dirs"] == 2
    saved = label_rows(db)
    label_all(db, project, 40, annotator="later", start=20)  # work after the backup, then a disaster
    version_dir = store.latest_version(db, project)["path"]
    artifacts.remove_project_dir(project)
    backup.restore(out)
    db = store.connect()
    assert label_rows(db) == saved
    assert sqlite3.connect(out / "sieve.db").execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert os.path.exists(version_dir) and os.path.exists(store.latest_encoder(db, project)["path"])


def test_restore_is_refused_while_a_worker_is_live(db, project, tmp_path):
    backup.backup(tmp_path / "backup")
    store.worker_heartbeat(db, "host:1:abc", 1, "host", "cpu")
    with pytest.raises(backup.BackupError, match="worker is running"):
        backup.restore(tmp_path / "backup")


def test_a_backup_taken_while_labels_are_written_is_consistent(db, project, data_dir, tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
from core import store
from core.labeling import annotate
db = store.connect()
for example_id in store.example_ids(db, {project})[20:]:
    annotate.submit_label(db, auth.local_actor("writer"), {project}, annotate.NextText.direct(example_id), "yes")
"""], env={**os.environ, "SIEVE_DATA_DIR": str(data_dir)})
    try:
        time.sleep(0.5)
        before = store.label_count(db, project)
        backup.backup(tmp_path / "backup")
        after = store.label_count(db, project)
    finally:
        writer.wait(60)
    copy = sqlite3.connect(tmp_path / "backup" / "sieve.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    in_copy = copy.execute("SELECT count(*) FROM annotations").fetchone()[0]
    assert before <= in_copy <= after and before < len(TEXTS)  # taken while the writer ran
    # A consistent snapshot: the copy's labels are exactly the first labels of the live store.
    assert label_rows(str(tmp_path / "backup" / "sieve.db")) == label_rows(db)[:in_copy]


def test_the_command_line_backs_up_and_restores(db, project, data_dir, tmp_path):
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    done = run("backup", str(tmp_path / "b"))
    assert done.returncode == 0 and "20 labels" in done.stdout, done.stderr
    store.worker_heartbeat(db, "host:1:abc", 1, "host", "cpu")
    refused = run("restore", str(tmp_path / "b"))
    assert refused.returncode != 0 and "worker is running" in refused.stderr
    store.remove_worker(db, "host:1:abc")
    assert run("restore", str(tmp_path / "b")).returncode == 0
