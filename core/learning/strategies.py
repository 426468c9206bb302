"""Query strategies: plain functions that pick which unlabeled texts to show next.

Every strategy has the signature
    strategy(probs, embeddings, candidates, n, rng, **context) -> Selection
where `probs` is (pool, classes) or None before the first model, `embeddings` is
(pool, dim) and L2-normalised, `candidates` are the row indices that may be chosen, and
`n` is how many to pick. The result lists chosen row indices in the order to show them,
with a score per pick ("why this text"). Ties are broken at random, never by position.

Each strategy has one `StrategySpec` in `SPECS` (its title on the Settings page, the words
Annotate shows for a text it picked, whether it needs class probabilities): adding a strategy
is a function and a spec here, nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.learning import neighbours

MAX_KMEANS_POINTS = 20_000  # k-means over a sample this large finds the same typical texts, much faster


@dataclass
class Selection:
    indices: np.ndarray
    scores: np.ndarray
    strategy: str


Strategy = Callable[..., Selection]


def _top(scores: np.ndarray, candidates: np.ndarray, n: int, rng: np.random.Generator, name: str) -> Selection:
    """The n highest-scoring candidates, ties broken at random."""
    shuffled = rng.permutation(len(candidates))
    order = shuffled[np.argsort(-scores[shuffled], kind="stable")][:n]
    return Selection(candidates[order], scores[order], name)


def least_confidence_scores(probs: np.ndarray) -> np.ndarray:
    return 1.0 - probs.max(axis=1)


def entropy_scores(probs: np.ndarray) -> np.ndarray:
    clipped = np.clip(probs, 1e-12, 1.0)
    return -(clipped * np.log(clipped)).sum(axis=1)


def margin_scores(probs: np.ndarray) -> np.ndarray:
    """1 - (p_top1 - p_top2): 1 when the two likeliest classes tie."""
    if probs.shape[1] < 2:
        return np.zeros(len(probs))
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def random_sampling(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Uniform random sampling: the baseline every other strategy must beat."""
    picked = rng.choice(candidates, size=min(n, len(candidates)), replace=False)
    return Selection(picked, np.zeros(len(picked)), "random")


