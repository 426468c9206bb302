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
                             class_counts=[2, 1, 0]).strategy == "margin"


def test_auto_previous_is_the_rule_auto_replaced(pool):
    """Until 2026-12-03 `auto` was k-means, then margin_diverse on any number of classes."""
    probs, points = pool
    binary = np.column_stack([probs[:, 0], 1 - probs[:, 0]])
    assert strategies.select("auto_previous", None, points, np.arange(200), 4, np.random.default_rng(0)).strategy == "kmeans"
    for p, counts in ((probs, [2, 1, 0]), (binary, [2, 1])):
        previous = strategies.select("auto_previous", p, points, np.arange(200), 4, np.random.default_rng(0),
                                     class_counts=counts)
        diverse = strategies.select("margin_diverse", p, points, np.arange(200), 4, np.random.default_rng(0))
        assert previous.strategy == "margin_diverse" and np.array_equal(previous.indices, diverse.indices)


def test_auto_is_the_2026_12_02_tuning_winner_under_its_old_name_too(pool):
    probs, points = pool
    binary = np.column_stack([probs[:, 0], 1 - probs[:, 0]])
    for p, counts in ((None, None), (probs, [2, 1, 0]), (binary, [2, 1])):
        a = strategies.select("auto", p, points, np.arange(200), 4, np.random.default_rng(0), class_counts=counts)
        b = strategies.select("auto_density_binary", p, points, np.arange(200), 4, np.random.default_rng(0),
                              class_counts=counts)
        assert a.strategy == b.strategy and np.array_equal(a.indices, b.indices)


def test_auto_density_binary_is_kmeans_before_a_model_then_margin(pool):
    probs, points = pool
    rng = np.random.default_rng(0)
    assert strategies.select("auto_density_binary", None, points, np.arange(200), 4, rng).strategy == "kmeans"
    assert strategies.select("auto_density_binary", probs, points, np.arange(200), 4, rng, class_counts=[2, 0, 0]).strategy == "kmeans"
    assert strategies.select("auto_density_binary", probs, points, np.arange(200), 4, rng,
                             class_counts=[2, 1, 0]).strategy == "margin"


def test_auto_density_binary_on_two_classes_is_margin_density_diverse_without_near_duplicates(pool):
    """The 2026-12-02 tuning winner: density-weighted margin_diverse on binary data."""
    probs, points = pool  # four tight clusters: most pairs inside a cluster are near-duplicates
    binary = np.column_stack([probs[:, 0], 1 - probs[:, 0]])
    chosen = strategies.select("auto_density_binary", binary, points, np.arange(200), 4, np.random.default_rng(0),
                               class_counts=[2, 1])
    similarity = points[chosen.indices] @ points[chosen.indices].T
    assert chosen.strategy == "margin_density_diverse" and len(chosen.indices) == 4
    assert similarity[~np.eye(4, dtype=bool)].max() < strategies.NEAR_DUPLICATE
    distinct = np.eye(200)  # nothing alike: the batch comes from the top 3 x 4 by margin x density
    top = strategies.select("margin_density", binary, distinct, np.arange(200), 12, np.random.default_rng(0))
    auto = strategies.select("auto_density_binary", binary, distinct, np.arange(200), 4, np.random.default_rng(0), class_counts=[2, 1])
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


NEW = ["margin_density", "margin_knn", "margin_coverage", "margin_density_diverse", "margin_kmeanspp", "margin_pairs",
       "logit_margin", "auto_density_binary"]


@pytest.mark.parametrize("name", NEW)
def test_new_strategies_pick_only_candidates_and_repeat_with_a_seed(pool, name):
    probs, points = pool
    labeled = np.arange(0, 200, 5)  # labeled and leased texts are never candidates
    candidates = np.setdiff1d(np.arange(200), labeled)
    first = strategies.select(name, probs, points, candidates, 10, np.random.default_rng(3), labeled=labeled,
                              class_counts=[10, 20, 10])
    again = strategies.select(name, probs, points, candidates, 10, np.random.default_rng(3), labeled=labeled,
                              class_counts=[10, 20, 10])
    assert first.indices.shape == first.scores.shape == (10,)
    assert len(set(first.indices.tolist())) == 10
    assert not set(first.indices.tolist()) & set(labeled.tolist())
    assert np.array_equal(first.indices, again.indices)


