"""Choose the query strategy under the tuning protocol (docs/benchmarks.md), head fixed.

    python bench/tune_strategies.py --cache /work/benchcache --out-dir bench/out/tune-strategies

Runs `core.simulate` (HAST grid: 30 initial + 10 rounds x 10) on the **validation** splits of
the tuning datasets only, every candidate with the default head and the same class-balanced
initial set per seed (as in the same-classifier table of bench/compare_small_text.py), so only
the query strategy differs. The held-out datasets are never loaded here.

The decision rule, fixed before the first run: among the candidates whose mean macro-F1 AUC
is not more than 0.5 points below `margin` (= small-text's BreakingTies) on any tuning dataset,
the one with the best mean macro-F1 AUC over the tuning datasets (mean over seeds per dataset,
then over datasets) is picked; it replaces the current default (`auto` = margin_diverse after
the cold start) only if its mean is above the current default's.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import TUNING_DATASETS, load_dataset, use_data_dir  # noqa: E402

CANDIDATES = ("margin", "auto", "random", "margin_density", "margin_density_diverse", "margin_knn",
              "margin_coverage", "margin_kmeanspp", "margin_pairs",
              "logit_margin")
WORST_ALLOWED = -0.005  # per tuning dataset, against margin


def main() -> None:
    from core.sim import simulate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(TUNING_DATASETS))
    parser.add_argument("--strategies", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-pool", type=int, default=0, help="0: the whole train split")
    parser.add_argument("--max-eval", type=int, default=0, help="0: the whole validation split")
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--reuse", nargs="*", default=[], type=Path,
                        help="runs.json files of earlier runs of this script (same settings): their "
                             "strategy x dataset results are taken instead of run again")
    parser.add_argument("--out-dir", default="bench/out/tune-strategies")
    args = parser.parse_args()
    unknown = sorted(set(args.datasets) - set(TUNING_DATASETS))
    if unknown:
        raise SystemExit(f"not tuning datasets (the protocol forbids tuning on them): {', '.join(unknown)}")
    for required in ("margin", "auto"):
        if required not in args.strategies:
            raise SystemExit(f"the decision rule needs {required!r} among --strategies")
    use_data_dir(args.cache)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = {s: {} for s in args.strategies}
    for path in args.reuse:
        for strategy, by_dataset in json.loads(path.read_text()).items():
            if strategy in results:
                results[strategy].update({d: r for d, r in by_dataset.items() if d in args.datasets})
    notes = []
    for name in args.datasets:
        train, evaluation, note = load_dataset(name, "validation", args.max_pool, args.max_eval)
        notes.append(f"- {name}: {note}")
        data = simulate.LabeledData.prepare(train, evaluation)
        initial = {seed: simulate.initial_set("balanced", "random", data.pool_vectors, data.y_pool, 30,
                                              np.random.default_rng(seed)) for seed in args.seeds}
        for strategy in args.strategies:
            if name in results[strategy]:
                continue
            t = time.perf_counter()
            runs = [simulate.run(train, evaluation, strategy=strategy, seed=seed, initial=initial[seed])
                    for seed in args.seeds]
            results[strategy][name] = {"runs": [r["auc_macro_f1"] for r in runs],
                                       "auc_accuracy": [r["auc"] for r in runs],
                                       "curves": [[s["macro_f1"] for s in r["steps"]] for r in runs],
                                       "mean": float(np.mean([r["auc_macro_f1"] for r in runs])),
                                       "query_s": float(np.mean([s["query_s"] for r in runs for s in r["steps"][:-1]]))}
            print(f"{name:18s} {strategy:24s} macro-F1 AUC {results[strategy][name]['mean']:.4f}  "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
        (out_dir / "runs.json").write_text(json.dumps(results))
    means = {s: float(np.mean([results[s][d]["mean"] for d in args.datasets])) for s in args.strategies}
    worst = {s: min(results[s][d]["mean"] - results["margin"][d]["mean"] for d in args.datasets)
             for s in args.strategies}
    eligible = [s for s in args.strategies if s != "random" and worst[s] >= WORST_ALLOWED]
    pick = max(eligible, key=lambda s: means[s])
    verdict = (f"`{pick}` replaces the default" if pick != "auto" and means[pick] > means["auto"]
               else "the default (`auto`) stays")
    lines = ["# Query strategies on the tuning datasets' validation splits", "",
             f"HAST grid (30 class-balanced + 10 × 10), default head, seeds {args.seeds}, macro-F1 learning-curve "
             f"AUC (mean over seeds per dataset, then over datasets). {time.perf_counter() - started:.0f} s in all.", "",
             *notes, "",
             "| strategy | mean | Δ vs margin (points) | worst dataset vs margin | " + " | ".join(args.datasets)
             + " | query s |", "|---|---|---|---|" + "---|" * len(args.datasets) + "---|"]
    for s in sorted(args.strategies, key=lambda s: -means[s]):
        lines.append(f"| {s} | **{means[s]:.4f}** | {100 * (means[s] - means['margin']):+.2f} | "
                     f"{100 * worst[s]:+.2f} | " + " | ".join(f"{results[s][d]['mean']:.4f}" for d in args.datasets)
                     + f" | {np.mean([results[s][d]['query_s'] for d in args.datasets]):.3f} |")
    lines += ["", f"Rule (fixed before the run): best mean among candidates never more than "
                  f"{-100 * WORST_ALLOWED:.1f} points below margin on a tuning dataset; it replaces `auto` only "
                  f"if its mean is higher. **Pick: `{pick}`; {verdict}.**"]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
