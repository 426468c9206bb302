"""The real worker process: the background loop, and a kill -9 in the middle of a retrain."""
import os
import signal
import subprocess
import sys
import time

import pytest

from core import config, store
from core.labeling import annotate, scheduling
from core.team import auth
from core.settings import ProjectSettings
from tests.conftest import ROOT, TREC_CLASSES, dataset, make_project, stop_worker, wait_for

pytestmark = pytest.mark.integration
CLASSES = TREC_CLASSES


def start_worker(data_dir, stale_s="3"):
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir), "SIEVE_STALE_AFTER_S": stale_s}
    return subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env,
                            stdout=open(data_dir / "worker-test.log", "ab"), stderr=subprocess.STDOUT)




def test_background_refit_and_kill_mid_retrain(db, data_dir):
    frame = dataset("trec6", "train", 200)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame, CLASSES, name="trec",
                       settings=ProjectSettings(family_args={"setfit": {"max_steps": 400, "batch_size": 8}}))
    process = start_worker(data_dir)
    try:
        wait_for(lambda: store.latest_encoder(db, pid), 180, "the pool embedding")
        for _ in range(10):
            shown = annotate.next_text(db, auth.local_actor("ann"), pid)
            annotate.submit_label(db, auth.local_actor("ann"), pid, shown, gold[shown.text])
        head = wait_for(lambda: (v := store.latest_version(db, pid)) and v["n_labels"] == 10 and v, 30,
                        "a head version with all 10 labels")
        assert head["kind"] == "head"

        job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
        wait_for(lambda: store.job(db, job_id)["progress"] > 0.0 and "training step" in store.job(db, job_id)["message"],
                 180, "the retrain to start training")
        # A new project's embedding does not wait behind the running retrain.
        other = make_project(db, dataset("sst2", "train", 60), ["negative", "positive"], name="second")
        wait_for(lambda: store.latest_encoder(db, other), 60, "the second project's embedding")
        assert store.job(db, job_id)["status"] == store.JobStatus.RUNNING
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_pid = process.pid
    finally:
        if process.poll() is None:
            process.kill()

    # The last good version still serves; nothing half-written is referenced.
    assert store.latest_version(db, pid)["id"] == head["id"]
    assert annotate.next_text(db, auth.local_actor("ann"), pid).version_id == head["id"]
    assert store.job(db, job_id)["status"] == store.JobStatus.RUNNING

    # Once its heartbeat is stale, the job goes back to the queue and a new worker takes it.
    time.sleep(3.5)
    assert job_id in store.requeue_stale_jobs(db, stale_after_s=3)
    assert store.job(db, job_id)["status"] == store.JobStatus.QUEUED
    assert all(".tmp-" not in v["path"] for v in store.versions(db, pid))
    process = start_worker(data_dir)
    try:
        wait_for(lambda: store.job(db, job_id)["status"] == store.JobStatus.RUNNING and store.job(db, job_id)["attempts"] == 2,
                 60, "a new worker to claim the re-queued retrain")
        # Starting up, the worker swept the temporary directory the killed one left behind.
        assert not list((config.data_dir() / "projects").glob(f"*/*/.tmp-*-{killed_pid}-*"))
    finally:
        stop_worker(process, grace=20)


def labeled_trec_project(db, data_dir, name="trec", n_labels=10):
    """A project with `n_labels` labels and a retrain made slow (400 steps), plus a live worker."""
    frame = dataset("trec6", "train", 200)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame, CLASSES, name=name, settings=ProjectSettings(
        retrain_every=0, family_args={"setfit": {"max_steps": 400, "batch_size": 8}}))
    process = start_worker(data_dir)
    wait_for(lambda: store.latest_encoder(db, pid), 180, "the pool embedding")
    for _ in range(n_labels):
        shown = annotate.next_text(db, auth.local_actor("ann"), pid)
        annotate.submit_label(db, auth.local_actor("ann"), pid, shown, gold[shown.text])
    wait_for(lambda: (v := store.latest_version(db, pid)) and v["n_labels"] == n_labels, 60, "a head version")
    return pid, process


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_retrain_stops_the_worker_cleanly(db, data_dir, stop_signal):
    """Finding 8: SIGTERM/SIGINT during a retrain hands the job back and exits 0 within seconds
    (it used to abort with -6, "terminate called without an active exception")."""
    pid, process = labeled_trec_project(db, data_dir)
    try:
        job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
        wait_for(lambda: "training step" in store.job(db, job_id)["message"], 180, "the retrain to train")
        started = time.monotonic()
        process.send_signal(stop_signal)
        code = process.wait(30)
        stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    log = (data_dir / "worker-test.log").read_text(errors="replace")
    assert code == 0, log[-2000:]
    assert "terminate called" not in log
    assert stopped_in < 12, stopped_in
    job = store.job(db, job_id)
    assert job["status"] == store.JobStatus.QUEUED and job["attempts"] == 0, job
    assert job["message"] == "the worker was stopped; re-queued"
    assert store.live_workers(db) == []
    assert not list(data_dir.rglob(".tmp-*")), "a temporary directory was left behind"
