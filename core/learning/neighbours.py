"""Each pool text's nearest neighbours among a fixed sample of the pool: what density weighting
(`margin_density`, `auto` on two classes) and neighbour-smoothed margins need.

A function of the embeddings alone, so it is computed once per encoder artifact: the embed lane
writes it beside `embeddings.npy` (`save`), and a refit that reads the artifact's memory-mapped
vectors finds it there instead of recomputing it (seconds for a large pool, against the refit's
1 s budget). Arrays without such a file (a simulation's, a retrain's fresh vectors) are computed
and memoised in the process.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from core import artifacts

SAMPLE = 5_000  # neighbours are looked for among this many pool texts (a fixed sample)
K = 10
INDICES_FILE, SIMILARITY_FILE = "neighbours.npy", "neighbour_similarity.npy"
_MEMO: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _fingerprint(embeddings) -> tuple:
    """Shape plus a hash of about 2,000 evenly spaced rows: cheap on a memory-mapped 100k pool."""
    step = max(1, len(embeddings) // 2048)
    rows = np.ascontiguousarray(np.asarray(embeddings[::step], dtype=np.float32))
    return tuple(embeddings.shape), hashlib.sha1(rows.data).hexdigest()


def compute(embeddings, k: int = K, sample: int = SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine similarities) of each text's k nearest other texts among a fixed sample of
    the pool (seeded by the pool size, so the same pool always gets the same answer)."""
    points = np.asarray(embeddings, dtype=np.float32)
    size = len(points)
    reference = np.arange(size) if size <= sample else np.sort(
        np.random.default_rng(size).choice(size, sample, replace=False))
    k = min(k, len(reference) - 1)
    ref_points = points[reference]
    indices = np.empty((size, k), dtype=np.int64)
    similarity = np.empty((size, k), dtype=np.float32)
    for start in range(0, size, 2048):
        block = np.arange(start, min(start + 2048, size))
        sim = points[block] @ ref_points.T
        own = np.searchsorted(reference, block)
        own_hit = (own < len(reference)) & (reference[np.minimum(own, len(reference) - 1)] == block)
        sim[np.flatnonzero(own_hit), own[own_hit]] = -np.inf  # a text is not its own neighbour
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        indices[block] = reference[top]
        similarity[block] = np.take_along_axis(sim, top, axis=1)
    return indices, similarity


def save(directory: Path, embeddings) -> None:
    """Write the default table (K neighbours among SAMPLE texts) into an encoder artifact being built."""
    indices, similarity = compute(embeddings)
    artifacts.save_npy(Path(directory) / INDICES_FILE, indices.astype(np.int32 if len(embeddings) < 2**31 else np.int64))
    artifacts.save_npy(Path(directory) / SIMILARITY_FILE, similarity)


def _from_artifact(embeddings) -> tuple[np.ndarray, np.ndarray] | None:
    """The table saved beside a memory-mapped `embeddings.npy`, if there is one of the right size."""
    filename = getattr(embeddings, "filename", None)
    if not filename:
        return None
    directory = Path(filename).parent
    if not (directory / INDICES_FILE).exists() or not (directory / SIMILARITY_FILE).exists():
        return None
    indices, similarity = np.load(directory / INDICES_FILE), np.load(directory / SIMILARITY_FILE)
    if len(indices) != len(embeddings):
        return None
    return indices.astype(np.int64), similarity


def pool_neighbours(embeddings, k: int = K, sample: int = SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(indices, similarities) of each text's k nearest neighbours: from the encoder artifact when
    `embeddings` is one's memory-mapped vectors, else computed and memoised per pool."""
    key = (*_fingerprint(embeddings), k, sample)
    if key in _MEMO:
        return _MEMO[key]
    table = _from_artifact(embeddings) if (k, sample) == (K, SAMPLE) else None
    if table is None:
        table = compute(embeddings, k, sample)
    if len(_MEMO) > 8:
        _MEMO.clear()
    _MEMO[key] = table
    return table
