"""Contrastive pairs for multi-label fine-tuning (issue 21, setfit #500): texts that share a label
are positives under the default rule, only identical sets under `identical`."""
import numpy as np
import pytest

from core.learning import multilabel_pairs as mp

# a: {x}, b: {x, y}, c: {y}, d: {z}, e: none of these, f: none of these
Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]], dtype=np.uint8)


def test_texts_sharing_a_label_are_positives_under_the_shared_rule():
    positive = mp.positive_matrix(Y, "shared")
    assert positive[0, 1] and positive[1, 2]  # {x}~{x,y}, {x,y}~{y}: one shared label is enough
    assert not positive[0, 2] and not positive[0, 3]  # {x} vs {y}, {x} vs {z}: nothing shared
    assert positive[4, 5] and not positive[3, 4]  # two "none of these" answers agree; none vs {z} does not
    assert not positive.diagonal().any() and (positive == positive.T).all()


def test_identical_rule_needs_the_same_set():
    positive = mp.positive_matrix(Y, "identical")
    assert not positive[0, 1] and not positive[1, 2]  # SetFit's rule for label lists: overlap is a negative
    assert positive[4, 5]
    assert positive.sum() == 2


def test_pairs_are_labelled_by_the_rule_balanced_and_seeded():
    drawn = mp.pairs(Y, 40, "shared", seed=3)
    positive = mp.positive_matrix(Y, "shared")
    assert len(drawn) == 40
    assert all(i != j and label == float(positive[i, j]) for i, j, label in drawn)
    n_pos = sum(label for _, _, label in drawn)
    assert 14 <= n_pos <= 26  # interleaved positive, negative per anchor
    assert drawn == mp.pairs(Y, 40, "shared", seed=3) and drawn != mp.pairs(Y, 40, "shared", seed=4)
    with_identical = mp.pairs(Y, 40, "identical", seed=3)
    assert all(label == 0.0 for i, j, label in with_identical if {i, j} != {4, 5})
    # the pair (a, b) shares x: positive under the default, negative under identical
    assert any({i, j} == {0, 1} and label == 1.0 for i, j, label in mp.pairs(Y, 400, "shared", seed=0))
    assert any({i, j} == {0, 1} and label == 0.0 for i, j, label in mp.pairs(Y, 400, "identical", seed=0))


def test_the_default_rule_is_the_one_chosen_on_validation_and_setfit_uses_it():
    from core.learning.classifiers.setfit_family import SetFitArguments

    assert mp.DEFAULT_RULE == "jaccard" == SetFitArguments().pair_rule  # docs/benchmarks.md
    # by default texts sharing a label are positives, as similar as their sets overlap
    assert (mp.positive_matrix(Y) == mp.positive_matrix(Y, "shared")).all()
    assert {round(label, 2) for _, _, label in mp.pairs(Y, 200, seed=1)} == {0.0, 0.5, 1.0}


def test_text_columns_and_edge_cases():
    texts = list("abcdef")
    columns = mp.pair_texts(texts, Y, 6, "shared", seed=0)
    assert set(columns) == {"sentence_1", "sentence_2", "label"} and len(columns["label"]) == 6
    assert mp.pairs(Y[:1], 10) == [] and mp.pairs(Y, 0) == []
    with pytest.raises(ValueError, match="pair rule"):
        mp.positive_matrix(Y, "overlap")


def test_multi_target_strategy_is_a_checked_project_setting():
    from core.settings import ProjectSettings, SettingsError, families_for

    assert ProjectSettings().multi_target_strategy == "one-vs-rest"
    assert ProjectSettings.from_dict({"multi_target_strategy": "multi-output"}).multi_target_strategy == "multi-output"
    with pytest.raises(SettingsError, match="multi-target strategy"):
        ProjectSettings(multi_target_strategy="chain")
    assert families_for("multi") == ("setfit", "transformer") and "setfit-diff" in families_for("single")


def test_jaccard_rule_targets_the_overlap_of_the_sets():
    drawn = mp.pairs(Y, 400, "jaccard", seed=0)
    targets = {(min(i, j), max(i, j)): label for i, j, label in drawn}
    assert targets[(0, 1)] == 0.5 and targets.get((4, 5)) == 1.0  # {x} vs {x, y}; none vs none
    assert all(label == 0.0 for (i, j), label in targets.items() if not mp.positive_matrix(Y, "shared")[i, j])
    assert (mp.positive_matrix(Y, "jaccard") == mp.positive_matrix(Y, "shared")).all()
