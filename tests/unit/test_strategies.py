import numpy as np
import pytest

from core.learning import strategies


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 16))
    points = np.concatenate([c + 0.05 * rng.normal(size=(50, 16)) for c in centers])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    probs = rng.dirichlet(np.ones(3), size=len(points)).astype(np.float32)
    return probs, points


def test_uncertainty_scores_order():
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]])
    assert np.argmax(strategies.margin_scores(probs)) == 0
    assert np.argmax(strategies.entropy_scores(probs)) == 0
    assert np.argmin(strategies.least_confidence_scores(probs)) == 1


@pytest.mark.parametrize("name", ["least_confidence", "entropy", "margin"])
def test_uncertainty_strategies_pick_the_most_uncertain(pool, name):
    probs, points = pool
    candidates = np.arange(0, 200, 2)
    picked = strategies.select(name, probs, points, candidates, 5, np.random.default_rng(0))
    score = {"least_confidence": strategies.least_confidence_scores, "entropy": strategies.entropy_scores,
             "margin": strategies.margin_scores}[name](probs)
    assert set(picked.indices) <= set(candidates)
    assert set(picked.indices) == set(candidates[np.argsort(-score[candidates])[:5]])


@pytest.mark.parametrize("name", list(strategies.STRATEGIES))
def test_every_strategy_returns_n_distinct_candidates(pool, name):
    probs, points = pool
    candidates = np.arange(20, 200)
    picked = strategies.select(name, probs, points, candidates, 8, np.random.default_rng(1), class_counts=[3, 3, 3])
    assert len(picked.indices) == 8 == len(set(picked.indices.tolist()))
    assert set(picked.indices.tolist()) <= set(candidates.tolist())


def test_kmeans_covers_every_cluster(pool):
    _, points = pool
    picked = strategies.select("kmeans", None, points, np.arange(200), 4, np.random.default_rng(0))
    assert sorted(picked.indices // 50) == [0, 1, 2, 3]


def test_margin_diverse_keeps_near_duplicates_out_of_a_batch(pool):
    _, points = pool
    points = points.copy()
    points[1:10] = points[0]  # ten copies of one text, the most uncertain of all
    probs = np.tile(np.float32([0.9, 0.05, 0.05]), (200, 1))
    probs[:10] = [0.34, 0.33, 0.33]
    probs[50:60] = [0.36, 0.34, 0.30]
    probs[100:110] = [0.37, 0.34, 0.29]
    plain = strategies.select("margin", probs, points, np.arange(200), 4, np.random.default_rng(0))
    diverse = strategies.select("margin_diverse", probs, points, np.arange(200), 4, np.random.default_rng(0))
    assert (plain.indices < 10).sum() == 4
    assert (diverse.indices < 10).sum() == 1 and len(diverse.indices) == 4


def test_auto_is_kmeans_before_a_model_then_uncertainty(pool):
    probs, points = pool
    rng = np.random.default_rng(0)
    assert strategies.select("auto", None, points, np.arange(200), 4, rng).strategy == "kmeans"
    assert strategies.select("auto", probs, points, np.arange(200), 4, rng, class_counts=[2, 0, 0]).strategy == "kmeans"
    assert strategies.select("auto", probs, points, np.arange(200), 4, rng,
                             class_counts=[2, 1, 0]).strategy == "margin_diverse"


def test_auto_on_two_classes_is_margin_diverse_without_near_duplicates(pool):
    """Chosen on the tuning datasets: margin_diverse also on binary data (no plain-margin rule)."""
    probs, points = pool  # four tight clusters: most pairs inside a cluster are near-duplicates
    binary = np.column_stack([probs[:, 0], 1 - probs[:, 0]])
    chosen = strategies.select("auto", binary, points, np.arange(200), 4, np.random.default_rng(0),
                               class_counts=[2, 1])
    similarity = points[chosen.indices] @ points[chosen.indices].T
    assert chosen.strategy == "margin_diverse" and len(chosen.indices) == 4
    assert similarity[~np.eye(4, dtype=bool)].max() < strategies.NEAR_DUPLICATE
    distinct = np.eye(200)  # nothing alike: the batch comes from the top 3 x 4 by margin
    top = strategies.select("margin", binary, distinct, np.arange(200), 12, np.random.default_rng(0))
    auto = strategies.select("auto", binary, distinct, np.arange(200), 4, np.random.default_rng(0), class_counts=[2, 1])
    assert set(auto.indices) <= set(top.indices)


def test_ties_broken_at_random_not_by_position():
    probs = np.full((100, 2), 0.5)
    firsts = {int(strategies.select("margin", probs, np.eye(100), np.arange(100), 1,
                                    np.random.default_rng(seed)).indices[0]) for seed in range(10)}
    assert len(firsts) > 1


def test_rank_queue_puts_the_batch_first(pool):
    probs, points = pool
    queue = strategies.rank_queue("margin_diverse", probs, points, np.arange(200), 50, 5, np.random.default_rng(0))
    assert len(queue.indices) == 50 == len(set(queue.indices.tolist()))
    batch = strategies.select("margin_diverse", probs, points, np.arange(200), 5, np.random.default_rng(0))
    assert queue.indices[:5].tolist() == batch.indices.tolist()


def test_unknown_strategy():
    with pytest.raises(ValueError, match="Unknown strategy"):
        strategies.select("nope", None, np.eye(3), np.arange(3), 1, np.random.default_rng(0))


def test_badge_distances_match_explicit_gradient_embeddings():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=30)
    points = rng.normal(size=(30, 5))
    u = probs.copy()
    u[np.arange(30), probs.argmax(1)] -= 1
    gradients = (u[:, :, None] * points[:, None, :]).reshape(30, -1)
    picked = strategies.badge(probs, points, np.arange(30), 4, np.random.default_rng(1))
    # The first pick is the longest gradient; every pick is distinct and scored by its D distance.
    assert picked.indices[0] == np.argmax((gradients ** 2).sum(1))
    assert len(set(picked.indices.tolist())) == 4
    second = picked.indices[1]
    np.testing.assert_allclose(picked.scores[1], np.linalg.norm(gradients[second] - gradients[picked.indices[0]]))


def test_badge_prefers_uncertain_texts():
    probs = np.array([[0.99, 0.01]] * 50 + [[0.5, 0.5]] * 50)
    points = np.random.default_rng(0).normal(size=(100, 8))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    picked = strategies.badge(probs, points, np.arange(100), 10, np.random.default_rng(0))
    assert (picked.indices >= 50).mean() >= 0.9


def test_class_cover_takes_the_most_typical_text_of_the_least_labeled_classes():
    probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0.2, 0.1, 0.7], [0.0, 0.3, 0.7]])
    picked = strategies.class_cover(probs, None, np.arange(5), 2, np.random.default_rng(0), class_counts=[0, 5, 0])
    assert sorted(picked.indices.tolist()) == [0, 3]  # classes 0 and 2 have no labels
    everything = strategies.class_cover(probs, None, np.arange(5), 5, np.random.default_rng(0), class_counts=[0, 0, 0])
    assert sorted(everything.indices.tolist()) == [0, 1, 2, 3, 4]
