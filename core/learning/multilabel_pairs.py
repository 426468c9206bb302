"""Contrastive text pairs for fine-tuning an encoder on label sets (issue 21, setfit #500).

Rules for which pairs are positives:
  - `shared`: the two texts share at least one label (two "none of these" texts are positives too);
  - `jaccard`: the same pairs as `shared`, each pair's target similarity the Jaccard overlap of
    the two sets (|A & B| / |A | B|: 1 for the same set, 0.5 for {a} and {a, b}) instead of 1;
  - `identical`: the two texts have exactly the same label set (what SetFit does when it is given
    label lists without a `multi_target_strategy`, the behaviour setfit #500 reported).
Every other pair is a negative (target 0). `pairs` draws a balanced, interleaved list (positive, negative,
positive, ...) with a fixed seed: each anchor text in a shuffled order gets one random positive
partner (when it has one) and one random negative partner, round after round, until `n_pairs`.
Plain numpy over the 0/1 label matrix; no ML library.
"""
from __future__ import annotations

import numpy as np

RULES = ("shared", "jaccard", "identical")
WORDS = {"shared": "texts sharing a label", "jaccard": "texts sharing a label, as similar as their sets overlap",
         "identical": "texts with the same label set"}
# Chosen on a debtags validation split (docs/benchmarks.md, "Multi-label full retrains"): at 200
# labels and 40 steps, seeds 0-2, mean macro-F1 jaccard 0.446, identical 0.444 (a tie within the
# seeds' spread; jaccard ahead on micro-F1 and Hamming loss), shared 0.410 (behind identical in
# each seed), the base encoder 0.392.
DEFAULT_RULE = "jaccard"


def positive_matrix(Y: np.ndarray, rule: str = DEFAULT_RULE) -> np.ndarray:
    """texts x texts bool: which pairs are positives under `rule` (the diagonal is False)."""
    Y = np.asarray(Y, dtype=bool)
    if rule in ("shared", "jaccard"):
        inter = Y.astype(np.int32) @ Y.T.astype(np.int32)
        empty = ~Y.any(1)
        positive = (inter > 0) | (empty[:, None] & empty[None, :])
    elif rule == "identical":
        _, inverse = np.unique(Y, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        positive = inverse[:, None] == inverse[None, :]
    else:
        raise ValueError(f"Unknown pair rule {rule!r}; use one of {', '.join(RULES)}.")
    np.fill_diagonal(positive, False)
    return positive


def jaccard(Y: np.ndarray, i: int, j: int) -> float:
    a, b = np.asarray(Y[i], dtype=bool), np.asarray(Y[j], dtype=bool)
    union = int((a | b).sum())
    return 1.0 if union == 0 else float((a & b).sum()) / union


def pairs(Y: np.ndarray, n_pairs: int, rule: str = DEFAULT_RULE, seed: int = 0) -> list[tuple[int, int, float]]:
    """At most `n_pairs` (row i, row j, target similarity: 1.0 positive, the Jaccard overlap under
    `jaccard`, 0.0 negative), alternating positive and negative while both kinds exist. Empty when
    there are fewer than two texts."""
    n = len(Y)
    if n < 2 or n_pairs < 1:
        return []
    positive = positive_matrix(Y, rule)
    negative = ~positive
    np.fill_diagonal(negative, False)
    rng = np.random.default_rng(seed)
    pos_of = [np.flatnonzero(row) for row in positive]
    neg_of = [np.flatnonzero(row) for row in negative]
    if not any(len(p) for p in pos_of) and not any(len(q) for q in neg_of):
        return []
    out: list[tuple[int, int, float]] = []
    while len(out) < n_pairs:
        for i in rng.permutation(n):
            for partners, label in ((pos_of[i], 1.0), (neg_of[i], 0.0)):
                if len(partners) and len(out) < n_pairs:
                    j = int(partners[rng.integers(len(partners))])
                    out.append((int(i), j, jaccard(Y, i, j) if rule == "jaccard" and label else label))
            if len(out) >= n_pairs:
                break
    return out


def pair_texts(texts, Y: np.ndarray, n_pairs: int, rule: str = DEFAULT_RULE, seed: int = 0) -> dict[str, list]:
    """The pairs as columns `sentence_1`, `sentence_2`, `label` (what a cosine-similarity loss reads)."""
    drawn = pairs(Y, n_pairs, rule, seed)
    return {"sentence_1": [texts[i] for i, _, _ in drawn], "sentence_2": [texts[j] for _, j, _ in drawn],
            "label": [label for _, _, label in drawn]}