def test_an_encoder_artifact_carries_its_neighbour_table_and_a_refit_reads_it_instead_of_computing(pool, tmp_path,
                                                                                                   monkeypatch):
    """The density table is built once in the embed lane (neighbours.save beside embeddings.npy);
    a refit's query over the artifact's memory-mapped vectors only reads it (the 1 s refit budget)."""
    from core.learning import embeddings, neighbours

    _, points = pool
    points = points.astype(np.float32)
    embeddings.write(tmp_path, np.arange(len(points)), points)
    neighbours.save(tmp_path, points)
    mapped = embeddings.read(str(tmp_path))[1]
    expected = neighbours.compute(points)
    neighbours._MEMO.clear()

    def no_computing(*_a, **_k):
        raise AssertionError("the refit recomputed the neighbour table")

    monkeypatch.setattr(neighbours, "compute", no_computing)
    indices, similarity = strategies.pool_neighbours(mapped)
    assert np.array_equal(indices, expected[0]) and np.allclose(similarity, expected[1])
    binary = np.column_stack([np.linspace(0, 1, len(points)), 1 - np.linspace(0, 1, len(points))]).astype(np.float32)
    neighbours._MEMO.clear()
    assert strategies.select("auto", binary, mapped, np.arange(len(points)), 4, np.random.default_rng(0),
                             class_counts=[2, 2]).strategy == "margin_density_diverse"


def test_pool_neighbours_match_brute_force_and_exclude_the_text_itself(pool):
    _, points = pool
    points = points.astype(np.float32)
    indices, similarity = strategies.pool_neighbours(points, k=5)
    sim = points @ points.T
    np.fill_diagonal(sim, -np.inf)
    expected = np.sort(sim, axis=1)[:, -5:]
    assert np.allclose(np.sort(similarity, axis=1), expected, atol=1e-5)
    assert not (indices == np.arange(len(points))[:, None]).any()


def test_margin_density_prefers_a_typical_text_to_an_outlier_at_equal_margin(pool):
    _, points = pool
    points = points.copy()
    outlier = np.random.default_rng(5).normal(size=points.shape[1])
    points[0] = outlier / np.linalg.norm(outlier)  # far from every cluster
    probs = np.tile(np.float32([0.9, 0.05, 0.05]), (200, 1))
    probs[[0, 60]] = [0.5, 0.5, 0.0]  # the outlier and a typical text, equally uncertain
    picked = strategies.select("margin_density", probs, points, np.arange(200), 1, np.random.default_rng(0))
    assert picked.indices.tolist() == [60]
    assert set(strategies.select("margin", probs, points, np.arange(200), 2, np.random.default_rng(0)).indices) == {0, 60}


def test_margin_knn_prefers_an_uncertain_region_to_one_uncertain_text(pool):
    _, points = pool
    probs = np.tile(np.float32([0.9, 0.05, 0.05]), (200, 1))
    probs[0] = [0.5, 0.5, 0.0]  # one uncertain text among confident neighbours
    probs[50:100] = [0.55, 0.45, 0.0]  # a whole cluster less sure
    picked = strategies.select("margin_knn", probs, points, np.arange(200), 3, np.random.default_rng(0))
    assert all(50 <= i < 100 for i in picked.indices)


def test_margin_coverage_prefers_texts_far_from_the_labels(pool):
    _, points = pool
    probs = np.full((200, 3), 1 / 3, dtype=np.float32)  # every text equally uncertain
    labeled = np.arange(0, 105)  # clusters 0 and 1, and five texts of cluster 2; cluster 3 has none
    candidates = np.arange(105, 200)
    picked = strategies.select("margin_coverage", probs, points, candidates, 5, np.random.default_rng(0),
                               labeled=labeled)
    assert all(i >= 150 for i in picked.indices)


@pytest.mark.parametrize("name", ["margin_kmeanspp", "margin_density_diverse"])
def test_diverse_variants_keep_near_duplicates_out_of_a_batch(pool, name):
    _, points = pool
    points = points.copy()
    points[1:10] = points[0]
    probs = np.tile(np.float32([0.9, 0.05, 0.05]), (200, 1))
    probs[:10] = [0.34, 0.33, 0.33]
    probs[50:60] = [0.36, 0.34, 0.30]
    probs[100:110] = [0.37, 0.34, 0.29]
    picked = strategies.select(name, probs, points, np.arange(200), 4, np.random.default_rng(0))
    assert (picked.indices < 10).sum() == 1


