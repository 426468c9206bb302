"""Sieve vs small-text, side by side in one run: same data, seeds, grid (HAST) and encoder.

    python bench/compare_small_text.py --seeds 0 1 2 3 4 --max-pool 3000 --max-eval 1000   # held-out datasets
    python bench/compare_small_text.py --datasets trec6 --seeds 0 1 2 --tables same
    python bench/compare_small_text.py --datasets --setfit-dataset trec6 --setfit-steps 6 --seeds 0

small-text 1.4.1 is installed with --no-deps into bench/out/small-text-lib (its own
dependencies are already among our pins), and runs in a child process with that folder on
its path, so our pinned environment is never changed. Both sides get the very same frozen
all-MiniLM-L6-v2 embeddings of the pool and the eval set, and one BLAS/OpenMP thread.

Both sides are scored the same way: probabilities mapped to class ids through the fitted
estimator's `classes_`, then accuracy and macro-F1 (`core.evaluation.scores`). small-text's own
`predict` returns the argmax *position* among the classes seen so far, which is wrong while a
class has no label yet (../shared/STACK.md).

Two tables (--tables):
  shipped  each tool with its own defaults: small-text's LogisticRegression() (C=1, no class
           weights) with its class-balanced initial set (drawn from the gold labels), strategies
           RandomSampling, BreakingTies, LeastConfidence, PredictionEntropy; Sieve's `auto` with
           its default head and its own k-means cold start (no gold labels).
  same     the identical estimator on both sides (Sieve's default head, `core.learning.classifiers.head`,
           self-trained from the unlabeled pool, wrapped as a scikit-learn estimator inside the
           child) and the identical class-balanced initial set per seed: only the query strategies
           differ. Sieve runs `auto`, `random` and `margin` (--sieve-strategies).

Datasets default to the held-out list of the tuning protocol (docs/benchmarks.md); --split
validation is for tuning. Writes --out-dir/runs.json (every run, every step), summary.json and
summary.md (per-dataset tables and a cross-dataset overview of macro-F1 learning-curve AUC).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One BLAS/OpenMP thread, set before NumPy loads its BLAS: the same limits as the small-text child.
os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import HELD_OUT_DATASETS, ROOT, THREADS, TUNING_DATASETS, load_dataset, use_data_dir  # noqa: E402,E501

LIB = ROOT / "bench" / "out" / "small-text-lib"
SMALL_TEXT_STRATEGIES = ["RandomSampling", "BreakingTies", "LeastConfidence", "PredictionEntropy"]

# The active-learning loop both child programs run: balanced initial set, then query/update rounds.
LOOP = r"""
import time
import warnings
warnings.filterwarnings("ignore", category=UserWarning)  # small-text's and scikit-learn's advice, once per fit
import numpy as np
from small_text import random_initialization_balanced
from core.learning.evaluation import scores


def class_ids(classifier):
    # small-text's predict / argmax give the *position* among the classes the estimator has seen
    # (1.4.1): map columns to class ids through the fitted estimator's classes_.
    model = classifier.model
    for estimator in (model, getattr(model, "model_head", None)):
        if estimator is not None and hasattr(estimator, "classes_"):
            return np.asarray(estimator.classes_).astype(int)
    return None


def run_loop(learner, y_pool, test, y_test, spec, seed, verbose=False):
    def score():
        proba = np.asarray(learner.classifier.predict_proba(test))
        ids = class_ids(learner.classifier)
        predicted = proba.argmax(axis=1) if ids is None else ids[proba.argmax(axis=1)]
        return scores(y_test, predicted)

    initial = spec.get("initial", {}).get(str(seed))
    if initial is None:
        initial = random_initialization_balanced(y_pool, n_samples=spec["init"])
    initial = np.asarray(initial)
    t = time.perf_counter()
    learner.initialize_data(initial, y_pool[initial])
    steps = [{"n_labels": len(initial), "fit_s": time.perf_counter() - t, "query_s": 0.0, **score()}]
    for _ in range(spec["rounds"]):
        t = time.perf_counter()
        queried = learner.query(num_samples=spec["batch"])
        query_s = time.perf_counter() - t
        t = time.perf_counter()
        learner.update(y_pool[queried])
        steps.append({"n_labels": len(learner.indices_labeled), "fit_s": time.perf_counter() - t,
                      "query_s": query_s, **score()})
        if verbose:
            print(steps[-1], flush=True)
    return steps, initial.tolist()
