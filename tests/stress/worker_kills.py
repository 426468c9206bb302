"""kill -9 the worker at random moments of embed, head, full and export jobs, and check recovery.

Each round queues one job of a kind (cycling embed, head, full, export), waits until a worker
runs it, sleeps a random part of that kind's usual duration, and kills the worker with SIGKILL.
A new worker then starts. After every kill:
  - the version served (`store.current_version`) is complete (its files exist) and is the one
    served before the kill or a newer one;
  - once the new worker has started, no temporary directory of the killed worker and no
    artifact directory that no row references remains;
  - the interrupted job runs again: recovery time = from the restart to the job running (or
    finished) in the new worker (a dead worker's jobs are re-queued at once, not after the
    stale timeout).
At the end every job has finished, or failed with a message that says it failed.
Used by tests/stress/test_worker_kills.py (a few kills) and bench/worker_kills.py (50).
"""
from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import stop_worker, wait_for

ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.02  # recovery times are measured by polling: poll finely
KINDS = ("embed", "head", "full", "export")
# First guesses of how long each kind runs (2-core CPU, settings below); each round then uses the
# kind's last measured run, so kills land inside jobs rather than after them.
TYPICAL_S = {"embed": 2.0, "head": 0.3, "full": 12.0, "export": 3.0}
EMBED_TEXTS = 60  # texts added per embed round


def start_worker(data_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env,
                            stdout=open(data_dir / "worker-kills.log", "ab"), stderr=subprocess.STDOUT)




def leftovers(db, killed_pid: int) -> list[str]:
    """Temporary directories of the killed worker and unreferenced artifact directories."""
    from core import config
    from core.jobs import recovery

    root = config.data_dir() / "projects"
    keep = recovery.referenced_dirs(db)
    found = [str(p) for p in root.glob(f"*/*/.tmp-*-{killed_pid}-*")]
    found += [str(p) for p in (config.data_dir() / "scratch").glob(f".tmp-*-{killed_pid}-*")]
    for kind in recovery.ARTIFACT_KINDS:
        for directory in root.glob(f"*/{kind}/*"):
            if directory.is_dir() and not directory.name.startswith(".tmp-") and directory.resolve() not in keep:
                found.append(str(directory))
    return found


def served_ok(db, project_id: int, before: dict | None) -> bool:
    from core import store

    now = store.current_version(db, project_id)
    if before is None:
        return True
    if now is None or (now["label_watermark"], now["number"]) < (before["label_watermark"], before["number"]):
        return False
    encoder = store.encoder(db, now["encoder_id"])
    return (Path(now["path"]) / "probs.npy").exists() and (Path(encoder["path"]) / "embeddings.npy").exists()


def queue_job(db, project_id: int, kind: str, texts: list[str], gold: dict, rng: random.Random) -> int:
    """Queue one job of `kind` the way the app does; returns its id."""
    import pandas as pd

    from core import store
    from core.files import imports
    from core.labeling import annotate, scheduling
    from core.team import auth

    if kind == "embed":
        fresh = [texts.pop() for _ in range(EMBED_TEXTS)]
        imports.add_to_project(db, auth.local_actor(), project_id, pd.DataFrame({"text": fresh}), "text")
    elif kind == "head":
        for _ in range(5):
            shown = annotate.next_text(db, auth.local_actor("ann"), project_id)
            annotate.submit_label(db, auth.local_actor("ann"), project_id, shown, gold.get(shown.text) or rng.choice(
                store.class_names(db, project_id)))
        with store.transaction(db) as conn:  # at once, whatever the refit pace
            store.enqueue(conn, project_id, store.JobKind.HEAD, {"reason": "stress"})
    elif kind == "full":
        scheduling.train_now(db, auth.local_actor(), project_id)
    else:
        scheduling.request_export(db, auth.local_actor(), project_id, store.current_version(db, project_id)["id"])
    return max(j["id"] for j in store.jobs(db, project_id, 5) if j["kind"] == kind)


