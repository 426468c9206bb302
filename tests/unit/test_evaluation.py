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


def test_a_perfect_eval_score_keeps_an_honest_macro_f1_interval():
    """30 of 30 eval texts right: every bootstrap draw scores 1.0, so the bootstrap alone says
    1.00-1.00, a certainty 30 texts cannot give; accuracy's Wilson interval at n = 30 is 0.89-1.00."""
    true = np.array([0, 1] * 15)
    figures = evaluation.eval_figures(true, true.copy())
    low, high = evaluation.wilson_interval(30, 30)
    assert figures["eval_macro_f1"] == 1.0 and figures["eval_macro_f1_high"] == 1.0
    assert figures["eval_macro_f1_low"] <= low + 1e-12 < 0.9
    assert figures["eval_macro_f1_high"] - figures["eval_macro_f1_low"] >= high - low - 1e-12


@pytest.mark.parametrize("seed", range(20))
def test_the_macro_f1_interval_is_never_narrower_than_accuracys_wilson_interval(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 80))
    true = rng.integers(0, int(rng.integers(2, 5)), n)
    predicted = np.where(rng.random(n) < rng.uniform(0.6, 1.0), true, rng.integers(0, 4, n))
    figures = evaluation.eval_figures(true, predicted)
    low, high = evaluation.wilson_interval(int((true == predicted).sum()), n)
    assert figures["eval_macro_f1_high"] - figures["eval_macro_f1_low"] >= high - low - 1e-12
    assert figures["eval_macro_f1_low"] <= figures["eval_macro_f1"] <= figures["eval_macro_f1_high"]


def test_the_floor_leaves_a_wide_bootstrap_interval_alone():
    """Many classes, few texts each: the bootstrap interval is wider than Wilson's and stays as it was."""
    rng = np.random.default_rng(3)
    true = rng.integers(0, 8, 40)
    predicted = np.where(rng.random(40) < 0.5, true, rng.integers(0, 8, 40))
    figures = evaluation.eval_figures(true, predicted)
    draws = np.random.default_rng(0).integers(0, 40, size=(1000, 40))
    boot_low, boot_high = np.percentile(evaluation._macro_f1_rows(true[draws], predicted[draws]), [2.5, 97.5])
    low, high = evaluation.wilson_interval(int((true == predicted).sum()), 40)
    assert boot_high - boot_low > high - low  # the case this test is about
    assert figures["eval_macro_f1_low"] == pytest.approx(boot_low)
    assert figures["eval_macro_f1_high"] == pytest.approx(boot_high)
