"""Sieve vs small-text, side by side in one run: same data, seeds, grid (HAST) and encoder.

    python bench/compare_small_text.py                          # every shared dataset, seeds 0-9 (~35 min)
    python bench/compare_small_text.py --datasets trec6 --seeds 0 1 2
    python bench/compare_small_text.py --datasets --setfit-dataset trec6 --setfit-steps 6 --seeds 0

small-text 1.4.1 is installed with --no-deps into bench/out/small-text-lib (its own
dependencies are already among our pins), and runs in a child process with that folder on
its path, so our pinned environment is never changed. Both sides get the very same frozen
all-MiniLM-L6-v2 embeddings of the pool and the test set. small-text runs as in
../shared/STACK.md: 30 class-balanced initial labels, then 10 rounds x 10, logistic regression
(scikit-learn defaults) over the dense embeddings, strategies RandomSampling, BreakingTies,
LeastConfidence, PredictionEntropy.

Sieve runs its defaults: strategy `auto` with the fast head (logistic regression, C=3, balanced
class weights, self-trained on its most confident pool texts), and its own cold start
(k-means, no gold labels); for an apples-to-apples view it also runs with small-text's
class-balanced initial set. Prints per dataset the AUC (mean accuracy over the 11 steps)
and accuracy at 130 labels (mean +- sd over seeds), our AUC minus their best, and our time
per round divided by theirs; writes bench/out/compare_small_text.json.
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

import numpy as np

from common import ROOT, use_scratch_data_dir

LIB = ROOT / "bench" / "out" / "small-text-lib"
SMALL_TEXT_STRATEGIES = ["RandomSampling", "BreakingTies", "LeastConfidence", "PredictionEntropy"]

# The active-learning loop both child programs run: balanced initial set, then query/update rounds.
LOOP = r'''
import time
import numpy as np
from small_text import random_initialization_balanced


def run_loop(learner, y_pool, test, y_test, spec, verbose=False):
    def accuracy():
        return float((learner.classifier.predict(test) == y_test).mean())

    initial = random_initialization_balanced(y_pool, n_samples=spec["init"])
    t = time.perf_counter()
    learner.initialize_data(initial, y_pool[initial])
    steps = [{"n_labels": len(initial), "fit_s": time.perf_counter() - t, "query_s": 0.0, "accuracy": accuracy()}]
    for _ in range(spec["rounds"]):
        t = time.perf_counter()
        queried = learner.query(num_samples=spec["batch"])
        query_s = time.perf_counter() - t
        t = time.perf_counter()
        learner.update(y_pool[queried])
        steps.append({"n_labels": len(learner.indices_labeled), "fit_s": time.perf_counter() - t,
                      "query_s": query_s, "accuracy": accuracy()})
        if verbose:
            print(steps[-1], flush=True)
    return steps
'''

# Runs inside the child process, where small_text is importable.
CHILD = r'''
import json, sys
from sklearn.linear_model import LogisticRegression
from small_text import (PoolBasedActiveLearner, SklearnClassifierFactory, RandomSampling, BreakingTies,
                        LeastConfidence, PredictionEntropy)
from small_text.data import SklearnDataset

spec = json.load(open(sys.argv[1]))
x_pool, x_test = np.load(spec["pool"]), np.load(spec["test"])
y_pool, y_test = np.array(spec["y_pool"]), np.array(spec["y_test"])
n_classes = int(max(y_pool.max(), y_test.max()) + 1)
train, test = SklearnDataset(x_pool, y_pool), SklearnDataset(x_test, y_test)
results = []
for strategy in spec["strategies"]:
    for seed in spec["seeds"]:
        np.random.seed(seed)
        factory = SklearnClassifierFactory(LogisticRegression(), n_classes)
        learner = PoolBasedActiveLearner(factory, globals()[strategy](), train)
        steps = run_loop(learner, y_pool, test, y_test, spec)
        results.append({"strategy": strategy, "seed": seed, "steps": steps})
json.dump(results, open(sys.argv[2], "w"))
'''


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
steps = run_loop(learner, y_pool, test, y_test, spec, verbose=True)
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
    from core import classifiers, config, simulate

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
        env = {**os.environ, "PYTHONPATH": str(LIB), "HF_HUB_OFFLINE": "1", "WANDB_DISABLED": "true"}
        subprocess.run([sys.executable, str(scratch / "child.py"), str(scratch / "spec.json"),
                        str(scratch / "out.json")], check=True, env=env, cwd=scratch)
        return json.loads((scratch / "out.json").read_text())


def run_small_text(pool, test, y_pool, y_test, seeds, init, batch, rounds) -> list[dict]:
    spec = {"y_pool": y_pool.tolist(), "y_test": y_test.tolist(), "strategies": SMALL_TEXT_STRATEGIES,
            "seeds": seeds, "init": init, "batch": batch, "rounds": rounds}
    return run_child(CHILD, spec, {"pool": pool, "test": test})


def stats(runs: list[dict]) -> dict:
    acc = np.array([[s["accuracy"] for s in r["steps"]] for r in runs])
    rounds = [s for r in runs for s in r["steps"][1:]]
    return {"auc": float(acc.mean(1).mean()), "auc_sd": float(acc.mean(1).std()),
            "final": float(acc[:, -1].mean()), "final_sd": float(acc[:, -1].std()),
            "round_s": float(np.mean([s["fit_s"] + s["query_s"] for s in rounds]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", help="default: every dataset under SIEVE_DATASETS")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--setfit-dataset", help="also compare full SetFit rounds on this dataset (slow: ~25 min)")
    parser.add_argument("--setfit-steps", type=int, default=10,
                        help="Sieve's contrastive steps per warm-started SetFit round")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "compare_small_text.json"))
    args = parser.parse_args()
    if args.cache:
        os.environ["SIEVE_DATA_DIR"] = args.cache
    else:
        use_scratch_data_dir()
    install_small_text()
    from core import config, simulate

    init, batch, rounds = 30, 10, 10
    report = {}
    if args.setfit_dataset:
        report["setfit"] = setfit_side_by_side(args.setfit_dataset, args.seeds[0], args.setfit_steps)
    datasets = args.datasets if args.datasets is not None else sorted(
        p.parent.name for p in config.datasets_dir().glob("*/train.csv"))
    for name in datasets:
        train = simulate.read_dataset(config.datasets_dir() / name / "train.csv")
        test = simulate.read_dataset(config.datasets_dir() / name / "test.csv")
        names = sorted(set(train["label"]))
        y_pool = train["label"].map(names.index).to_numpy()
        y_test = test["label"].map(names.index).to_numpy()
        pool_vectors = simulate.cached_embeddings(None, train["text"].tolist())
        test_vectors = simulate.cached_embeddings(None, test["text"].tolist())
        started = time.perf_counter()
        theirs = run_small_text(pool_vectors, test_vectors, y_pool, y_test, args.seeds, init, batch, rounds)
        their_wall = time.perf_counter() - started
        rows = {f"small-text {s}": stats([r for r in theirs if r["strategy"] == s]) for s in SMALL_TEXT_STRATEGIES}
        for label, init_strategy in (("sieve auto (own cold start)", "auto"),
                                     ("sieve auto (balanced init)", "balanced")):
            ours = [simulate.run(train, test, strategy="auto", init=init, batch=batch, rounds=rounds, seed=seed,
                                 init_strategy=init_strategy) for seed in args.seeds]
            rows[label] = stats(ours)
        theirs_rows = [k for k in rows if k.startswith("small-text")]
        best = max(theirs_rows, key=lambda k: rows[k]["auc"])
        best_final = max(rows[k]["final"] for k in theirs_rows)
        print(f"\n## {name} (pool {len(train):,}, test {len(test):,}, seeds {args.seeds}; "
              f"small-text child process {their_wall:.0f} s)\n")
        print("| run | AUC | acc@130 | s/round | AUC − best small-text | acc@130 − best small-text | "
              "time / best's time |")
        print("|---|---|---|---|---|---|---|")
        for label, s in rows.items():
            print(f"| {label} | {s['auc']:.4f} ± {s['auc_sd']:.4f} | {s['final']:.4f} ± {s['final_sd']:.4f} | "
                  f"{s['round_s']:.4f} | {100 * (s['auc'] - rows[best]['auc']):+.1f} | "
                  f"{100 * (s['final'] - best_final):+.1f} | {s['round_s'] / rows[best]['round_s']:.2f} |",
                  flush=True)
        report[name] = {"rows": rows, "best_small_text_auc": best, "best_small_text_final": best_final}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
