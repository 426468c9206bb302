"""Eval-sample figures and their confidence intervals."""
import numpy as np
import pytest
from sklearn.metrics import f1_score

from core.learning import evaluation


def test_wilson_interval_matches_the_textbook_value():
    low, high = evaluation.wilson_interval(8, 10)  # Newcombe (1998), Table I: 0.490 to 0.943
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert evaluation.wilson_interval(0, 0) == (0.0, 1.0)


def test_bootstrap_macro_f1_is_scikit_learns_on_every_draw():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 6, (40, 120))
    predicted = np.where(rng.random((40, 120)) < 0.7, true, rng.integers(0, 7, (40, 120)))
    expected = [f1_score(t, p, average="macro", zero_division=0) for t, p in zip(true, predicted)]
    np.testing.assert_allclose(evaluation._macro_f1_rows(true, predicted), expected, atol=1e-12)


def test_eval_figures_bracket_the_point_estimates():
    rng = np.random.default_rng(1)
    true = rng.integers(0, 4, 200)
    predicted = np.where(rng.random(200) < 0.8, true, rng.integers(0, 4, 200))
    figures = evaluation.eval_figures(true, predicted)
    assert figures["eval_accuracy_low"] < figures["eval_accuracy"] < figures["eval_accuracy_high"]
    assert figures["eval_macro_f1_low"] < figures["eval_macro_f1"] < figures["eval_macro_f1_high"]
    assert figures["eval_n"] == 200


def test_no_bootstrap_interval_from_a_handful_of_eval_texts():
    figures = evaluation.eval_figures(np.array([0, 1, 1]), np.array([0, 1, 1]))
    assert figures["eval_accuracy_low"] < 1.0 and "eval_macro_f1_low" not in figures