"""

# Runs inside the child process, where small_text is importable. classifier "shipped": its
# default LogisticRegression(); "sieve_head": Sieve's own head (core.learning.classifiers.head, with its
# self-training from the unlabeled pool), wrapped as a scikit-learn estimator.
CHILD = r"""
import json, sys
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from small_text import (PoolBasedActiveLearner, SklearnClassifierFactory, RandomSampling, BreakingTies,
                        LeastConfidence, PredictionEntropy)
from small_text.data import SklearnDataset
from core.learning.classifiers import head as sieve_head

spec = json.load(open(sys.argv[1]))
x_pool, x_test = np.load(spec["pool"]), np.load(spec["test"])
x_classes = np.load(spec["classes"])  # the embedded class names, which Sieve's head counts as examples
y_pool, y_test = np.array(spec["y_pool"]), np.array(spec["y_test"])
n_classes = int(max(y_pool.max(), y_test.max()) + 1)
ROW = {row.tobytes(): i for i, row in enumerate(x_pool)}


class SieveHead(ClassifierMixin, BaseEstimator):
    # Sieve's fast head with its defaults; the texts not in the training rows are its unlabeled pool.
    def fit(self, x, y, sample_weight=None):
        labeled = [ROW[row.tobytes()] for row in np.asarray(x, dtype=np.float32)]
        unlabeled = np.setdiff1d(np.arange(len(x_pool)), labeled)
        self.model_ = sieve_head.fit(x, np.asarray(y), sieve_head.HeadArguments(), unlabeled=x_pool[unlabeled],
                                     class_examples=x_classes)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x):
        return self.model_.predict_proba(np.asarray(x, dtype=np.float32))

    def predict(self, x):
        return self.classes_[self.predict_proba(x).argmax(axis=1)]


estimator = LogisticRegression() if spec["classifier"] == "shipped" else SieveHead()
labels = np.arange(n_classes)
train = SklearnDataset(x_pool, y_pool, target_labels=labels)
test = SklearnDataset(x_test, y_test, target_labels=labels)
results = []
for strategy in spec["strategies"]:
    for seed in spec["seeds"]:
        np.random.seed(seed)
        factory = SklearnClassifierFactory(estimator, n_classes)
        learner = PoolBasedActiveLearner(factory, globals()[strategy](), train)
        steps, initial = run_loop(learner, y_pool, test, y_test, spec, seed)
        results.append({"strategy": strategy, "seed": seed, "initial": initial, "steps": steps})
