"""Online backup while another process labels, then restore; print the figures.

    python bench/backup.py [--texts 100000] [--labels 5000]

Figures: backup and restore seconds, the copy's integrity_check, labels in the copy against
the live store before and after, the writer's slowest label commit while the backup ran, and
whether the restored labels equal the copy's. Results in docs/reliability.md.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time

import common

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from core import store
from core.labeling import annotate
from core.team import auth
db = store.connect()
ids = store.example_ids(db, {project})[{start}:]
worst, t_end = 0.0, time.time() + {seconds}
for example_id in ids:
    t = time.perf_counter()
    annotate.submit_label(db, auth.local_actor("writer"), {project}, annotate.NextText.direct(example_id), "yes")
    worst = max(worst, time.perf_counter() - t)
    if time.time() > t_end:
        break
print(worst)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=5_000)
    args = parser.parse_args()
    data_dir = common.use_scratch_data_dir()
    import pandas as pd

    from core import store
    from core.files import imports
    from core.jobs import backup
    from core.team import auth

    db = store.connect()
    frame = pd.DataFrame({"text": [f"text number {i} about something" for i in range(args.texts)]})
    pid = imports.create_project_from_plan(db, auth.local_actor(), "b", imports.plan_import(frame, "text", None, ["yes", "no"]), eval_fraction=0)
    ids = store.example_ids(db, pid)
    with store.transaction(db) as conn:
        for example_id in ids[:args.labels]:
            store.add_annotation(conn, pid, example_id, "seed", "label", "no")
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(common.ROOT), project=pid,
                                                                    start=args.labels, seconds=40)],
                              env={**os.environ, "SIEVE_DATA_DIR": str(data_dir)}, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while store.label_count(db, pid) < args.labels + 3 and time.time() < deadline:  # the writer is writing
        time.sleep(0.05)
    before = store.label_count(db, pid)
    out = data_dir.parent / (data_dir.name + "-backup")
    summary = backup.backup(out)
    after = store.label_count(db, pid)
    worst = float(writer.communicate()[0])
    copy = sqlite3.connect(out / "sieve.db")
    integrity = copy.execute("PRAGMA integrity_check").fetchone()[0]
    in_copy = copy.execute("SELECT count(*) FROM annotations").fetchone()[0]
    rows = copy.execute("SELECT id, example_id, label FROM annotations ORDER BY id").fetchall()
    started = time.perf_counter()
    backup.restore(out)
    restore_s = time.perf_counter() - started
    restored = store.connect().conn.execute("SELECT id, example_id, label FROM annotations ORDER BY id").fetchall()
    db_mb = os.path.getsize(out / "sieve.db") / 1e6
    print(f"store: {args.texts:,} texts, {db_mb:.0f} MB; backup {summary['seconds']:.2f} s, restore {restore_s:.2f} s")
    print(f"labels in the copy {in_copy:,} (live store {before:,} before the backup, {after:,} after)")
    print(f"integrity_check {integrity}; restored labels identical to the copy: {restored == rows}")
    print(f"writer's slowest label commit during the run: {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
