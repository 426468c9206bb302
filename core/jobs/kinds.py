"""Job kinds as a user reads them, and the kind of a stored job row whatever its age.

Light on purpose (it imports only the store's constants), so the UI, the labeling side and the
file exports can name and tell apart jobs without loading what the worker runs; the worker's
table of what each kind does and in which lane is `core.jobs.worker.JOBS`.
"""
from __future__ import annotations

from core import store

# What every page and the sidebar call a job: one mapping, never the raw kind.
NAMES = {
    store.HEAD: "quick model refit",
    store.FULL: "full retrain",
    store.EMBED: "embedding the texts",
    store.EXPORT: "model export",
    store.DATASET_EXPORT: "dataset export",
    store.PREDICT: "predictions",
    store.QUALITY: "label analysis",
}

# Before the dataset export had a kind of its own it was an `export` job with this format.
LEGACY_DATASET_FORMAT = "hf-datasets"


def kind_of(job: dict) -> str:
    """The job's kind, reading rows stored before `dataset_export` existed as one."""
    if job["kind"] == store.EXPORT and (job.get("params") or {}).get("format") == LEGACY_DATASET_FORMAT:
        return store.DATASET_EXPORT
    return job["kind"]


def name(job: dict | str) -> str:
    """A job's (or a kind's) readable name, e.g. "quick model refit"; an unknown kind reads as "background job"."""
    kind = kind_of(job) if isinstance(job, dict) else job
    return NAMES.get(kind, "background job")
