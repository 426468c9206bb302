"""Job kinds as a user reads them, and the kind of a stored job row whatever its age.

Light on purpose (it imports only the store's constants), so the UI, the labeling side and the
file exports can name and tell apart jobs without loading what the worker runs; the worker's
table of what each kind does and in which lane is `core.jobs.worker.JOBS`.
"""
from __future__ import annotations

from dataclasses import dataclass

from core import store

# What every page and the sidebar call a job: one mapping, never the raw kind.
NAMES = {
    store.JobKind.HEAD: "quick model refit",
    store.JobKind.FULL: "full retrain",
    store.JobKind.EMBED: "embedding the texts",
    store.JobKind.EXPORT: "model export",
    store.JobKind.DATASET_EXPORT: "dataset export",
    store.JobKind.PREDICT: "predictions",
    store.JobKind.QUALITY: "label analysis",
}

# Before the dataset export had a kind of its own it was an `export` job with this format.
LEGACY_DATASET_FORMAT = "hf-datasets"


def kind_of(job: dict) -> str:
    """The job's kind, reading rows stored before `dataset_export` existed as one."""
    if job["kind"] == store.JobKind.EXPORT and (job.get("params") or {}).get("format") == LEGACY_DATASET_FORMAT:
        return store.JobKind.DATASET_EXPORT
    return job["kind"]


def name(job: dict | str) -> str:
    """A job's (or a kind's) readable name, e.g. "quick model refit"; an unknown kind reads as "background job"."""
    kind = kind_of(job) if isinstance(job, dict) else job
    return NAMES.get(kind, "background job")


def time_left(job: dict, now: float) -> float | None:
    """Seconds a running job has left by its progress so far, or None while that says too little
    (queued, no start time, under 2 % done)."""
    fraction, started = job.get("progress") or 0.0, job.get("started_at")
    if job["status"] != store.JobStatus.RUNNING or started is None or fraction < 0.02:
        return None
    return max(now - started, 0.0) * (1 - min(fraction, 1.0)) / fraction


def duration_words(seconds: float) -> str:
    """About how long, in words: "about 40 s", "about 3 min", "about 1 h 5 min"."""
    if seconds < 60:
        return f"about {max(round(seconds / 5) * 5, 5):.0f} s"
    minutes = round(seconds / 60)
    return f"about {minutes} min" if minutes < 60 else f"about {minutes // 60} h {minutes % 60} min"


@dataclass(frozen=True)
class JobLine:
    """One line of job status for a page: a running job, or identical queued jobs taken together."""

    running: bool
    fraction: float  # 0..1, for a progress bar (0 while queued)
    text: str  # plain words; the page shows them as plain text


def status_line(job: dict, now: float) -> JobLine:
    """A job in words: "full retrain: step 3 of 80 · about 2 min left", or "queued: dataset export"."""
    if job["status"] != store.JobStatus.RUNNING:
        return JobLine(False, 0.0, f"{job['status']}: {name(job)}")
    message = job.get("message") or "started"
    # A job that estimates its own time (training does, from its step budget) says so in its message.
    left = None if message.endswith(" left") else time_left(job, now)
    return JobLine(True, min(max(job.get("progress") or 0.0, 0.0), 1.0),
                   f"{name(job)}: {message}" + (f" · {duration_words(left)} left" if left is not None else ""))


def status_lines(jobs: list[dict], now: float) -> list[JobLine]:
    """Running jobs one line each; queued jobs one line per kind with how many wait, e.g.
    "queued: quick model refit × 18" (refits requested while the pool is embedded pile up)."""
    lines = [status_line(job, now) for job in jobs if job["status"] == store.JobStatus.RUNNING]
    waiting: dict[str, int] = {}
    for job in jobs:
        if job["status"] == store.JobStatus.QUEUED:
            waiting[name(job)] = waiting.get(name(job), 0) + 1
    lines += [JobLine(False, 0.0, f"queued: {what}" + (f" × {n}" if n > 1 else "")) for what, n in waiting.items()]
    return lines


def job_rows(jobs: list[dict]) -> list[dict]:
    """A table of jobs for a page: id, what (its readable name), status, attempts, message."""
    return [{"id": job["id"], "job": name(job), "status": job["status"], "attempts": job["attempts"],
             "message": job["message"]} for job in jobs]
