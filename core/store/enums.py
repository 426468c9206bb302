"""The store's typed values. Each is a `StrEnum`, so a member is the string stored in the
database (`JobKind.HEAD == "head"`) and rows read back compare equal to it."""
from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What an annotation row records."""

    LABEL = "label"
    SKIP = "skip"
    UNDO = "undo"  # reverts an earlier label or skip (`reverts` holds its id)


class Split(StrEnum):
    """The pool the model queries, and the eval sample it never chooses from."""

    POOL = "pool"
    EVAL = "eval"


class JobKind(StrEnum):
    EMBED = "embed"  # embed the pool with the project's encoder
    HEAD = "head"  # refit the quick model on the current labels
    FULL = "full"  # a full retrain (fine-tuning)
    EXPORT = "export"  # a model version as a zip that loads without Sieve
    QUALITY = "quality"  # agreement and suspicious labels (core.team.quality)
    PREDICT = "predict"  # a version's predictions on an uploaded file (core.files.predict)
    DATASET_EXPORT = "dataset_export"  # the labels as a Hugging Face datasets zip (older rows: EXPORT, format hf-datasets)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