def least_confidence(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Lowest top-class probability (Lewis & Gale, SIGIR 1994)."""
    return _top(least_confidence_scores(probs[candidates]), candidates, n, rng, "least_confidence")


def entropy(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Highest predictive entropy (Settles, Active Learning Literature Survey, 2009)."""
    return _top(entropy_scores(probs[candidates]), candidates, n, rng, "entropy")


def margin(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Smallest gap between the two likeliest classes, 'breaking ties' (Scheffer et al., IDA 2001)."""
    return _top(margin_scores(probs[candidates]), candidates, n, rng, "margin")


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray | None = None):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    seed = int(rng.integers(2**31 - 1))
    if len(points) > 5_000:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=1)
    return model.fit(points, sample_weight=weights)


def kmeans(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Texts nearest to k-means centroids: typical and diverse, for the cold start
    (Zhdanov, 'Diverse mini-batch active learning', 2019; small-text EmbeddingKMeans)."""
    n = min(n, len(candidates))
    pool = candidates
    if len(pool) > MAX_KMEANS_POINTS:
        pool = rng.choice(candidates, MAX_KMEANS_POINTS, replace=False)
    points = np.asarray(embeddings[np.sort(pool)], dtype=np.float32)
    pool = np.sort(pool)
    model = _kmeans(points, n, rng)
    similarity = points @ model.cluster_centers_.T
    sizes = np.bincount(model.labels_, minlength=n)
    picked, scores = [], []
    for cluster in np.argsort(-sizes, kind="stable"):  # largest (most typical) clusters first
        members = np.flatnonzero(model.labels_ == cluster)
        if len(members) == 0:
            continue
        best = members[np.argmax(similarity[members, cluster])]
        picked.append(pool[best])
        scores.append(float(similarity[best, cluster]))
    return Selection(np.array(picked, dtype=np.int64), np.array(scores), "kmeans")


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p, q = np.clip(p, 1e-12, 1.0), np.clip(q, 1e-12, 1.0)
    return (p * np.log(p / q)).sum(axis=-1)


def contrastive(probs, embeddings, candidates, n, rng, labeled=None, k: int = 10, **_) -> Selection:
    """Contrastive examples: predictions that differ most (KL) from those of their k nearest
    labeled neighbours in embedding space (Margatina et al., 'Active Learning by Acquiring
    Contrastive Examples', EMNLP 2021)."""
    if labeled is None or len(labeled) == 0:
        return margin(probs, embeddings, candidates, n, rng)
    labeled = np.asarray(labeled, dtype=np.int64)
    labeled_points = np.asarray(embeddings[labeled], dtype=np.float32)
    labeled_probs = np.asarray(probs[labeled], dtype=np.float32)
    k = min(k, len(labeled))
    scores = np.empty(len(candidates), dtype=np.float32)
    for start in range(0, len(candidates), 8192):
        block = candidates[start:start + 8192]
        similarity = np.asarray(embeddings[block], dtype=np.float32) @ labeled_points.T
        neighbours = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        scores[start:start + len(block)] = _kl_rows(labeled_probs[neighbours], probs[block][:, None, :]).mean(axis=1)
    return _top(scores, candidates, n, rng, "contrastive")


def class_balanced(probs, embeddings, candidates, n, rng, class_counts=None, **_) -> Selection:
    """Margin uncertainty weighted towards classes with few labels, so rare classes are found
    on imbalanced data (after Ein-Dor et al., EMNLP 2020; Bengar et al., WACV 2022)."""
    if class_counts is None:
        return margin(probs, embeddings, candidates, n, rng)
    counts = np.asarray(class_counts, dtype=np.float32)
    rarity = 1.0 / (1.0 + counts)
    rarity /= rarity.max()
    candidate_probs = np.asarray(probs[candidates], dtype=np.float32)
    scores = margin_scores(candidate_probs) * (candidate_probs @ rarity)
    return _top(scores, candidates, n, rng, "class_balanced")


NEAR_DUPLICATE = 0.95  # cosine similarity above which two texts count as the same for a batch


def margin_diverse(probs, embeddings, candidates, n, rng, beta: int = 3, **_) -> Selection:
    """Top beta*n by margin (beta=3 beat 10 on sst2 and trec6), then one text per cluster of an
    uncertainty-weighted k-means, so a batch holds no near-duplicates (Zhdanov 2019,
    'Diverse mini-batch active learning')."""
    ranked = margin(probs, embeddings, candidates, max(10 * n, n), rng)
    top_indices, top_scores = ranked.indices[:beta * n], ranked.scores[:beta * n]
    if len(top_indices) <= n:
        return Selection(top_indices, top_scores, "margin_diverse")
    points = np.asarray(embeddings[top_indices], dtype=np.float32)
    distinct = len(np.unique(points.round(4), axis=0))
    model = _kmeans(points, min(n, distinct), rng, weights=np.maximum(top_scores, 1e-6))
    picked = [members[np.argmax(top_scores[members])] for cluster in range(model.n_clusters)
              if len(members := np.flatnonzero(model.labels_ == cluster))]
    chosen = [int(top_indices[i]) for i in sorted(picked, key=lambda i: -top_scores[i])]
    scores = [float(top_scores[i]) for i in sorted(picked, key=lambda i: -top_scores[i])]
    # Duplicated texts can leave fewer clusters than n: fill up, further down the ranking.
    return _fill_without_near_duplicates(ranked, embeddings, n, chosen, scores, "margin_diverse")


def _fill_without_near_duplicates(ranked: Selection, embeddings, n: int, chosen: list[int], scores: list[float],
                                  name: str) -> Selection:
    """`chosen`, then texts in `ranked` order that are not near-duplicates of one already in, up to n."""
    for index, score in zip(ranked.indices.tolist(), ranked.scores.tolist()):
        if len(chosen) >= n:
            break
        if index in chosen:
            continue
        if chosen:
            similarity = np.asarray(embeddings[chosen], dtype=np.float32) @ np.asarray(embeddings[index], np.float32)
            if similarity.max() >= NEAR_DUPLICATE:
                continue
        chosen.append(index)
        scores.append(score)
    return Selection(np.array(chosen, dtype=np.int64), np.array(scores), name)


def class_cover(probs, embeddings, candidates, n, rng, class_counts=None, **_) -> Selection:
    """For the classes with the fewest labels (ties at random), the candidate each class's
    column of `probs` rates highest: a first batch that covers the classes, e.g. from a zero-shot
    prior over the class names before any label."""
    counts = np.zeros(probs.shape[1]) if class_counts is None else np.asarray(class_counts, dtype=float)
    order = np.lexsort((rng.random(probs.shape[1]), counts))
    candidate_probs = np.asarray(probs[candidates], dtype=np.float32)
    picked, scores, taken = [], [], np.zeros(len(candidates), dtype=bool)
    while len(picked) < min(n, len(candidates)):
        for column in order:
            if len(picked) == min(n, len(candidates)):
                break
            column_scores = np.where(taken, -np.inf, candidate_probs[:, column])
            best = int(np.argmax(column_scores))
            taken[best] = True
            picked.append(int(candidates[best]))
            scores.append(float(candidate_probs[best, column]))
    return Selection(np.array(picked, dtype=np.int64), np.array(scores), "class_cover")


MAX_BADGE_CANDIDATES = 20_000  # k-means++ over a sample this large: a batch costs O(sample x n)


def badge(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """BADGE (Ash et al., 'Deep Batch Active Learning by Diverse, Uncertain Gradient Lower
    Bounds', ICLR 2020) for a softmax head on the embeddings: k-means++ seeding over the
    last-layer gradient embeddings g_i = (p_i - onehot(argmax p_i)) (x) x_i, so a batch is both
    uncertain (long gradients) and diverse (far-apart gradients).

    The gradients are never built (they would be classes x dim wide): k-means++ needs only
    squared distances, and <g_i, g_j> = <u_i, u_j> <x_i, x_j> with u = p - onehot(argmax p).
    """
    n = min(n, len(candidates))
    pool = candidates
    if len(pool) > MAX_BADGE_CANDIDATES:
        pool = rng.choice(candidates, MAX_BADGE_CANDIDATES, replace=False)
    p = np.asarray(probs[pool], dtype=np.float64)
    u = p.copy()
    u[np.arange(len(u)), p.argmax(axis=1)] -= 1.0
    x = np.asarray(embeddings[pool], dtype=np.float64)
    norms = (u * u).sum(1) * (x * x).sum(1)  # |g_i|^2
    if not np.any(norms > 0):
        return random_sampling(probs, embeddings, pool, n, rng)
    first = int(np.flatnonzero(norms == norms.max())[rng.integers((norms == norms.max()).sum())])
    chosen, scores = [first], [float(np.sqrt(norms[first]))]
    distance = np.maximum(norms + norms[first] - 2 * (u @ u[first]) * (x @ x[first]), 0.0)
    distance[first] = 0.0
    while len(chosen) < n:
        total = distance.sum()
        if total <= 0:  # every remaining gradient equals one already chosen: fill at random
            rest = np.setdiff1d(np.arange(len(pool)), chosen)
            chosen += rng.choice(rest, n - len(chosen), replace=False).tolist()
            scores += [0.0] * (n - len(scores))
            break
        nxt = int(rng.choice(len(pool), p=distance / total))  # D^2 sampling, as in k-means++
        chosen.append(nxt)
        scores.append(float(np.sqrt(distance[nxt])))
        distance = np.minimum(distance, np.maximum(norms + norms[nxt] - 2 * (u @ u[nxt]) * (x @ x[nxt]), 0.0))
        distance[nxt] = 0.0
    return Selection(pool[np.array(chosen, dtype=np.int64)], np.array(scores), "badge")


# Each text's nearest neighbours (density, neighbour-smoothed margins) live in core.learning.neighbours,
# computed once per encoder artifact in the embed lane and read from it by every refit.
DENSITY_SAMPLE, DENSITY_K, pool_neighbours = neighbours.SAMPLE, neighbours.K, neighbours.pool_neighbours


def density(embeddings) -> np.ndarray:
    """Mean cosine similarity of each pool text to its k nearest neighbours: high in dense
    regions (typical texts), low for outliers (Settles & Craven, EMNLP 2008, 'information density')."""
    return pool_neighbours(embeddings)[1].mean(axis=1)


def margin_density(probs, embeddings, candidates, n, rng, beta: float = 1.0, **_) -> Selection:
    """Margin uncertainty times density**beta: uncertain texts that are typical of many
    others, not outliers (information density, Settles & Craven 2008)."""
    dens = np.clip(density(embeddings)[candidates], 1e-6, None)
    scores = margin_scores(np.asarray(probs[candidates], dtype=np.float32)) * dens ** beta
    return _top(scores, candidates, n, rng, "margin_density")


def margin_knn(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Margin of the probabilities averaged over each text and its nearest neighbours: uncertain
    *regions* rather than single uncertain texts, so one odd text does not win a pick."""
    neighbours = pool_neighbours(embeddings)[0][candidates]
    p = np.asarray(probs, dtype=np.float32)
    smoothed = (p[candidates] + p[neighbours].sum(axis=1)) / (1 + neighbours.shape[1])
    return _top(margin_scores(smoothed), candidates, n, rng, "margin_knn")


def margin_coverage(probs, embeddings, candidates, n, rng, labeled=None, gamma: float = 1.0, **_) -> Selection:
    """Margin times (1 - cosine to the nearest labeled text)**gamma: uncertain texts in regions
    the labels do not cover yet (uncertainty plus core-set distance)."""
    scores = margin_scores(np.asarray(probs[candidates], dtype=np.float32))
    if labeled is not None and len(labeled):
        points = np.asarray(embeddings[np.asarray(labeled, dtype=np.int64)], dtype=np.float32)
        nearest = np.concatenate([(np.asarray(embeddings[candidates[s:s + 8192]], dtype=np.float32) @ points.T).max(1)
                                  for s in range(0, len(candidates), 8192)])
        scores = scores * np.clip(1.0 - nearest, 0.0, None) ** gamma
    return _top(scores, candidates, n, rng, "margin_coverage")


def margin_density_diverse(probs, embeddings, candidates, n, rng, beta: float = 1.0, pool_factor: int = 3,
                           **_) -> Selection:
    """margin_diverse over density-weighted margins: the top pool_factor*n by margin x
    density**beta, then one text per cluster of a score-weighted k-means."""
    ranked = margin_density(probs, embeddings, candidates, max(10 * n, n), rng, beta=beta)
    return _diverse_from_ranking(ranked, embeddings, n, rng, pool_factor, "margin_density_diverse")


def _diverse_from_ranking(ranked: Selection, embeddings, n: int, rng, pool_factor: int, name: str) -> Selection:
    top_indices, top_scores = ranked.indices[:pool_factor * n], ranked.scores[:pool_factor * n]
    if len(top_indices) <= n:
        return Selection(top_indices, top_scores, name)
    points = np.asarray(embeddings[top_indices], dtype=np.float32)
    distinct = len(np.unique(points.round(4), axis=0))
    model = _kmeans(points, min(n, distinct), rng, weights=np.maximum(top_scores, 1e-6))
    picked = [members[np.argmax(top_scores[members])] for cluster in range(model.n_clusters)
              if len(members := np.flatnonzero(model.labels_ == cluster))]
    order = sorted(picked, key=lambda i: -top_scores[i])
    return _fill_without_near_duplicates(ranked, embeddings, n, [int(top_indices[i]) for i in order],
                                         [float(top_scores[i]) for i in order], name)


def margin_kmeanspp(probs, embeddings, candidates, n, rng, pool_factor: int = 10, **_) -> Selection:
    """Breaking ties with k-means++ diversity in the candidate set: among the top pool_factor*n
    by margin, the most uncertain first, then each next pick drawn with probability
    proportional to margin x squared distance to the picks so far."""
    ranked = margin(probs, embeddings, candidates, max(pool_factor * n, n), rng)
    if len(ranked.indices) <= n:
        return Selection(ranked.indices, ranked.scores, "margin_kmeanspp")
    points = np.asarray(embeddings[ranked.indices], dtype=np.float64)
    weight = np.maximum(ranked.scores, 1e-9)
    chosen = [0]
    distance = np.maximum(2.0 - 2.0 * points @ points[0], 0.0)
    distance[0] = 0.0
    while len(chosen) < n:
        mass = weight * distance
        if mass.sum() <= 0:
            break
        nxt = int(rng.choice(len(points), p=mass / mass.sum()))
        chosen.append(nxt)
        distance = np.minimum(distance, np.maximum(2.0 - 2.0 * points @ points[nxt], 0.0))
        distance[nxt] = 0.0
    return _fill_without_near_duplicates(ranked, embeddings, n, [int(ranked.indices[i]) for i in chosen],
                                         [float(ranked.scores[i]) for i in chosen], "margin_kmeanspp")


def margin_pairs(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Breaking ties spread over the confusions: candidates grouped by their two likeliest classes
    (an unordered pair), then the smallest-margin text of each pair in turn, pairs ordered by
    their best margin, so a batch asks about many class boundaries rather than one."""
    p = np.asarray(probs[candidates], dtype=np.float32)
    if p.shape[1] < 3:
        return margin(probs, embeddings, candidates, n, rng)
    ranked = margin(probs, embeddings, candidates, len(candidates), rng)
    top2 = np.argpartition(-np.asarray(probs[ranked.indices], dtype=np.float32), 1, axis=1)[:, :2]
    pair = np.sort(top2, axis=1) @ np.array([p.shape[1], 1])
    picked, seen = [], set()
    while len(picked) < min(n, len(ranked.indices)):
        for position in range(len(pair)):  # one pass: the best remaining text of each pair not yet asked
            if len(picked) == n:
                break
            if position in picked or pair[position] in seen:
                continue
            picked.append(position)
            seen.add(pair[position])
        seen.clear()
    return Selection(ranked.indices[picked], ranked.scores[picked], "margin_pairs")


def logit_margin(probs, embeddings, candidates, n, rng, **_) -> Selection:
    """Smallest log-probability gap between the two likeliest classes, log p1 - log p2: the
    margin of the logits, which a softmax temperature does not reorder. Same ranking as margin
    on two classes; with many classes it prefers ties between likely classes to ties between
    two unlikely ones in a flat distribution."""
    p = np.clip(np.asarray(probs[candidates], dtype=np.float64), 1e-12, 1.0)
    if p.shape[1] < 2:
        return margin(probs, embeddings, candidates, n, rng)
    top2 = np.log(np.partition(p, -2, axis=1)[:, -2:])
    return _top(-(top2[:, 1] - top2[:, 0]), candidates, n, rng, "logit_margin")


def auto(probs, embeddings, candidates, n, rng, class_counts=None, **context) -> Selection:
    """The default: k-means cold start until a model exists (labels of two classes), then on a
    two-class project margin_density_diverse (texts the model is torn between that are typical of
    many others, one per cluster of the batch), and on more classes plain margin.

    Chosen under the tuning protocol (bench/tune_strategies.py, docs/benchmarks.md, 2026-12-02; it
    ran there as `auto_density_binary`): on the tuning datasets' validation splits, with the default
    head and a class-balanced start, density weighting gained 2.4 (mr) and 2.0 (sst2) points of
    macro-F1 AUC over margin on the two binary datasets and lost 1.3-1.7 on the many-class ones
    (clinc150, emotion), where plain margin beat margin_diverse by 0.8-0.9. The density table
    comes with the encoder artifact (core.learning.neighbours), so a refit only looks it up.
    """
    if probs is None or class_counts is None or sum(c > 0 for c in class_counts) < 2:
        return kmeans(probs, embeddings, candidates, n, rng)
    if probs.shape[1] == 2:
        return margin_density_diverse(probs, embeddings, candidates, n, rng, **context)
    return margin(probs, embeddings, candidates, n, rng, **context)


def auto_density_binary(probs, embeddings, candidates, n, rng, class_counts=None, **context) -> Selection:
    """`auto` under the name the 2026-12-02 tuning and held-out runs gave it, so their commands rerun."""
    return auto(probs, embeddings, candidates, n, rng, class_counts, **context)


def auto_previous(probs, embeddings, candidates, n, rng, class_counts=None, **context) -> Selection:
    """The default until 2026-12-03: k-means cold start, then margin_diverse on any number of classes."""
    if probs is None or class_counts is None or sum(c > 0 for c in class_counts) < 2:
        return kmeans(probs, embeddings, candidates, n, rng)
    return margin_diverse(probs, embeddings, candidates, n, rng, **context)


@dataclass(frozen=True)
class StrategySpec:
    """Everything Sieve knows about one query strategy; adding a strategy adds one of these."""

    name: str  # stored in settings, on every version and with every label
    title: str  # the words on the Settings page
    reason: str  # Annotate: why a text this strategy picked is shown, in plain words
    function: Strategy
    # Needs class probabilities (a model's, or a zero-shot prior's): before the first model
    # `select` runs k-means instead. False: works cold (it copes with `probs=None` itself).
    needs_probs: bool


SPECS: tuple[StrategySpec, ...] = (
    StrategySpec("auto", "Automatic (recommended)",
                 "Picked by the default strategy: typical texts until there is a model, then texts the model is "
                 "torn between (with two classes: typical ones that differ from each other).", auto,
                 needs_probs=False),
    StrategySpec("random", "Random", "Picked at random.", random_sampling, needs_probs=False),
    StrategySpec("least_confidence", "Least confident",
                 "Picked because the model was unsure about it: even its best guess is weak.", least_confidence,
                 needs_probs=True),
    StrategySpec("entropy", "Most uncertain (entropy)",
                 "Picked because the model was unsure about it: it spreads its guesses over several classes.",
                 entropy, needs_probs=True),
    StrategySpec("margin", "Most uncertain", "Picked because the model was torn between two classes for it.",
                 margin, needs_probs=True),
    StrategySpec("margin_diverse", "Most uncertain, spread out",
                 "Picked because the model was torn between two classes for it (and it differs from the others "
                 "in this batch).", margin_diverse, needs_probs=True),
    StrategySpec("kmeans", "Typical texts", "A typical text from a part of the data with few labels yet.", kmeans,
                 needs_probs=False),
    StrategySpec("contrastive", "Unlike their labeled neighbours",
                 "The model treats this text unlike its labeled neighbours.", contrastive, needs_probs=True),
    StrategySpec("class_balanced", "Likely rare classes",
                 "The model thinks this text may belong to a class with few labels.", class_balanced,
                 needs_probs=True),
    StrategySpec("badge", "Uncertain and diverse (BADGE)",
                 "Picked because its label would change the model a lot, and it differs from the other texts "
                 "picked with it.", badge, needs_probs=True),
    StrategySpec("class_cover", "Close to the class names first",
                 "Of all texts, the model rates this one the most likely for a class that has few labels yet.",
                 class_cover, needs_probs=True),
)
STRATEGIES: dict[str, StrategySpec] = {s.name: s for s in SPECS}  # by name, in the Settings page's order


# Candidates tried under the tuning protocol (bench/tune_strategies.py, docs/benchmarks.md): runnable
# by name in simulations and benchmarks, not offered in the app.
CANDIDATES: tuple[StrategySpec, ...] = (
    StrategySpec("margin_density", "Most uncertain and typical",
                 "Picked because the model was torn between two classes for it, and many texts are like it.",
                 margin_density, needs_probs=True),
    StrategySpec("margin_knn", "Most uncertain among its neighbours",
                 "Picked because the model was torn about it and about the texts nearest to it.", margin_knn,
                 needs_probs=True),
    StrategySpec("margin_coverage", "Most uncertain, covering the data",
                 "Picked because the model was torn about it, in a part of the data few picks cover.",
                 margin_coverage, needs_probs=True),
    StrategySpec("margin_density_diverse", "Most uncertain and typical, spread out",
                 "Picked because the model was torn between two classes for it, many texts are like it, and it "
                 "differs from the others in this batch.", margin_density_diverse, needs_probs=True),
    StrategySpec("margin_kmeanspp", "Most uncertain, spread out (k-means++)",
                 "Picked because the model was torn about it, and it lies far from the other picks.",
                 margin_kmeanspp, needs_probs=True),
    StrategySpec("margin_pairs", "Most uncertain, over class pairs",
                 "Picked because the model was torn between a pair of classes that this batch had not asked about.",
                 margin_pairs, needs_probs=True),
    StrategySpec("logit_margin", "Smallest gap between the likeliest classes",
                 "Picked because the model's two likeliest classes were nearly tied for it.", logit_margin,
                 needs_probs=True),
    # `auto` under the name the 2026-12-02 runs gave it (it won that tuning run), and the rule it replaced.
    StrategySpec("auto_density_binary", "Automatic (the 2026-12-02 runs' name)",
                 "Picked by the default strategy, under the name the 2026-12-02 benchmark runs gave it.",
                 auto_density_binary, needs_probs=False),
    StrategySpec("auto_previous", "Automatic, the rule before 2026-12-03",
                 "Picked by the previous default: typical texts until there is a model, then texts the model is "
                 "torn between that differ from each other.", auto_previous, needs_probs=False),
)
KNOWN: dict[str, StrategySpec] = {s.name: s for s in SPECS + CANDIDATES}  # what `select` runs by name


def spec(name: str) -> StrategySpec:
    if name not in KNOWN:
        raise ValueError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")
    return KNOWN[name]


def select(name: str, probs, embeddings, candidates, n: int, rng: np.random.Generator, **context) -> Selection:
    """Run a strategy by name; model-based strategies fall back to k-means before the first model."""
    chosen = spec(name)
    candidates = np.asarray(candidates, dtype=np.int64)
    if len(candidates) == 0 or n <= 0:
        return Selection(np.array([], dtype=np.int64), np.array([]), name)
    if chosen.needs_probs and probs is None:
        chosen = STRATEGIES["kmeans"]
    return chosen.function(probs, embeddings, candidates, n, rng, **context)


def rank_queue(name: str, probs, embeddings, candidates, size: int, batch: int, rng: np.random.Generator,
               **context) -> Selection:
    """The order annotators see: a strategy-chosen batch first, then the rest by margin.

    Refits publish a new queue every few labels, so only the head of it is ever used; the
    tail keeps annotators busy if they outpace the worker.
    """
    first = select(name, probs, embeddings, candidates, batch, rng, **context)
    rest = np.setdiff1d(np.asarray(candidates, dtype=np.int64), first.indices, assume_unique=True)
    remaining = max(size - len(first.indices), 0)
    if probs is not None:
        tail = margin(probs, embeddings, rest, remaining, rng)
    else:
        tail = random_sampling(None, embeddings, rest, remaining, rng)
    return Selection(np.concatenate([first.indices, tail.indices]).astype(np.int64),
                     np.concatenate([first.scores, tail.scores]), first.strategy)