def test_margin_pairs_asks_about_several_class_boundaries():
    probs = np.zeros((12, 4), dtype=np.float32)
    probs[:6] = [0.45, 0.44, 0.11, 0.0]  # the six most uncertain texts all sit between classes 0 and 1
    probs[6:9] = [0.0, 0.1, 0.46, 0.44]  # between 2 and 3, a little less uncertain
    probs[9:] = [0.7, 0.0, 0.0, 0.3]
    points = np.eye(12, dtype=np.float32)
    plain = strategies.select("margin", probs, points, np.arange(12), 3, np.random.default_rng(0))
    pairs = strategies.select("margin_pairs", probs, points, np.arange(12), 3, np.random.default_rng(0))
    assert all(i < 6 for i in plain.indices)
    assert sum(i < 6 for i in pairs.indices) == 1 and sum(6 <= i < 9 for i in pairs.indices) == 1


def test_logit_margin_prefers_a_tie_between_likely_classes():
    probs = np.array([[0.10, 0.09] + [0.81 / 9] * 9, [0.45, 0.44, 0.11] + [0.0] * 8], dtype=np.float32)
    points = np.eye(2, 11, dtype=np.float32)
    assert strategies.select("logit_margin", probs, points, np.arange(2), 1, np.random.default_rng(0)).indices[0] == 1
    binary = np.random.default_rng(0).dirichlet([1, 1], size=50).astype(np.float32)
    assert np.array_equal(strategies.select("logit_margin", binary, np.eye(50, dtype=np.float32), np.arange(50), 10,
                                            np.random.default_rng(0)).indices,
                          strategies.select("margin", binary, np.eye(50, dtype=np.float32), np.arange(50), 10,
                                            np.random.default_rng(0)).indices)


def test_auto_density_binary_is_kmeans_then_density_weighted_on_two_classes_and_margin_on_more(pool):
    probs, points = pool
    rng = np.random.default_rng
    assert strategies.auto_density_binary(None, points, np.arange(200), 4, rng(0)).strategy == "kmeans"
    binary = np.concatenate([probs[:, :1], 1 - probs[:, :1]], axis=1)
    assert strategies.auto_density_binary(binary, points, np.arange(200), 4, rng(0),
                           class_counts=[2, 2]).strategy == "margin_density_diverse"
    many = strategies.auto_density_binary(probs, points, np.arange(200), 4, rng(0), class_counts=[2, 2, 2])
    assert np.array_equal(many.indices, strategies.margin(probs, points, np.arange(200), 4, rng(0)).indices)


@pytest.mark.parametrize("name", list(strategies.KNOWN))
def test_every_strategy_has_a_spec_with_a_title_and_a_reason(name):
    spec = strategies.spec(name)
    assert spec.name == name and callable(spec.function)
    assert spec.title.strip() and spec.reason.strip() and isinstance(spec.needs_probs, bool)
    others = [s for s in strategies.KNOWN.values() if s.name != name]
    assert spec.title not in {s.title for s in others}, "two strategies read the same on the Settings page"
    assert spec.reason not in {s.reason for s in others}, "two strategies give the same reason on Annotate"


@pytest.mark.parametrize("name", [s.name for s in strategies.KNOWN.values() if not s.needs_probs])
def test_a_strategy_that_works_cold_runs_without_probabilities(pool, name):
    _, points = pool
    picked = strategies.KNOWN[name].function(None, points, np.arange(200), 5, np.random.default_rng(0))
    assert len(set(picked.indices.tolist())) == 5


@pytest.mark.parametrize("name", [s.name for s in strategies.KNOWN.values() if s.needs_probs])
def test_a_strategy_that_needs_probabilities_falls_back_to_kmeans_before_a_model(pool, name):
    _, points = pool
    picked = strategies.select(name, None, points, np.arange(200), 4, np.random.default_rng(0))
    assert picked.strategy == "kmeans" and sorted(picked.indices // 50) == [0, 1, 2, 3]
