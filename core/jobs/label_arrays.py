"""A project's labels as rows of an embedding matrix: what every fit and every score needs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import store
from core.team import quality
from core.learning.classifiers import head


@dataclass
class LabelRows:
    """Labeled texts as rows of an encoder's `ids`, with class ids (positions in the class list).

    `watermark` is the newest annotation (label, skip or undo) in the project when the labels
    were read: a version with a higher watermark saw a later state of the labels.
    """

    rows: np.ndarray
    y: np.ndarray
    eval_rows: np.ndarray
    eval_y: np.ndarray
    watermark: int

    def sorted_train(self) -> tuple[np.ndarray, np.ndarray]:
        """Training rows in ascending order (memory-map friendly) with their class ids."""
        order = np.argsort(self.rows, kind="stable")
        return self.rows[order], self.y[order]


def label_rows(db, project_id: int, ids: np.ndarray, class_names: list[str]) -> LabelRows:
    """Final labels (`quality.final_labels`: adjudicated > unanimous > majority > single annotator;
    undecided ties left out) of the project's texts that are in `ids`, split into pool (train) and eval."""
    position = {name: i for i, name in enumerate(class_names)}
    watermark = store.max_annotation_id(db, project_id)  # read first: the labels are at least this new
    labels = [f for f in quality.final_labels(db, project_id) if f.label is not None]
    out = {}
    for split in (store.Split.POOL, store.Split.EVAL):
        chosen = [f for f in labels if f.split == split and f.label in position]
        example_ids = np.array([f.example_id for f in chosen], dtype=np.int64)
        rows = np.searchsorted(ids, example_ids)
        present = (rows < len(ids)) & (ids[np.minimum(rows, len(ids) - 1)] == example_ids)
        out[split] = (rows[present], np.array([position[f.label] for f in chosen], dtype=np.int64)[present])
    (rows, y), (eval_rows, eval_y) = out[store.Split.POOL], out[store.Split.EVAL]
    return LabelRows(rows, y, eval_rows, eval_y, watermark)


def class_counts(label_ids: np.ndarray, n_classes: int) -> list[int]:
    return np.bincount(label_ids, minlength=n_classes).tolist()


def unlabeled_pool_rows(db, project_id: int, ids: np.ndarray, labeled_rows: np.ndarray) -> np.ndarray:
    """Rows of the embedding matrix that are pool texts without a label (queue candidates)."""
    pool_rows = np.flatnonzero(np.isin(ids, store.example_ids(db, project_id, store.Split.POOL)))
    return np.setdiff1d(pool_rows, labeled_rows)


def unlabeled_sample(vectors, candidates: np.ndarray, limit: int = head.MAX_PSEUDO_CANDIDATES) -> np.ndarray:
    """Embeddings of (a fixed sample of) the unlabeled rows, read from the memory map, for self-training."""
    return np.asarray(vectors[candidates[head.pseudo_label_candidates(len(candidates), limit)]], dtype=np.float32)
