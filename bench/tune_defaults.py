"""Choose the label-efficiency defaults under the tuning protocol (docs/benchmarks.md).

    python bench/tune_defaults.py --cache /tmp/wtbench/cache --out-dir bench/out/tune-defaults

Runs `core.simulate` (HAST grid: 30 initial + 10 rounds x 10) on the **validation** splits of
the tuning datasets only (bench/common.py TUNING_DATASETS), full pools and full validation
sets unless capped, for two families of candidates:

  stage 1, the head: logistic regression (balanced class weights) with C in {1, 3, 10} x
           self-training {off, 3 pseudo-labels per label} x class names as examples {off, on},
           all with the `auto` strategy;
  stage 2, the query strategy, with the head stage 1 picked.

The pick is the best mean macro-F1 learning-curve AUC over the tuning datasets (mean over
seeds per dataset, then over datasets). The held-out datasets are never loaded here.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import TUNING_DATASETS, load_dataset, use_data_dir  # noqa: E402

STRATEGY_CANDIDATES = ("auto", "margin", "margin_diverse", "entropy", "least_confidence", "badge",
                       "class_balanced", "contrastive", "random")


def head_candidates() -> dict[str, dict]:
    grid = {}
    for c, pseudo, names in itertools.product((1.0, 3.0, 10.0), (0.0, 3.0), (False, True)):
        name = f"C={c:g}, self-training {pseudo:g}, class names {'on' if names else 'off'}"
        grid[name] = {"kind": "logistic_regression", "params": {"C": c, "class_weight": "balanced"},
                      "self_training": pseudo, "class_names": names}
    return grid


def evaluate(data: dict, strategy: str, head_args: dict, seeds: list[int]) -> dict:
    from core.sim import simulate
    from core.learning.classifiers import head

    per_dataset = {}
    for name, (train, evaluation) in data.items():
        aucs = [simulate.run(train, evaluation, strategy=strategy, seed=seed,
                             head_args=head.HeadArguments.from_dict(head_args))["auc_macro_f1"] for seed in seeds]
        per_dataset[name] = {"mean": float(np.mean(aucs)), "sd": float(np.std(aucs)), "runs": aucs}
    return {"strategy": strategy, "head": head_args, "per_dataset": per_dataset,
            "mean": float(np.mean([d["mean"] for d in per_dataset.values()]))}


def table(rows: list[dict], label: str, datasets: list[str]) -> list[str]:
    lines = [f"| {label} | mean | " + " | ".join(datasets) + " |", "|---|---|" + "---|" * len(datasets)]
    for row in sorted(rows, key=lambda r: -r["mean"]):
        lines.append(f"| {row['name']} | **{row['mean']:.4f}** | "
                     + " | ".join(f"{row['per_dataset'][d]['mean']:.3f}" for d in datasets) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(TUNING_DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-pool", type=int, default=0, help="0: the whole train split")
    parser.add_argument("--max-eval", type=int, default=0, help="0: the whole validation split")
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--out-dir", default="bench/out/tune-defaults")
    args = parser.parse_args()
    unknown = sorted(set(args.datasets) - set(TUNING_DATASETS))
    if unknown:
        raise SystemExit(f"not tuning datasets (the protocol forbids tuning on them): {', '.join(unknown)}")
    use_data_dir(args.cache)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, notes = {}, []
    for name in args.datasets:
        train, evaluation, note = load_dataset(name, "validation", args.max_pool, args.max_eval)
        data[name] = (train, evaluation)
        notes.append(f"- {name}: {note}")

    started = time.perf_counter()
    stage1 = []
    for name, head_args in head_candidates().items():
        stage1.append({"name": name, **evaluate(data, "auto", head_args, args.seeds)})
        print(f"head {name:45s} mean macro-F1 AUC {stage1[-1]['mean']:.4f}", flush=True)
    best_head = max(stage1, key=lambda r: r["mean"])
    stage2 = []
    for strategy in STRATEGY_CANDIDATES:
        stage2.append({"name": strategy, **evaluate(data, strategy, best_head["head"], args.seeds)})
        print(f"strategy {strategy:20s} mean macro-F1 AUC {stage2[-1]['mean']:.4f}", flush=True)
    best_strategy = max(stage2, key=lambda r: r["mean"])
    (out_dir / "runs.json").write_text(json.dumps({"stage1": stage1, "stage2": stage2}, indent=1))
    lines = ["# Defaults chosen on the tuning datasets' validation splits", "",
             f"HAST grid (30 + 10 × 10), seeds {args.seeds}, macro-F1 learning-curve AUC (mean over seeds, "
             f"then over datasets). {time.perf_counter() - started:.0f} s in all.", "", *notes, "",
             "## Stage 1: the head (strategy `auto`)", "", *table(stage1, "head", args.datasets), "",
             f"## Stage 2: the strategy (head: {best_head['name']})", "", *table(stage2, "strategy", args.datasets), "",
             f"**Pick:** head {best_head['name']}, strategy `{best_strategy['name']}`."]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"pick: head {best_head['name']}, strategy {best_strategy['name']}; wrote {out_dir}/summary.md")


if __name__ == "__main__":
    main()
