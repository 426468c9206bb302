import numpy as np

from core.learning import stopping


def test_stabilizing_predictions_needs_a_full_window_above_threshold():
    assert not stopping.stabilizing_predictions([None, 0.995, 0.999]).fired  # only two versions compared
    assert not stopping.stabilizing_predictions([None, 0.5, 0.995, 0.999]).fired  # mean 0.83
    signal = stopping.stabilizing_predictions([None, 0.5, 0.995, 0.999, 0.998])
    assert signal.fired and "stopped changing for 3 versions" in signal.explanation
    assert abs(signal.value - np.mean([0.995, 0.999, 0.998])) < 1e-9


def test_overall_uncertainty_and_budget():
    confident = np.array([[0.99, 0.01], [0.97, 0.03]])
    unsure = np.array([[0.5, 0.5], [0.6, 0.4]])
    assert stopping.overall_uncertainty(stopping.mean_uncertainty(confident)).fired
    assert not stopping.overall_uncertainty(stopping.mean_uncertainty(unsure)).fired
    assert not stopping.overall_uncertainty(None).fired
    assert stopping.label_budget(100, 100).fired and not stopping.label_budget(99, 100).fired
    assert not stopping.label_budget(1000, None).fired


def test_first_stop_reports_the_first_firing_step():
    kappas = [None, 0.8, 0.99, 0.995, 0.999, 1.0]
    stops = stopping.first_stop(kappas, [0.5, 0.3, 0.2, 0.09, 0.05, 0.04], [10, 20, 30, 40, 50, 60], budget=50)
    assert stops == {"stabilizing_predictions": 4, "overall_uncertainty": 3, "label_budget": 4}
