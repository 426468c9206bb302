"""Where training and export jobs are made: after labels arrive, on request, and for exports.

A label's transaction calls `schedule_training`, so a refit is requested in the same commit
as the label that triggers it. The worker claims the jobs (`core.worker`).
"""
from __future__ import annotations

from dataclasses import dataclass

from core import store
from core.jobs import kinds
from core.team import auth

TRAIN_NOW_PRIORITY = 5


def _last_requested(db, project_id: int, kind: str) -> int:
    """The newest label watermark a job of this kind was requested for (expression index jobs_watermark)."""
    return store.last_requested_watermark(db, project_id, kind)


def schedule_training(db, conn, project_id: int) -> list[str]:
    """Enqueue a head refit every `refit_every` new labels and a full retrain at the project's
    cadence (after every batch when the worker has a GPU). Both are coalesced (`store.enqueue_coalesced`):
    while one waits in the queue, new labels join it; while one runs, one more is queued to follow.

    Runs inside the label's write transaction, so every query here reads by index and stops early."""
    settings = store.settings(db, project_id)
    watermark = store.max_annotation_id(db, project_id)
    scheduled = []
    cadence = ((store.JobKind.HEAD, settings.refit_every),
               (store.JobKind.FULL, settings.full_retrain_every(store.worker_device(db))))
    for kind, every in cadence:
        if every <= 0:
            continue
        if store.labels_since(db, project_id, _last_requested(db, project_id, kind), at_most=every) < every:
            continue
        # One waiting job per kind and project: a due refit joins the one already queued (it reads
        # the labels when it starts), so refits requested while the pool is embedded never pile up.
        store.enqueue_coalesced(conn, project_id, kind, {"watermark": watermark, "reason": f"{every} new labels"})
        scheduled.append(kind)
    return scheduled


@dataclass
class TrainRequest:
    """What "Train now" did, in words for the user."""

    job_id: int
    message: str


def train_now(db, actor, project_id: int) -> TrainRequest:
    """A full retrain that covers every label present now, ahead of other queued work.

    A queued retrain will read the labels when it starts, so it already covers them; a
    running one read them when it started, so newer labels get a retrain queued to follow it.
    """
    auth.require(db, actor, auth.TRAIN, project_id)
    watermark = store.max_annotation_id(db, project_id)
    newest = store.newest_annotation_at(db, project_id)
    with store.transaction(db) as conn:
        active = [j for j in store.active_jobs(db, project_id) if j["kind"] == store.JobKind.FULL]
        queued = [j for j in active if j["status"] == store.JobStatus.QUEUED]
        if queued:
            return TrainRequest(queued[0]["id"], f"A full retrain is already queued (job {queued[0]['id']}); "
                                                 "it will use every label given so far.")
        running = [j for j in active if j["status"] == store.JobStatus.RUNNING]
        covering = [j for j in running if (j["started_at"] or 0) > newest]  # it read the labels after the newest
        if covering:
            return TrainRequest(covering[0]["id"], f"A full retrain on every current label is running "
                                                   f"(job {covering[0]['id']}).")
        job_id = store.enqueue(conn, project_id, store.JobKind.FULL, {"watermark": watermark, "reason": "requested"},
                               priority=TRAIN_NOW_PRIORITY)
    if running:
        return TrainRequest(job_id, f"A retrain started earlier is still running on fewer labels; this one "
                                    f"(job {job_id}) will follow it with every label given so far.")
    return TrainRequest(job_id, f"Full retrain queued (job {job_id}).")


def request_export(db, actor, project_id: int, version_id: int) -> int:
    """Queue an export of a model version (a zip the Export page offers when it is ready)."""
    auth.require(db, actor, auth.EXPORT, project_id)
    with store.transaction(db) as conn:
        for job in store.active_jobs(db, project_id):
            if kinds.kind_of(job) == store.JobKind.EXPORT and job["params"].get("version_id") == version_id:
                return job["id"]
        return store.enqueue(conn, project_id, store.JobKind.EXPORT, {"version_id": version_id}, priority=3)


def request_dataset_export(db, actor, project_id: int) -> int:
    """Queue an export of the labels as a Hugging Face datasets directory (zipped by the worker)."""
    auth.require(db, actor, auth.EXPORT, project_id)
    with store.transaction(db) as conn:
        for job in store.active_jobs(db, project_id):
            if kinds.kind_of(job) == store.JobKind.DATASET_EXPORT:
                return job["id"]
        return store.enqueue(conn, project_id, store.JobKind.DATASET_EXPORT, {}, priority=3)