def run(kills: int, seed: int = 0, log=print) -> dict:
    """Set up a project, kill the worker `kills` times, and return the figures."""
    import pandas as pd

    from core import config, store
    from core.files import imports
    from core.labeling import annotate
    from core.team import auth
    from core.settings import ProjectSettings

    rng = random.Random(seed)
    frame = pd.read_csv(config.datasets_dir() / "trec6" / "train.csv", dtype=str, keep_default_na=False)
    frame = frame.sample(n=min(len(frame), 150 + EMBED_TEXTS * (kills // len(KINDS) + 1)), random_state=seed)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    texts = list(frame["text"].iloc[150:])
    db = store.connect()
    classes = sorted(frame["label"].unique())
    project_id = imports.create_project_from_plan(
        db, auth.local_actor(), "kills", imports.plan_import(frame.iloc[:150], "text", None, classes), eval_fraction=0,
        settings=ProjectSettings(retrain_every=0, family_args={"setfit": {"max_steps": 6, "batch_size": 8,
                                                                          "max_length": 32}}))
    process = start_worker(config.data_dir())
    wait_for(lambda: store.latest_encoder(db, project_id), 300, "the first embedding")
    for _ in range(12):
        shown = annotate.next_text(db, auth.local_actor("ann"), project_id)
        annotate.submit_label(db, auth.local_actor("ann"), project_id, shown, gold[shown.text])
    wait_for(lambda: store.current_version(db, project_id), 120, "the first head version")

    rounds, problems, typical = [], [], dict(TYPICAL_S)
    try:
        for number in range(kills):
            kind = KINDS[number % len(KINDS)]
            # One job in flight per kill: a kill of the follow-up refit of a retrain counts too, and
            # a job killed three times fails for good (MAX_ATTEMPTS), which is not what is measured here.
            wait_for(lambda: not store.active_jobs(db, project_id), 900, "the previous round's jobs", every=0.2)
            before = store.current_version(db, project_id)
            job_id = queue_job(db, project_id, kind, texts, gold, rng)
            wait_for(lambda: store.job(db, job_id)["status"] != store.JobStatus.QUEUED, 600, f"job {job_id} to start")
            time.sleep(rng.uniform(0, typical[kind]))
            mid_job = store.job(db, job_id)["status"] == store.JobStatus.RUNNING
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            killed_pid = process.pid
            if not served_ok(db, project_id, before):
                problems.append(f"round {number}: the served version went back or lost its files")
            restarted = time.monotonic()
            process = start_worker(config.data_dir())
            wait_for(lambda: any(w["pid"] == process.pid for w in store.live_workers(db)), 120, "the new worker",
                     every=POLL_S)
            started_s = time.monotonic() - restarted
            recovered = wait_for(lambda: (j := store.job(db, job_id))["status"] in (store.JobStatus.DONE, store.JobStatus.FAILED)
                                 or (j["status"] == store.JobStatus.RUNNING and j["worker"] and f":{process.pid}:" in j["worker"]),
                                 600, f"job {job_id} to run again", every=POLL_S)
            recovery_s = time.monotonic() - restarted
            left = leftovers(db, killed_pid)
            # An artifact the new worker is writing right now is legitimately unreferenced: look again
            # after its job is done before calling it a leftover.
            if left:
                wait_for(lambda: store.job(db, job_id)["status"] in (store.JobStatus.DONE, store.JobStatus.FAILED), 600, "the job")
                left = leftovers(db, killed_pid)
            if left:
                problems.append(f"round {number}: left behind {left}")
            if not served_ok(db, project_id, before):
                problems.append(f"round {number}: the served version went back after the restart")
            job = wait_for(lambda: (j := store.job(db, job_id))["status"] in (store.JobStatus.DONE, store.JobStatus.FAILED) and j, 600,
                           f"job {job_id} to finish")
            if job["status"] == store.JobStatus.DONE and job["started_at"] and "superseded" not in job["message"]:
                typical[kind] = job["finished_at"] - job["started_at"]
            rounds.append({"kind": kind, "mid_job": mid_job, "worker_start_s": started_s, "recovery_s": recovery_s})
            log(f"kill {number + 1:>2}/{kills}: {kind:<6} {'mid-job' if mid_job else 'after it ended'}, "
                f"worker back in {started_s:.1f} s, job running again after {recovery_s:.1f} s")
        wait_for(lambda: not store.active_jobs(db, project_id), 900, "every job to finish", every=0.5)
    finally:
        stop_worker(process)
    jobs = store.jobs(db, project_id, 10_000)
    failed = [j for j in jobs if j["status"] == store.JobStatus.FAILED]
    problems += [f"job {j['id']} failed with an untrue message: {j['message']}" for j in failed
                 if not j["message"].startswith("failed after")]
    times = sorted(r["recovery_s"] for r in rounds)
    return {"kills": len(rounds), "mid_job": sum(r["mid_job"] for r in rounds),
            "mid_job_by_kind": {k: sum(r["mid_job"] for r in rounds if r["kind"] == k) for k in KINDS},
            "recovery_median_s": statistics.median(times) if times else None,
            "recovery_max_s": max(times) if times else None,
            "worker_start_median_s": statistics.median(r["worker_start_s"] for r in rounds) if rounds else None,
            "jobs": len(jobs), "jobs_failed": len(failed), "versions": len(store.versions(db, project_id)),
            "problems": problems}
