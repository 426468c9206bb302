"""What the Model page shows, computed from the stored versions: plain rows and figures.

Eval figures (a random sample the model never picks) come first with their 95 % intervals;
cross-validated figures are secondary and labelled as such: they are measured on the texts
the model chose as hardest, so they run low.
"""
from __future__ import annotations

import time

import numpy as np

from core import store
from core.learning import classifiers

EVAL_SERIES = {"eval_accuracy": "accuracy", "eval_macro_f1": "macro-F1"}
CV_SERIES = {"cv_accuracy": "accuracy", "cv_macro_f1": "macro-F1"}


def learning_curve(versions: list[dict]) -> list[dict]:
    """One row per version and eval metric: labels, when, value and its 95 % interval."""
    rows = []
    for v in versions:
        m = v["metrics"]
        for key, name in EVAL_SERIES.items():
            if key in m:
                rows.append({"labels": v["n_labels"], "version": v["number"], "created": v["created_at"],
                             "metric": name, "value": m[key], "low": m.get(f"{key}_low", m[key]),
                             "high": m.get(f"{key}_high", m[key]), "eval texts": m.get("eval_n", 0)})
    return rows


MULTILABEL_SERIES = {"eval_micro_f1": "micro-F1", "eval_macro_f1": "macro-F1"}


def multilabel_curve(versions: list[dict]) -> list[dict]:
    """`learning_curve`'s rows for a multi-label project: micro- and macro-F1 with their bootstrap intervals."""
    rows = []
    for v in versions:
        m = v["metrics"]
        for key, name in MULTILABEL_SERIES.items():
            if key in m:
                low, high = m.get(f"{key}_ci", [m[key], m[key]])
                rows.append({"labels": v["n_labels"], "version": v["number"], "created": v["created_at"],
                             "metric": name, "value": m[key], "low": low, "high": high, "eval texts": m.get("eval_n", 0)})
    return rows


def weakest_labels(version: dict, at_most: int = 5) -> list[str]:
    """The served multi-label version's labels with the lowest eval F1 (fewest eval texts first on
    ties), among labels with eval texts: a label without any has no F1 to speak of."""
    per_label = [r for r in version["metrics"].get("eval_per_label", []) if r["support"] > 0]
    return [r["label"] for r in sorted(per_label, key=lambda r: (r["f1"], r["support"]))[:at_most]]


def per_label_curve(versions: list[dict], labels: list[str]) -> list[dict]:
    """Per-label learning curves: each version's eval F1 (with its bootstrap interval) for `labels`."""
    wanted = set(labels)
    return [{"labels": v["n_labels"], "version": v["number"], "label": r["label"], "F1": r["f1"],
             "low": r["ci"][0], "high": r["ci"][1], "eval texts": r["support"]}
            for v in versions for r in v["metrics"].get("eval_per_label", []) if r["label"] in wanted and r["support"]]


def cross_validated_curve(versions: list[dict]) -> list[dict]:
    rows = []
    for v in versions:
        for key, name in CV_SERIES.items():
            if key in v["metrics"]:
                rows.append({"labels": v["n_labels"], "version": v["number"], "metric": name,
                             "value": v["metrics"][key]})
    return rows


def _with_interval(m: dict, key: str) -> str:
    if key not in m:
        return "–"
    if f"{key}_low" in m:
        return f"{m[key]:.2f} ({m[f'{key}_low']:.2f}–{m[f'{key}_high']:.2f})"
    return f"{m[key]:.2f}"


def _family(v: dict) -> str:
    if v["kind"] == "full":
        return classifiers.title(v["params"].get("family", "setfit"))
    return "quick model (" + v["params"].get("head", {}).get("kind", "logistic_regression").replace("_", " ") + ")"


def newest_label_times(db, versions: list[dict]) -> dict[int, float]:
    """When the newest label each version learned from was given (by label watermark)."""
    return store.annotation_times(db, [v["label_watermark"] for v in versions if v["label_watermark"]])


def serving_reason(v: dict, served_id: int | None, pinned_id: int | None) -> str:
    """Why a version is or is not served, in words: a pin, the comparison after a retrain, or labels."""
    if v["id"] == pinned_id:
        return "pinned: served and exported until it is unpinned"
    reason = v["params"].get("serving", {}).get("reason")
    if reason and reason.startswith("served") and v["id"] != served_id:
        return "was " + reason + "; a version trained on newer labels replaced it"
    if reason:
        return reason
    if v["id"] == served_id:
        return "served: trained on the newest labels"
    return "–"


def version_rows(versions: list[dict], served_id: int | None, pinned_id: int | None = None,
                 label_times: dict[int, float] | None = None) -> list[dict]:
    """The versions table, newest first, with no empty cells: '–' where a figure does not apply."""
    label_times = label_times or {}
    rows = []
    for v in reversed(versions):
        newest = label_times.get(v["label_watermark"])
        m, t = v["metrics"], v["timings"]
        seconds = t.get("total_s")
        rows.append({
            "version": v["number"], "served": ("pinned" if v["id"] == pinned_id else "yes") if v["id"] == served_id else "",
            "model": _family(v), "labels": v["n_labels"],
            "newest label": time.strftime("%Y-%m-%d %H:%M", time.localtime(newest)) if newest else "–",
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(v["created_at"])), "eval accuracy (95% CI)": _with_interval(m, "eval_accuracy"),
            "eval macro-F1 (95% CI)": _with_interval(m, "eval_macro_f1"),
            "eval texts": m.get("eval_n", 0), "cross-validated accuracy": _with_interval(m, "cv_accuracy"),
            "training time": f"{seconds:.1f} s" if seconds is not None else "–",
            "device": t.get("device", "cpu"),
            "why served or not": serving_reason(v, served_id, pinned_id),
        })
    return rows


def pin_history_words(history: list[dict], at_most: int = 5) -> str:
    """The newest pins and unpins in words ("Pins: pinned version 2 by ann at 2026-11-22 10:05; ..."), or ""."""
    return ("Pins: " + "; ".join(
        f"{'pinned version ' + str(h['number']) if h['version_id'] else 'unpinned'} by {h['pinned_by']} "
        f"at {time.strftime('%Y-%m-%d %H:%M', time.gmtime(h['created_at']))}" for h in history[:at_most])) if history else ""


def label_timeline(db, project_id: int, points: int = 60) -> list[dict]:
    """Labels in effect now, counted per class as they were given: at most `points` moments, each
    with every class's running count ({time, class, labels})."""
    labels = store.current_labels(db, project_id)
    names = store.class_names(db, project_id)
    if not labels:
        return []
    times = np.array([r["created_at"] for r in labels], dtype=float)
    classes = np.array([names.index(r["label"]) if r["label"] in names else -1 for r in labels])
    order = np.argsort(times, kind="stable")
    times, classes = times[order], classes[order]
    moments = np.unique(np.quantile(times, np.linspace(0, 1, min(points, len(times)))))
    rows = []
    for moment in moments:
        given = classes[times <= moment]
        counts = np.bincount(given[given >= 0], minlength=len(names))
        rows += [{"time": float(moment), "class": name, "labels": int(counts[i])} for i, name in enumerate(names)]
    return rows
