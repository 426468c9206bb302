"""Learning curves of every query strategy, side by side: same data, seeds, grid and encoder.

    python bench/learning_curves.py --grid hast --seeds 0 1 2 --out-dir bench/out/hast
    python bench/learning_curves.py --grid schroeder --strategies random auto margin --out-dir bench/out/schroeder
    python bench/learning_curves.py --datasets trec6 sst2 --strategies random auto     # quick check
    python bench/learning_curves.py --classifier setfit --family-args '{"warm_start": true, "warm_steps": 6}' \
        --datasets trec6 sst2 --strategies auto random --seeds 0

Runs `core.simulate` (the app's own head, strategies and stopping criteria) for each
dataset x strategy x seed. Grids: HAST = 30 initial labels + 10 rounds x 10 (130 labels);
Schroeder = 25 + 20 rounds x 25 (525 labels); few = 10 + 10 rounds x 5 (60 labels, the first minutes
of a project). Pools larger than --max-pool and test sets larger
than --max-test are subsampled with a fixed seed (stated in the output).

Writes to --out-dir: runs.json (every run), summary.md (tables), curves.png (mean curves).
Reports per dataset x strategy: accuracy and macro-F1 at checkpoints, learning-curve AUC
(mean accuracy over the steps) as mean +- sd over seeds, labels needed to reach 95 % of
the run's final accuracy, seconds per round (fit vs query), and for each stopping
criterion where it would have stopped and the accuracy given up by stopping there.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

# One BLAS/OpenMP thread, as in compare_small_text.py (set before NumPy loads its BLAS).
os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import TUNING_DATASETS, load_dataset, use_data_dir  # noqa: E402

GRIDS = {"hast": (30, 10, 10), "schroeder": (25, 25, 20), "few": (10, 5, 10)}
CHECKPOINTS = {"hast": (30, 50, 80, 130), "schroeder": (25, 50, 100, 275, 525), "few": (10, 20, 30, 60)}


def labels_to_reach(steps: list[dict], fraction: float = 0.95) -> int:
    target = fraction * steps[-1]["accuracy"]
    return next(s["n_labels"] for s in steps if s["accuracy"] >= target)


def summarize(runs: list[dict], checkpoints: tuple[int, ...]) -> dict:
    acc = np.array([[s["accuracy"] for s in r["steps"]] for r in runs])
    f1 = np.array([[s["macro_f1"] for s in r["steps"]] for r in runs])
    n_labels = [s["n_labels"] for s in runs[0]["steps"]]
    at = {n: n_labels.index(n) for n in checkpoints if n in n_labels}
    aucs, aucs_f1 = acc.mean(axis=1), f1.mean(axis=1)
    stops = {}
    for criterion in runs[0]["stops"]:
        fired = [(r["stops"][criterion], r["final_accuracy"]) for r in runs if r["stops"][criterion]]
        stops[criterion] = {
            "fired_in": len(fired), "runs": len(runs),
            "mean_labels": float(np.mean([s["n_labels"] for s, _ in fired])) if fired else None,
            "accuracy_given_up": float(np.mean([final - s["accuracy"] for s, final in fired])) if fired else None,
        }
    return {
        "auc_mean": float(aucs.mean()), "auc_sd": float(aucs.std()),
        "auc_f1_mean": float(aucs_f1.mean()), "auc_f1_sd": float(aucs_f1.std()),
        "no_model_steps": int(sum(not s.get("model", True) for r in runs for s in r["steps"])),
        "accuracy_at": {n: float(acc[:, i].mean()) for n, i in at.items()},
        "macro_f1_at": {n: float(f1[:, i].mean()) for n, i in at.items()},
        "curve": acc.mean(axis=0).tolist(), "n_labels": n_labels,
        "labels_to_95": float(np.mean([labels_to_reach(r["steps"]) for r in runs])),
        "fit_s": float(np.mean([s["fit_s"] for r in runs for s in r["steps"]])),
        "query_s": float(np.mean([s["query_s"] for r in runs for s in r["steps"][:-1]])),
        "stops": stops,
    }


def markdown(summaries: dict, notes: dict, checkpoints: tuple[int, ...], title: str) -> str:
    lines = [f"# {title}", ""]
    for dataset, by_strategy in summaries.items():
        lines += [f"## {dataset}", "", notes[dataset], ""]
        cols = [n for n in checkpoints if n in next(iter(by_strategy.values()))["accuracy_at"]]
        lines.append("| strategy | AUC macro-F1 (mean ± sd) | AUC accuracy | " + " | ".join(f"acc@{n}" for n in cols)
                     + " | " + " | ".join(f"F1@{n}" for n in cols) + " | labels to 95 % | fit s | query s |")
        lines.append("|---|---|---|" + "---|" * (2 * len(cols)) + "---|---|---|")
        for strategy, s in sorted(by_strategy.items(), key=lambda kv: -kv[1]["auc_f1_mean"]):
            lines.append(f"| {strategy} | {s['auc_f1_mean']:.4f} ± {s['auc_f1_sd']:.4f} | "
                         f"{s['auc_mean']:.4f} ± {s['auc_sd']:.4f} | "
                         + " | ".join(f"{s['accuracy_at'][n]:.3f}" for n in cols) + " | "
                         + " | ".join(f"{s['macro_f1_at'][n]:.3f}" for n in cols)
                         + f" | {s['labels_to_95']:.0f} | {s['fit_s']:.3f} | {s['query_s']:.3f} |")
        lines += ["", "Stopping (where each criterion first fired; accuracy given up = final − at stop):", "",
                  "| strategy | criterion | fired in | mean labels at stop | accuracy given up |", "|---|---|---|---|---|"]
        for strategy, s in by_strategy.items():
            for criterion, stop in s["stops"].items():
                if criterion == "label_budget":
                    continue
                labels = f"{stop['mean_labels']:.0f}" if stop["mean_labels"] is not None else "—"
                given_up = f"{stop['accuracy_given_up']:+.3f}" if stop["accuracy_given_up"] is not None else "—"
                lines.append(f"| {strategy} | {criterion} | {stop['fired_in']}/{stop['runs']} | {labels} | {given_up} |")
        lines.append("")
    return "\n".join(lines)


def plot(summaries: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summaries)
    columns = min(4, len(names))
    rows = (len(names) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis, dataset in zip(axes.flat, names):
        for strategy, s in summaries[dataset].items():
            axis.plot(s["n_labels"], s["curve"], label=strategy, linewidth=2.2 if strategy in ("auto", "random") else 1)
        axis.set_title(dataset)
        axis.set_xlabel("labels")
        axis.set_ylabel("test accuracy")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    from core import config
    from core.learning import classifiers, strategies
    from core.sim import simulate
    from core.learning.classifiers import head

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", choices=list(GRIDS), default="hast")
    parser.add_argument("--datasets", nargs="+", help="default: every dataset under SIEVE_DATASETS")
    parser.add_argument("--strategies", nargs="+", default=list(strategies.STRATEGIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier", default="head", choices=list(classifiers.CLASSIFIERS))
    parser.add_argument("--family-args", default="{}",
                        help='full-model classifiers: their arguments as JSON, e.g. \'{"warm_start": true}\'')
    parser.add_argument("--head-args", default="{}",
                        help='the fast head\'s arguments as JSON, e.g. \'{"self_training": 0}\'')
    parser.add_argument("--class-prior", action="store_true",
                        help="zero-shot prior from the class names: class-covering start, mixed into the model")
    parser.add_argument("--prior-fade", type=float, default=0.0,
                        help="with --class-prior: the prior's share is F / (F + labels), after the usual cold start")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="validation: for tuning only (docs/benchmarks.md, 'Tuning protocol')")
    parser.add_argument("--init-strategy", default="auto", choices=list(simulate.INIT_STRATEGIES))
    parser.add_argument("--max-pool", type=int, default=10_000)
    parser.add_argument("--max-test", type=int, default=5_000)
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--out-dir", default="bench/out/learning_curves")
    args = parser.parse_args()
    use_data_dir(args.cache)
    init, batch, rounds = GRIDS[args.grid]
    head_args = head.HeadArguments.from_dict(json.loads(args.head_args))
    datasets = args.datasets or sorted(p.parent.name for p in config.datasets_dir().glob("*/train.csv"))
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs, summaries, notes = [], {}, {}
    for name in datasets:
        train, test, note = load_dataset(name, args.split, args.max_pool, args.max_test)
        if args.split == "test" and name in TUNING_DATASETS:
            note += " (a tuning dataset: not held-out evidence)"
        classifier = args.classifier + ("" if args.classifier == "head" else f" {args.family_args}")
        notes[name] = (f"{note}; {len(set(train['label']))} classes; {classifier} {head_args.to_dict()}; grid {args.grid} "
                       f"({init} + {rounds} × {batch}); initial set: {args.init_strategy}; seeds {args.seeds}"
                       + ("; class-name prior" if args.class_prior else "")
                       + (f" fading F / (F + n), F = {args.prior_fade:g}" if args.class_prior and args.prior_fade else "")
                       + ".")
        summaries[name] = {}
        for strategy in args.strategies:
            results = []
            for seed in args.seeds:
                started = time.perf_counter()
                family_args = None
                if args.classifier != "head":
                    family_args = classifiers.arguments(args.classifier, {"seed": seed, **json.loads(args.family_args)})
                result = simulate.run(train, test, simulate.SimulationArguments(
                    strategy=strategy, init=init, batch=batch, rounds=rounds, seed=seed, classifier=args.classifier,
                    init_strategy=args.init_strategy, family_args=family_args, head_args=head_args,
                    class_prior=args.class_prior, prior_fade=args.prior_fade))
                result["config"]["dataset"], result["wall_s"] = name, time.perf_counter() - started
                results.append(result)
            runs += results
            summaries[name][strategy] = summarize(results, CHECKPOINTS[args.grid])
            s = summaries[name][strategy]
            print(f"{name:18s} {strategy:16s} AUC-F1 {s['auc_f1_mean']:.4f} ± {s['auc_f1_sd']:.4f}  "
                  f"AUC-acc {s['auc_mean']:.4f}  final acc {s['curve'][-1]:.4f}", flush=True)
        (out_dir / "runs.json").write_text(json.dumps(runs))
        (out_dir / "summary.json").write_text(json.dumps(summaries, indent=1))
    title = f"Learning curves: {args.grid} grid, {args.classifier}"
    (out_dir / "summary.md").write_text(markdown(summaries, notes, CHECKPOINTS[args.grid], title))
    plot(summaries, out_dir / "curves.png")
    if "random" in args.strategies and "auto" in args.strategies:
        gains = {d: s["auto"]["auc_f1_mean"] - s["random"]["auc_f1_mean"] for d, s in summaries.items()}
        print("\nauto - random macro-F1 AUC (points): " + ", ".join(f"{d} {100 * g:+.1f}" for d, g in gains.items())
              + f"; mean {100 * np.mean(list(gains.values())):+.2f}")
    print(f"wrote {out_dir}/runs.json, summary.md, curves.png")


if __name__ == "__main__":
    main()
