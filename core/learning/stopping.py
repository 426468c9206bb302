"""Stopping criteria: when more labels are unlikely to help much.

Plain functions over the figures every version records (its pool predictions' Cohen's
kappa against the previous version, and the pool's mean uncertainty), so the app, the
worker and the simulator judge a run the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KAPPA_THRESHOLD = 0.99  # Bloodgood & Vijay-Shanker (CoNLL 2009) stop at agreement >= 0.99...
KAPPA_WINDOW = 3  # ...averaged over the last three versions
UNCERTAINTY_THRESHOLD = 0.1  # mean (1 - top probability) over the unlabeled pool


@dataclass
class StopSignal:
    criterion: str
    fired: bool
    value: float | None
    threshold: float | None
    explanation: str


def stabilizing_predictions(kappas: list[float | None], window: int = KAPPA_WINDOW,
                            threshold: float = KAPPA_THRESHOLD) -> StopSignal:
    """Successive versions label the pool (almost) the same way: Cohen's kappa averaged over a window
    (Bloodgood & Vijay-Shanker, 'A Method for Stopping Active Learning Based on Stabilizing Predictions')."""
    recent = [k for k in kappas if k is not None][-window:]
    if len(recent) < window:
        return StopSignal("stabilizing_predictions", False, None, threshold,
                          f"Needs {window} comparisons of a version with the one before it; "
                          f"{len(recent)} so far.")
    mean = float(np.mean(recent))
    if mean >= threshold:
        text = (f"Predictions have stopped changing for {window} versions (mean kappa {mean:.3f} ≥ {threshold}); "
                "more labels are unlikely to help much.")
    else:
        text = (f"Predictions are still changing: mean kappa over the last {window} versions is {mean:.3f} "
                f"(stop at ≥ {threshold}).")
    return StopSignal("stabilizing_predictions", mean >= threshold, mean, threshold, text)


def mean_uncertainty(probs: np.ndarray) -> float:
    """Mean least-confidence (1 - top probability) over the given rows."""
    if len(probs) == 0:
        return 0.0
    return float(np.mean(1.0 - np.asarray(probs, dtype=np.float32).max(axis=1)))


def overall_uncertainty(uncertainty: float | None, threshold: float = UNCERTAINTY_THRESHOLD) -> StopSignal:
    """The model is confident about nearly all unlabeled texts (Zhu et al., 'Multi-criteria-based
    strategy to stop active learning', 2008)."""
    if uncertainty is None:
        return StopSignal("overall_uncertainty", False, None, threshold,
                          "No pool uncertainty recorded yet: the next model version will have it.")
    fired = uncertainty < threshold
    text = (f"The model is confident on the unlabeled texts (mean uncertainty {uncertainty:.3f} < {threshold})."
            if fired else f"Mean uncertainty on the unlabeled texts is {uncertainty:.3f} (stop below {threshold}).")
    return StopSignal("overall_uncertainty", fired, uncertainty, threshold, text)


def label_budget(n_labels: int, budget: int | None) -> StopSignal:
    if not budget:
        return StopSignal("label_budget", False, float(n_labels), None, "No label budget set.")
    fired = n_labels >= budget
    text = f"{n_labels} of {budget} budgeted labels given." + (" The budget is spent." if fired else "")
    return StopSignal("label_budget", fired, float(n_labels), float(budget), text)


def signals(versions: list[dict], budget: int | None = None) -> list[StopSignal]:
    """Every criterion for a project's version history (oldest first)."""
    kappas = [v["metrics"].get("kappa_previous") for v in versions]
    latest = versions[-1] if versions else None
    return [
        stabilizing_predictions(kappas),
        overall_uncertainty(latest["metrics"].get("mean_uncertainty") if latest else None),
        label_budget(latest["n_labels"] if latest else 0, budget),
    ]


def first_stop(kappas: list[float | None], uncertainties: list[float], n_labels: list[int],
               budget: int | None = None) -> dict[str, int | None]:
    """For a finished run, the step at which each criterion would first have fired (None: never)."""
    out: dict[str, int | None] = {"stabilizing_predictions": None, "overall_uncertainty": None, "label_budget": None}
    for step in range(len(n_labels)):
        for signal in (stabilizing_predictions(kappas[:step + 1]), overall_uncertainty(uncertainties[step]),
                       label_budget(n_labels[step], budget)):
            if signal.fired and out[signal.criterion] is None:
                out[signal.criterion] = step
    return out
