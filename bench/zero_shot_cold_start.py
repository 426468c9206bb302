"""Zero-shot cold start: class names as a prior classifier before the first label, and to shape
the first batches, against the k-means cold start. Accuracy and macro-F1 at 0, 10, 20, 30 labels.

    python bench/zero_shot_cold_start.py --split validation --datasets clinc150 emotion mr sst2 tweeteval_emotion
    python bench/zero_shot_cold_start.py --split test            # the held-out datasets

The prior: each class name (underscores as spaces; the shared datasets carry no descriptions)
embedded with the project's encoder; a text's prior probabilities are softmax(cosine / T).
Arms, 10 labels a batch:
  kmeans     the app's cold start (`strategies.kmeans` over the unlabeled texts), then the head
             (no model, hence no figure, at 0 labels or while one class is labeled).
  zero-shot  each batch takes, for the classes with the fewest labels so far (ties at random),
             the unlabeled text the prior finds most typical of that class; scored by the prior
             until two classes have labels, then by the head.
  zero-shot + prior  the same labels, scored by the mean of the head's and the prior's
             probabilities (the prior covers classes with no label yet).
  kmeans + class names  the k-means labels, with each class name as one more labeled example
             (`core.class_examples`, the app's default since 2026-11-22): a model from 0 labels.
The head is Sieve's default (`core.learning.classifiers.head`, self-trained from the pool); the first three
arms use it without class names.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import HELD_OUT_DATASETS, load_dataset, use_data_dir  # noqa: E402

STEPS = (0, 10, 20, 30)


def prior_probs(vectors: np.ndarray, class_vectors: np.ndarray, temperature: float) -> np.ndarray:
    logits = vectors @ class_vectors.T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def zero_shot_batch(prior: np.ndarray, labeled: list[int], y: np.ndarray, n: int, rng) -> list[int]:
    counts = np.bincount(y[labeled], minlength=prior.shape[1]) if labeled else np.zeros(prior.shape[1], int)
    order = np.lexsort((rng.random(prior.shape[1]), counts))  # fewest labels first, ties at random
    taken = set(labeled)
    picked = []
    for c in order:
        if len(picked) == n:
            break
        for row in np.argsort(-prior[:, c]):
            if row not in taken:
                picked.append(int(row))
                taken.add(int(row))
                break
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(HELD_OUT_DATASETS))
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-pool", type=int, default=3000)
    parser.add_argument("--max-eval", type=int, default=1000)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--out-dir", default="bench/out/zero_shot")
    args = parser.parse_args()
    use_data_dir(args.cache)
    from core.learning import evaluation, strategies
    from core.sim import simulate
    from core.learning.classifiers import head

    no_names = head.HeadArguments(class_names=False)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw, lines = [], [f"# Zero-shot vs k-means cold start ({args.split} split, seeds {args.seeds}, "
                      f"T = {args.temperature})", "",
                      "| dataset | arm | " + " | ".join(f"acc@{n}" for n in STEPS) + " | "
                      + " | ".join(f"F1@{n}" for n in STEPS) + " |", "|---|---|" + "---|" * 2 * len(STEPS)]
    for name in args.datasets:
        pool, ev, note = load_dataset(name, args.split, args.max_pool, args.max_eval)
        data = simulate.LabeledData.prepare(pool, ev)
        names, y, y_eval, x, x_eval = data.names, data.y_pool, data.y_test, data.pool_vectors, data.test_vectors
        class_vectors = data.class_vectors
        prior_pool = prior_probs(x, class_vectors, args.temperature)
        prior_eval = prior_probs(x_eval, class_vectors, args.temperature)
        results: dict[str, list[list[dict | None]]] = {"kmeans": [], "zero-shot": [], "zero-shot + prior": [],
                                                        "kmeans + class names": []}
        for seed in args.seeds:
            for arm in ("kmeans", "zero-shot"):
                rng = np.random.default_rng(seed)
                labeled: list[int] = []
                curve, curve_mixed, curve_names = [], [], []
                for n in STEPS:
                    while len(labeled) < n:
                        if arm == "kmeans":
                            rest = np.setdiff1d(np.arange(len(x)), labeled)
                            labeled += strategies.kmeans(None, x, rest, 10, rng).indices.tolist()
                        else:
                            labeled += zero_shot_batch(prior_pool, labeled, y, 10, rng)
                    rest = np.setdiff1d(np.arange(len(x)), labeled)
                    if len(np.unique(y[labeled])) >= 2:
                        model = head.fit(x[labeled], y[labeled], no_names, unlabeled=x[rest])
                        probs = head.predict_proba(model, x_eval, len(names))
                    else:
                        probs = None
                    if arm == "kmeans":  # the same labels, and the class names as examples
                        model = head.fit(x[labeled], y[labeled], head.HeadArguments(), unlabeled=x[rest],
                                         class_examples=class_vectors)
                        curve_names.append(evaluation.scores(y_eval, head.predict_proba(model, x_eval, len(names)).argmax(1)))
                    if arm == "kmeans":
                        curve.append(None if probs is None else evaluation.scores(y_eval, probs.argmax(1)))
                    else:
                        curve.append(evaluation.scores(y_eval, (prior_eval if probs is None else probs).argmax(1)))
                        mixed = prior_eval if probs is None else (probs + prior_eval) / 2
                        curve_mixed.append(evaluation.scores(y_eval, mixed.argmax(1)))
                results[arm].append(curve)
                raw.append({"dataset": name, "arm": arm, "seed": seed, "steps": dict(zip(STEPS, curve))})
                if arm == "kmeans":
                    results["kmeans + class names"].append(curve_names)
                    raw.append({"dataset": name, "arm": "kmeans + class names", "seed": seed,
                                "steps": dict(zip(STEPS, curve_names))})
                if arm == "zero-shot":
                    results["zero-shot + prior"].append(curve_mixed)
                    raw.append({"dataset": name, "arm": "zero-shot + prior", "seed": seed,
                                "steps": dict(zip(STEPS, curve_mixed))})
        for arm, curves in results.items():
            cells = {}
            for metric in ("accuracy", "macro_f1"):
                for i, n in enumerate(STEPS):
                    values = [c[i][metric] for c in curves if c[i] is not None]
                    cells[metric, n] = (f"{np.mean(values):.3f}" + ("" if len(values) == len(curves)
                                                                    else f" ({len(values)}/{len(curves)})")
                                        if values else "—")
            lines.append(f"| {name} | {arm} | " + " | ".join(cells["accuracy", n] for n in STEPS) + " | "
                         + " | ".join(cells["macro_f1", n] for n in STEPS) + " |")
        print("\n".join(lines[-4:]), flush=True)
    lines += ["", "— : no model (fewer than two classes labeled); (k/n): only k of n seeds had a model."]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
    (out_dir / "runs.json").write_text(json.dumps(raw))
    print(f"wrote {out_dir}/summary.md, runs.json")


if __name__ == "__main__":
    main()