json.dump(results, open(sys.argv[2], "w"))
"""


# small-text's SetFitClassification, trained in full every round (num_iterations=5 as in
# ../shared/STACK.md), with the two NumPy 2 shims STACK describes.
CHILD_SETFIT = r'''
import json, sys
np.lib.index_tricks = np.lib._index_tricks_impl  # private in NumPy 2; small-text still reads it
from small_text import PoolBasedActiveLearner, TextDataset, BreakingTies
from small_text.integrations.transformers.classifiers import setfit as st_setfit
from small_text.integrations.transformers.classifiers.factories import SetFitClassificationFactory
st_setfit.int_dtype = lambda: np.int32  # its seed draw overflows with uintp under NumPy 2

spec = json.load(open(sys.argv[1]))
y_pool, y_test = np.array(spec["y_pool"]), np.array(spec["y_test"])
n_classes = int(max(y_pool.max(), y_test.max()) + 1)
train = TextDataset.from_arrays(spec["pool_texts"], y_pool, target_labels=np.arange(n_classes))
test = TextDataset.from_arrays(spec["test_texts"], y_test, target_labels=np.arange(n_classes))
np.random.seed(spec["seed"])
factory = SetFitClassificationFactory(st_setfit.SetFitModelArguments(spec["model"]), n_classes,
                                      classification_kwargs={"device": "cpu", "max_seq_len": 128,
                                                             "trainer_kwargs": {"num_iterations": 5}})
learner = PoolBasedActiveLearner(factory, BreakingTies(), train)
steps, _ = run_loop(learner, y_pool, test, y_test, spec, spec["seed"], verbose=True)
json.dump([{"strategy": "BreakingTies (SetFitClassification)", "seed": spec["seed"], "steps": steps}],
          open(sys.argv[2], "w"))
'''


def run_small_text_setfit(train, test, y_pool, y_test, seed, init, batch, rounds) -> list[dict]:
    from core import config

    spec = {"pool_texts": train["text"].tolist(), "test_texts": test["text"].tolist(), "y_pool": y_pool.tolist(),
            "y_test": y_test.tolist(), "seed": seed, "init": init, "batch": batch, "rounds": rounds,
            "model": config.resolve_model(None)}
    return run_child(CHILD_SETFIT, spec)


def setfit_side_by_side(name: str, seed: int, our_steps: int) -> dict:
    """small-text SetFitClassification (breaking ties) vs Sieve's SetFit rounds, one dataset and seed."""
    from core import config
    from core.learning import classifiers
    from core.sim import simulate

    init, batch, rounds = 30, 10, 10
    train = simulate.read_dataset(config.datasets_dir() / name / "train.csv")
    test = simulate.read_dataset(config.datasets_dir() / name / "test.csv")
    names = sorted(set(train["label"]))
    y_pool, y_test = train["label"].map(names.index).to_numpy(), test["label"].map(names.index).to_numpy()
    theirs = run_small_text_setfit(train, test, y_pool, y_test, seed, init, batch, rounds)
    rows = {"small-text SetFitClassification, BreakingTies": stats(theirs)}
    for label, init_strategy in (("sieve setfit warm start, auto (own cold start)", "auto"),
                                 ("sieve setfit warm start, auto (balanced init)", "balanced")):
        # The app's SetFit defaults with warm start on: the first round trains from the base model
        # (max_steps, not timed: small-text's first round is not either), later rounds `our_steps`.
        args = classifiers.arguments("setfit", {"warm_steps": our_steps, "warm_start": True, "seed": seed})
        rows[label] = stats([simulate.run(train, test, strategy="auto", init=init, batch=batch, rounds=rounds,
                                          seed=seed, classifier="setfit", family_args=args,
                                          init_strategy=init_strategy)])
    base = rows["small-text SetFitClassification, BreakingTies"]
    print(f"\n## SetFit rounds: {name}, seed {seed} (Sieve: warm start, {args.max_steps} steps from the base model, "
          f"then {our_steps} per round)\n")
    print("| run | AUC | acc@130 | s/round (fit + query) | time / small-text's |")
    print("|---|---|---|---|---|")
    for label, s in rows.items():
        print(f"| {label} | {s['auc']:.4f} | {s['final']:.4f} | {s['round_s']:.1f} | "
              f"{s['round_s'] / base['round_s']:.2f} |", flush=True)
    return rows


def install_small_text() -> None:
    if not (LIB / "small_text").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(LIB),
                        "small-text==1.4.1"], check=True)


def run_child(code: str, spec: dict, files: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Run a small-text child program on `spec` (arrays in `files` are saved and passed by path)."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for key, array in (files or {}).items():
            np.save(scratch / f"{key}.npy", array)
            spec[key] = str(scratch / f"{key}.npy")
        (scratch / "spec.json").write_text(json.dumps(spec))
        (scratch / "child.py").write_text(LOOP + code)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(LIB), str(ROOT)]), "HF_HUB_OFFLINE": "1",
               "WANDB_DISABLED": "true", **THREADS}
        subprocess.run([sys.executable, str(scratch / "child.py"), str(scratch / "spec.json"),
                        str(scratch / "out.json")], check=True, env=env, cwd=scratch)
        return json.loads((scratch / "out.json").read_text())


