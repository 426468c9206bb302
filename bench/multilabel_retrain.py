"""Multi-label full retrains on debtags (issue 21): which contrastive pairs are positives.

    nice -n 10 python bench/multilabel_retrain.py --labels 200 --val 600 --max-steps 40 --seeds 0 1 2

Validation only (the tuning protocol): a fixed-seed cut of debtags *train* gives `--labels`
labeled texts and `--val` validation texts (disjoint; the cut depends only on the seed); debtags
test is never read. Per seed and pair rule (`shared`: texts sharing a label are positives;
`identical`: only identical label sets, SetFit's behaviour for label lists without a
multi_target_strategy, setfit #500), the app's SetFit multi-label retrain
(`core.learning.multilabel_full.train`, thresholds on its held-back slice) trains on the labeled
texts and is scored on the validation texts: macro-F1 (over labels present there) and micro-F1,
with the training seconds. `frozen` is the same head and thresholds on the base encoder, for
reference. Prints one JSON line per run and a summary (mean and 95 % t interval over seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core import config  # noqa: E402
from core.learning import embeddings, labelsets, multilabel_full  # noqa: E402
from core.learning import multilabel as ml  # noqa: E402
from core.learning.classifiers import setfit_family  # noqa: E402


def cut(seed: int, n_labels: int, n_val: int):
    frame = pd.read_csv(config.multilabel_dir() / "debtags" / "train.csv", dtype=str, keep_default_na=False)
    classes = sorted({c for cell in frame["labels"] for c in labelsets.parse_cell(cell)})
    order = np.random.default_rng(seed).permutation(len(frame))
    part = lambda rows: (frame["text"].iloc[rows].tolist(),  # noqa: E731
                         labelsets.one_hot([labelsets.parse_cell(frame["labels"].iloc[i]) for i in rows], classes))
    return classes, part(order[:n_labels]), part(order[n_labels:n_labels + n_val])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--val", type=int, default=600)
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rules", nargs="+", default=["shared", "identical"])
    parser.add_argument("--out", type=Path, default=None)
    a = parser.parse_args(argv)
    runs = []
    for seed in a.seeds:
        classes, (texts, Y), (val_texts, val_Y) = cut(seed, a.labels, a.val)
        base = embeddings.load_encoder(None)
        X, V = embeddings.encode(base, texts), embeddings.encode(base, val_texts)
        held = multilabel_full.held_back(len(Y), seed)
        coef, b = ml.fit_weights(X[~held], Y[~held])
        t = ml.tune_thresholds(ml.sigmoid(X[held].astype(np.float64) @ coef.T + b), Y[held])
        coef, b = ml.fit_weights(X, Y)
        frozen = ml.scores(val_Y, ml.sigmoid(V.astype(np.float64) @ coef.T + b) >= t)
        runs.append({"seed": seed, "rule": "frozen", "seconds": 0.0, **frozen})
        print(json.dumps(runs[-1]), flush=True)
        for rule in a.rules:
            args = setfit_family.SetFitArguments(max_steps=a.max_steps, batch_size=a.batch_size,
                                                 max_length=a.max_length, pair_rule=rule, seed=seed)
            started = time.perf_counter()
            trained = multilabel_full.train("setfit", None, texts, Y, classes, args, seed=seed)
            seconds = time.perf_counter() - started
            _, probs = trained.embed_and_score(val_texts)
            runs.append({"seed": seed, "rule": rule, "seconds": round(seconds, 1), "steps": trained.info.steps,
                         **ml.scores(val_Y, probs >= trained.thresholds)})
            print(json.dumps(runs[-1]), flush=True)
    from scipy import stats

    summary = {}
    for rule in ["frozen", *a.rules]:
        mine = [r for r in runs if r["rule"] == rule]
        row = {}
        for key in ("macro_f1", "micro_f1", "seconds"):
            v = np.array([r[key] for r in mine], dtype=float)
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
            row[key] = [round(float(v.mean()), 4), round(float(half), 4)]
        summary[rule] = row
    shared = {r["seed"]: r["macro_f1"] for r in runs if r["rule"] == "shared"}
    identical = {r["seed"]: r["macro_f1"] for r in runs if r["rule"] == "identical"}
    diffs = [shared[s] - identical[s] for s in shared if s in identical]
    if diffs:
        summary["shared_minus_identical_macro_f1"] = [round(float(np.mean(diffs)), 4), [round(d, 4) for d in diffs]]
    print(json.dumps({"summary": summary, "args": vars(a) | {"out": str(a.out)}}, indent=1))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"runs": runs, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
