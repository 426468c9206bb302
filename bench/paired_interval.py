"""Paired differences of macro-F1 learning-curve AUC between two runs of a comparison, with 95 % intervals.

    python bench/paired_interval.py bench/out/heldout-compare/runs.json --a "sieve auto" --b "small-text BreakingTies"

Reads the runs.json that bench/compare_small_text.py writes (table `same` by default) and pairs
the two runs by dataset and seed (same initial set, same classifier). Prints the per-dataset
mean difference, the mean over every dataset x seed pair with a t interval over those pairs,
and a t interval over the per-dataset means (the stricter one: datasets as the unit).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats


def auc(run: dict) -> float:
    return float(np.mean([s["macro_f1"] for s in run["steps"]]))


def label(run: dict) -> str:
    return run["strategy"] if run["tool"] == "sieve" else f"small-text {run['strategy']}"


def interval(values: np.ndarray) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def paired(runs: list[dict], a: str, b: str, table: str = "same", stand_in: str | None = None) -> dict:
    by = {}
    for run in runs:  # later files win: a rerun replaces an older run of the same label, dataset and seed
        if run["table"] == table:
            by[(label(run), run["dataset"], run["seed"])] = auc(run)
    if stand_in:  # datasets without runs of `a`: the runs of `stand_in`, the strategy `a` reduces to there
        have = {d for (name, d, _) in by if name == a}
        for (name, d, s), value in list(by.items()):
            if name == stand_in and d not in have:
                by[(a, d, s)] = value
    keys = sorted({(d, s) for (name, d, s) in by if name == a} & {(d, s) for (name, d, s) in by if name == b})
    if not keys:
        raise SystemExit(f"no pairs of {a!r} and {b!r} in table {table!r}")
    diffs = np.array([by[(a, d, s)] - by[(b, d, s)] for d, s in keys])
    datasets = sorted({d for d, _ in keys})
    per_dataset = {d: float(np.mean([by[(a, d, s)] - by[(b, d, s)] for dd, s in keys if dd == d])) for d in datasets}
    means = np.array(list(per_dataset.values()))
    return {"a": a, "b": b, "pairs": len(keys), "mean": float(diffs.mean()), "pairs_interval": interval(diffs),
            "per_dataset": per_dataset, "datasets_interval": interval(means), "worst": float(means.min())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="runs.json files; later ones win on the same run")
    parser.add_argument("--stand-in", help="where --a has no runs of a dataset, use this label's runs (say why)")
    parser.add_argument("--a", default="sieve auto")
    parser.add_argument("--b", nargs="+", default=["small-text BreakingTies"])
    parser.add_argument("--table", default="same")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    runs = [run for path in args.runs for run in json.loads(path.read_text())]
    results = []
    for b in args.b:
        r = paired(runs, args.a, b, args.table, args.stand_in)
        results.append(r)
        lo, hi = r["pairs_interval"]
        dlo, dhi = r["datasets_interval"]
        print(f"{r['a']} − {r['b']}: mean {100 * r['mean']:+.2f} points over {r['pairs']} dataset × seed pairs, "
              f"95 % interval {100 * lo:+.2f} … {100 * hi:+.2f} (over pairs), {100 * dlo:+.2f} … {100 * dhi:+.2f} "
              f"(over the {len(r['per_dataset'])} dataset means); worst dataset {100 * r['worst']:+.2f}")
        print("  " + ", ".join(f"{d} {100 * v:+.2f}" for d, v in r["per_dataset"].items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