def run_small_text(pool, test, classes, y_pool, y_test, seeds, init, batch, rounds, classifier="shipped",
                   initial: dict | None = None, strategies=tuple(SMALL_TEXT_STRATEGIES)) -> list[dict]:
    spec = {"y_pool": y_pool.tolist(), "y_test": y_test.tolist(), "strategies": list(strategies),
            "seeds": seeds, "init": init, "batch": batch, "rounds": rounds, "classifier": classifier,
            "initial": {str(k): [int(i) for i in v] for k, v in (initial or {}).items()}}
    return run_child(CHILD, spec, {"pool": pool, "test": test, "classes": classes})


def stats(runs: list[dict]) -> dict:
    acc = np.array([[s["accuracy"] for s in r["steps"]] for r in runs])
    f1 = np.array([[s["macro_f1"] for s in r["steps"]] for r in runs])
    rounds = [s for r in runs for s in r["steps"][1:]]
    return {"auc": float(acc.mean(1).mean()), "auc_sd": float(acc.mean(1).std()),
            "auc_f1": float(f1.mean(1).mean()), "auc_f1_sd": float(f1.mean(1).std()),
            "final": float(acc[:, -1].mean()), "final_f1": float(f1[:, -1].mean()),
            "round_s": float(np.mean([s["fit_s"] + s["query_s"] for s in rounds])), "seeds": len(runs)}


def table(rows: dict, reference: str) -> list[str]:
    lines = ["| run | AUC macro-F1 (± sd) | AUC accuracy | F1@130 | acc@130 | s/round | Δ AUC-F1 vs " + reference + " |",
             "|---|---|---|---|---|---|---|"]
    for label, s in sorted(rows.items(), key=lambda kv: -kv[1]["auc_f1"]):
        lines.append(f"| {label} | {s['auc_f1']:.4f} ± {s['auc_f1_sd']:.4f} | {s['auc']:.4f} | {s['final_f1']:.4f} | "
                     f"{s['final']:.4f} | {s['round_s']:.4f} | {100 * (s['auc_f1'] - rows[reference]['auc_f1']):+.1f} |")
    return lines


