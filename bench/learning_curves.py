"""Learning curves of query strategies, side by side (same data, seeds and budget).

    python bench/learning_curves.py --datasets trec6 sst2 --strategies random auto --seeds 0 1 2

Runs core.simulate (the app's own head and strategies) with the HAST budget by default:
30 initial labels + 10 rounds x 10. Prints the mean accuracy curve per strategy, the
learning-curve AUC (mean accuracy over the steps) as mean +- sd over seeds, and writes
all runs to --out as JSON.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from common import use_scratch_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["trec6", "sst2"])
    parser.add_argument("--strategies", nargs="+", default=["random", "auto"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--init", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--classifier", default="head", choices=["head", "setfit"])
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--out", default="learning_curves.json")
    args = parser.parse_args()
    if args.cache:
        import os

        os.environ["SIEVE_DATA_DIR"] = args.cache
    else:
        use_scratch_data_dir()
    from core import config, simulate

    runs = []
    for name in args.datasets:
        train = simulate.read_dataset(config.datasets_dir() / name / "train.csv")
        test = simulate.read_dataset(config.datasets_dir() / name / "test.csv")
        print(f"\n## {name} (pool {len(train):,}, test {len(test):,}, {args.classifier}, seeds {args.seeds})\n")
        curves = {}
        for strategy in args.strategies:
            results = []
            for seed in args.seeds:
                started = time.perf_counter()
                result = simulate.run(train, test, strategy=strategy, init=args.init, batch=args.batch,
                                      rounds=args.rounds, seed=seed, classifier=args.classifier)
                result["config"]["dataset"], result["wall_s"] = name, time.perf_counter() - started
                results.append(result)
                runs.append(result)
            curves[strategy] = results
        steps = [s["n_labels"] for s in curves[args.strategies[0]][0]["steps"]]
        print("| strategy | AUC (mean ± sd) | " + " | ".join(f"@{n}" for n in steps) + " | fit s/round | query s/round |")
        print("|---|---|" + "---|" * len(steps) + "---|---|")
        for strategy, results in curves.items():
            acc = np.array([[s["accuracy"] for s in r["steps"]] for r in results])
            aucs = acc.mean(axis=1)
            fit = np.mean([s["fit_s"] for r in results for s in r["steps"]])
            query = np.mean([s["query_s"] for r in results for s in r["steps"][:-1]])
            print(f"| {strategy} | {aucs.mean():.4f} ± {aucs.std():.4f} | "
                  + " | ".join(f"{v:.3f}" for v in acc.mean(axis=0)) + f" | {fit:.3f} | {query:.3f} |")
    with open(args.out, "w") as handle:
        json.dump(runs, handle, indent=1)
    print(f"\nwrote {len(runs)} runs to {args.out}")


if __name__ == "__main__":
    main()
