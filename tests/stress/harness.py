"""Many annotator processes and a real worker on one SQLite file: shared by the stress tests
and bench/concurrency.py. Everything here runs real OS processes; nothing is mocked."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core import store
from core.files import imports
from core.team import auth
from tests.conftest import wait_for  # noqa: F401 (the stress tests and bench/concurrency.py use it from here)

ROOT = Path(__file__).resolve().parents[2]
TREC_CLASSES = ["abbreviation", "description", "entity", "human", "location", "numeric"]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def pool_texts(n: int) -> pd.DataFrame:
    """2,000 real TREC questions (tests.conftest.dataset); bigger runs add short real texts
    (emotion) so that 20 annotators x 500 labels never run out."""
    from tests.conftest import dataset

    frame = dataset("trec6", "train", 2000)[["text"]]
    if n > len(frame):
        extra = dataset("emotion", "train")[["text"]]
        frame = pd.concat([frame, extra]).assign(text=lambda f: f["text"].str.strip())
        frame = frame[frame["text"] != ""].drop_duplicates("text").head(n)
    return frame.reset_index(drop=True)


PASSWORD = "stress-test-password"  # the annotators sign in with it (SIEVE_STRESS_PASSWORD)


def create_project(db, n_texts: int, annotators: list[str] = ()) -> int:
    """A project from real texts; its import queues the embedding job the worker runs. With
    `annotators`, team mode: an admin creates it and an annotator account for each, assigned to it."""
    plan = imports.plan_import(pool_texts(n_texts), "text", None, TREC_CLASSES)
    if not annotators:
        return imports.create_project_from_plan(db, auth.local_actor(), "stress", plan)
    admin = auth.create_user(db, None, "stress-admin", PASSWORD, auth.ADMIN)
    project_id = imports.create_project_from_plan(db, admin, "stress", plan)
    for name in annotators:
        auth.assign(db, admin, auth.create_user(db, admin, name, PASSWORD, auth.ANNOTATOR).user_id, project_id)
    return project_id


def start_worker(data_dir: Path) -> subprocess.Popen:
    """The real worker (`python -m core worker`): embeds the pool, then publishes head versions.
    The slow lane (full SetFit retrains) is left out: minutes of CPU training would measure the
    2-core machine, not the store."""
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir)}
    return subprocess.Popen([sys.executable, "-m", "core", "worker", "--lanes", "fast,embed"], cwd=ROOT, env=env,
                            stdout=open(data_dir / "worker.log", "ab"), stderr=subprocess.STDOUT)




def annotator_command(name: str, labels: int, seed: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.stress.annotator", "--name", name, "--labels", str(labels),
            "--seed", str(seed), *extra]


def annotator_name(i: int) -> str:
    return f"ann{i}"


def run_annotators(data_dir: Path, n: int, labels: int, timeout: float) -> list[dict]:
    """Start n annotator processes, let them go at once, and collect what each recorded; each
    signs in with its account (team mode, see `create_project`)."""
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir), "SIEVE_STRESS_PASSWORD": PASSWORD}
    go = data_dir / "go"
    processes = []
    for i in range(n):
        out = data_dir / f"ann{i}.json"
        processes.append((out, subprocess.Popen(
            annotator_command(annotator_name(i), labels, i, "--go-file", str(go), "--out", str(out)),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(data_dir / f"ann{i}.log", "wb"), text=True)))
    for _, process in processes:  # each says "ready" once its imports are done
        assert process.stdout.readline().strip() == "ready", "an annotator process failed to start"
    go.touch()
    deadline = time.time() + timeout
    for _, process in processes:
        process.wait(timeout=max(1.0, deadline - time.time()))
    results = []
    for out, process in processes:
        assert process.returncode == 0 and out.exists(), f"annotator died (rc {process.returncode}), see {out}.log"
        results.append(json.loads(out.read_text()))
    return results


@dataclass
class Findings:
    acknowledged: int = 0
    missing: list = field(default_factory=list)  # acknowledged labels not in the annotations table
    undo_missing: list = field(default_factory=list)  # acknowledged undos without their row
    doubly_labeled: list = field(default_factory=list)  # texts with labels in effect by two annotators
    errors: list = field(default_factory=list)  # exceptions that reached a caller
    refused: list = field(default_factory=list)  # AnnotationErrors (busy, taken) a caller got
    integrity: str = ""


def check(db, project_id: int, results: list[dict]) -> Findings:
    """What must hold after any run: nothing acknowledged lost, no text labeled by two people."""
    found = Findings(integrity=db.conn.execute("PRAGMA integrity_check").fetchone()[0])
    rows = {r["id"]: r for r in store.annotations(db, project_id)}
    reverted = {r["reverts"] for r in rows.values() if r["action"] == store.Action.UNDO}
    for result in results:
        found.errors += result.get("errors", [])
        found.refused += result.get("refused", [])
        for ack in result["acked"]:
            found.acknowledged += 1
            row = rows.get(ack["id"])
            if row is None or (row["example_id"], row["label"], row["annotator"], row["action"]) != \
                    (ack["example_id"], ack["label"], result["name"], store.Action.LABEL):
                found.missing.append(ack)
            if ack.get("undone") and ack["id"] not in reverted:
                found.undo_missing.append(ack)
    found.doubly_labeled = [tuple(r) for r in db.conn.execute(
        """SELECT example_id, group_concat(DISTINCT annotator) FROM annotations a
           WHERE project_id = ? AND action = 'label' AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
           GROUP BY example_id HAVING count(DISTINCT annotator) > 1""", (project_id,))]
    return found


def latency_summary(results: list[dict]) -> dict[str, dict[str, float]]:
    """p50 / p95 / max in ms per call, over every call of every annotator."""
    summary = {}
    for call in ("next_text", "submit_label", "skip", "undo"):
        values = np.concatenate([np.asarray(r["ms"][call], dtype=float) for r in results])
        if len(values):
            summary[call] = {"n": int(len(values)), "p50": float(np.percentile(values, 50)),
                             "p95": float(np.percentile(values, 95)), "max": float(values.max())}
    return summary


def format_summary(summary: dict, findings: Findings, n: int, labels: int, seconds: float, versions: int) -> str:
    lines = [f"{n} annotator processes x {labels} labels, worker publishing head versions: "
             f"{findings.acknowledged} labels acknowledged in {seconds:.1f} s "
             f"({findings.acknowledged / max(seconds, 1e-9):.0f} labels/s), {versions} head versions published",
             f"{'call':>13} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
    for call, s in summary.items():
        lines.append(f"{call:>13} {s['n']:>7} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['max']:>8.1f}")
    lines.append(f"missing acknowledged labels: {len(findings.missing)}, missing undos: {len(findings.undo_missing)}, "
                 f"texts labeled by two annotators: {len(findings.doubly_labeled)}, "
                 f"exceptions reaching a caller: {len(findings.errors)}, refusals: {len(findings.refused)}, "
                 f"integrity_check: {findings.integrity}")
    return "\n".join(lines)


def run(data_dir: Path, n: int, labels: int, timeout: float = 1800) -> tuple[Findings, dict, str]:
    """The whole stress run: project, worker, embedding, n annotators; returns findings, latencies, report."""
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    db = store.connect()
    project_id = create_project(db, max(2000, int(1.25 * n * labels)), [annotator_name(i) for i in range(n)])
    worker = start_worker(data_dir)
    try:
        wait_for(lambda: store.latest_encoder(db, project_id), 600, "the worker to embed the pool")
        started = time.perf_counter()
        results = run_annotators(data_dir, n, labels, timeout)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(30)
    findings = check(db, project_id, results)
    summary = latency_summary(results)
    versions = sum(v["kind"] == store.JobKind.HEAD for v in store.versions(db, project_id))
    return findings, summary, format_summary(summary, findings, n, labels, seconds, versions)