def overview(report: dict, which: str) -> list[str]:
    """One row per dataset: macro-F1 AUC of every run in table `which`, and the mean."""
    names = [n for n in report if isinstance(report[n], dict) and which in report[n]]
    if not names:
        return []
    runs = list(report[names[0]][which])
    lines = ["| dataset | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for name in names:
        rows = report[name][which]
        best = max(rows[r]["auc_f1"] for r in runs)
        lines.append(f"| {name} | " + " | ".join(
            (f"**{rows[r]['auc_f1']:.3f}**" if rows[r]["auc_f1"] == best else f"{rows[r]['auc_f1']:.3f}") for r in runs)
            + " |")
    lines.append("| mean | " + " | ".join(f"{np.mean([report[n][which][r]['auc_f1'] for n in names]):.3f}"
                                         for r in runs) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", help="default: the held-out datasets of the tuning protocol")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="validation: only for tuning (docs/benchmarks.md, 'Tuning protocol')")
    parser.add_argument("--tables", nargs="+", choices=["shipped", "same"], default=["shipped", "same"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-pool", type=int, default=None, help="subsample larger pools (seed 0)")
    parser.add_argument("--max-eval", type=int, default=None, help="subsample larger eval sets (seed 0)")
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--setfit-dataset", help="also compare full SetFit rounds on this dataset (slow: ~25 min)")
    parser.add_argument("--setfit-steps", type=int, default=10,
                        help="Sieve's contrastive steps per warm-started SetFit round")
    parser.add_argument("--small-text-strategies", nargs="+", default=SMALL_TEXT_STRATEGIES,
                        choices=SMALL_TEXT_STRATEGIES, help="small-text's strategies to run")
    parser.add_argument("--sieve-strategies", nargs="+", default=["auto", "random", "margin"],
                        help="Sieve's strategies in the same-classifier table")
    parser.add_argument("--out-dir", default=str(ROOT / "bench" / "out" / "compare_small_text"))
    args = parser.parse_args()
    use_data_dir(args.cache)
    install_small_text()
    from core.sim import simulate

    init, batch, rounds = 30, 10, 10
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report, raw, lines = {}, [], [f"# Sieve vs small-text 1.4.1 (HAST grid {init} + {rounds} × {batch}, "
                                  f"{args.split} split, seeds {args.seeds})", ""]
    if args.setfit_dataset:
        report["setfit"] = setfit_side_by_side(args.setfit_dataset, args.seeds[0], args.setfit_steps)
    datasets = args.datasets if args.datasets is not None else list(HELD_OUT_DATASETS)
    overviews: list[str] = []
    for name in datasets:
        if args.split == "test" and name in TUNING_DATASETS:
            print(f"note: {name} is a tuning dataset; its test figures are not held-out evidence", flush=True)
        train, test, note = load_dataset(name, args.split, args.max_pool, args.max_eval)
        data = simulate.LabeledData.prepare(train, test)
        y_pool, y_test, pool_vectors, test_vectors = data.y_pool, data.y_test, data.pool_vectors, data.test_vectors
        class_vectors = data.class_vectors  # Sieve's head counts them as examples, on both sides of table (b)
        report[name] = {"note": note}
        for which in args.tables:
            started = time.perf_counter()
            rows: dict[str, dict] = {}
            if which == "shipped":
                # Each tool with its own defaults: small-text's LogisticRegression() and its class-balanced
                # initial set (drawn from the gold labels); Sieve's default head and its own k-means cold start.
                theirs = run_small_text(pool_vectors, test_vectors, class_vectors, y_pool, y_test, args.seeds, init,
                                        batch, rounds, strategies=args.small_text_strategies)
                ours = {"sieve auto (own cold start, default head)": [
                    simulate.run(train, test, strategy="auto", init=init, batch=batch, rounds=rounds, seed=seed)
                    for seed in args.seeds]}
                reference = "small-text RandomSampling"
            else:
                # The very same estimator (Sieve's default head) and initial set (class-balanced, drawn once
                # per seed) on both sides, one BLAS thread each: only the query strategies differ.
                initial = {seed: simulate.initial_set("balanced", "random", pool_vectors, y_pool, init,
                                                      np.random.default_rng(seed)) for seed in args.seeds}
                theirs = run_small_text(pool_vectors, test_vectors, class_vectors, y_pool, y_test, args.seeds, init,
                                        batch, rounds, classifier="sieve_head", initial=initial,
                                        strategies=args.small_text_strategies)
                ours = {f"sieve {strategy}": [
                    simulate.run(train, test, strategy=strategy, init=init, batch=batch, rounds=rounds, seed=seed,
                                 initial=initial[seed]) for seed in args.seeds]
                    for strategy in args.sieve_strategies}
                reference = "sieve random"
            for strategy in args.small_text_strategies:
                runs = [r for r in theirs if r["strategy"] == strategy]
                rows[f"small-text {strategy}"] = stats(runs)
                raw += [{"dataset": name, "table": which, "tool": "small-text", **r} for r in runs]
            for label, runs in ours.items():
                rows[label] = stats(runs)
                raw += [{"dataset": name, "table": which, "tool": "sieve", "strategy": label, "seed": r["config"]["seed"],
                         "steps": r["steps"]} for r in runs]
            report[name][which] = rows
            title = {"shipped": "as shipped", "same": "same classifier (Sieve's head), same initial set"}[which]
            lines += [f"## {name}: {title}", "", f"{note}; {time.perf_counter() - started:.0f} s", ""]
            lines += table(rows, reference) + [""]
            print("\n".join(lines[-len(rows) - 5:]), flush=True)
        (out_dir / "runs.json").write_text(json.dumps(raw))
        (out_dir / "summary.json").write_text(json.dumps(report, indent=1))
        overviews = []
        for which in args.tables:
            overviews += ["", f"## Overview: {which} (macro-F1 learning-curve AUC; best per dataset in bold)", ""]
            overviews += overview(report, which)
        (out_dir / "summary.md").write_text("\n".join(lines + overviews) + "\n")
    print("\n".join(overviews))
    print(f"\nwrote {out_dir}/runs.json, summary.json, summary.md")


if __name__ == "__main__":
    main()
