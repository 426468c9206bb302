"""Multi-label learning curves on debtags (issue 21), under the tuning protocol.

    nice -n 10 python bench/multilabel_curves.py --phase tune   --seeds 0 1 2 --out-dir bench/out/multilabel
    nice -n 10 python bench/multilabel_curves.py --phase report --seeds 0 1 2 3 4 --out-dir bench/out/multilabel

tune: 20 % of debtags train (by a fixed seed) is cut off as a validation split; every strategy
x cold start runs on the rest, scored on the validation split; the default is the best macro-F1
at the budget. report: the default (`core.learning.multilabel.DEFAULT_STRATEGY`, k-means cold
start) against random sampling (random cold start) with the same classifier, pool = all of
debtags train, scored on debtags test. Grid: 40 initial labels, batches of 40, 200 labels.
Each row: mean over seeds with a 95 % t interval. Embeddings (the app's default encoder) and
class-name examples are cached in --out-dir.

Both phases also run small-text 1.4.1's multi-label strategy, CategoryVectorInconsistencyAndRanking
(CVIRS; small-text 1.4.1 has no other multi-label-specific one), on the same classifier: the
same one-vs-rest heads give it their probabilities, from the same k-means initial set as the
default; it keeps its own prediction threshold of 0.5 as shipped. small-text is installed with
--no-deps into bench/out/small-text-lib (as bench/compare_small_text.py does); --no-small-text
leaves it out. The report adds per-label curves (the rarest labels by train positives) and the
stopping figures per step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from core import config  # noqa: E402
from core.learning import class_examples, embeddings, labelsets  # noqa: E402
from core.learning import multilabel as ml  # noqa: E402
from core.sim import multilabel_sim  # noqa: E402

SMALL_TEXT_LIB = Path(__file__).resolve().parents[1] / "bench" / "out" / "small-text-lib"
CVIRS = "cvirs (small-text)"


def cvirs_chooser():
    """small-text's CategoryVectorInconsistencyAndRanking, fed the probabilities of Sieve's heads."""
    import subprocess

    from scipy.sparse import csr_matrix

    if not (SMALL_TEXT_LIB / "small_text").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(SMALL_TEXT_LIB),
                        "small-text==1.4.1"], check=True)
    sys.path.insert(0, str(SMALL_TEXT_LIB))
    np.lib.index_tricks = np.lib._index_tricks_impl  # private in NumPy 2; small-text still reads it
    from small_text.query_strategies.multi_label import CategoryVectorInconsistencyAndRanking

    strategy = CategoryVectorInconsistencyAndRanking(pbar=None)

    def choose(probs, thresholds, candidates, labeled, labeled_Y, size):
        class Probabilities:  # small-text asks its classifier for the candidates' probabilities
            def predict_proba(self, rows):
                return probs[rows]

        return strategy.query(Probabilities(), np.arange(len(probs)), candidates, labeled, csr_matrix(labeled_Y), n=size)

    return choose


def load(out_dir: Path):
    folder = config.multilabel_dir() / "debtags"
    frames = {s: pd.read_csv(folder / f"{s}.csv", dtype=str, keep_default_na=False) for s in ("train", "test")}
    classes = sorted({c for f in frames.values() for cell in f["labels"] for c in labelsets.parse_cell(cell)})
    out = {}
    for split, frame in frames.items():
        cache = out_dir / f"debtags_{split}.npy"
        if not cache.exists():
            vectors = embeddings.encode(embeddings.load_encoder(None), frame["text"].tolist())
            np.save(cache, vectors)
        out[split] = (np.load(cache), labelsets.one_hot([labelsets.parse_cell(c) for c in frame["labels"]], classes))
    names = out_dir / "debtags_classes.npy"
    if not names.exists():
        np.save(names, embeddings.encode(embeddings.load_encoder(None),
                                         list(class_examples.texts([{"name": c} for c in classes]))))
    return out, classes, np.load(names)


def interval(values) -> tuple[float, float, float]:
    from scipy import stats

    v = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def stopping_lines(runs, arms) -> list[str]:
    """Mean per-step stopping figures (core.learning.stopping reads them as the app does)."""
    out = ["", "Stopping figures (mean over seeds): pool kappa with the step before / mean label-decision uncertainty", "",
           "| strategy | " + " | ".join(str(p["labels"]) for p in runs[0]["curve"]) + " |",
           "|---|" + "---|" * len(runs[0]["curve"])]
    for strategy, cold in arms:
        curves = [r["curve"] for r in runs if (r["strategy"], r["cold_start"]) == (strategy, cold)]
        cells = []
        for step in range(len(curves[0])):
            kappas = [c[step]["kappa_previous"] for c in curves if c[step]["kappa_previous"] is not None]
            unc = np.mean([c[step]["mean_uncertainty"] for c in curves])
            cells.append(f"{np.mean(kappas):.2f} / {unc:.2f}" if kappas else f"– / {unc:.2f}")
        out.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return out


def rarest_lines(runs, arms, Y, classes, k) -> list[str]:
    """Per-label curves: F1 of the k labels with the fewest positives in the pool, per step."""
    rare = np.argsort(Y.sum(0), kind="stable")[:k]
    steps = [p["labels"] for p in runs[0]["curve"]]
    out = ["", f"Per-label F1 of the {k} rarest labels (pool positives), mean over seeds, at "
           + ", ".join(map(str, steps)) + " labels", "",
           "| label (pool positives) | " + " | ".join(f"{s} / {c}" for s, c in arms) + " |",
           "|---|" + "---|" * len(arms)]
    for j in rare:
        cells = []
        for strategy, cold in arms:
            curves = [r["curve"] for r in runs if (r["strategy"], r["cold_start"]) == (strategy, cold)]
            cells.append(" → ".join(f"{np.mean([c[s]['per_label_f1'][j] for c in curves]):.2f}" for s in range(len(steps))))
        out.append(f"| {classes[j]} ({int(Y[:, j].sum())}) | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=("tune", "report"), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--out-dir", default="bench/out/multilabel")
    parser.add_argument("--no-small-text", action="store_true", help="leave small-text's CVIRS out")
    parser.add_argument("--rarest", type=int, default=10, help="per-label curves of this many rarest labels")
    args = parser.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, classes, names = load(out_dir)
    X, Y = data["train"]
    if args.phase == "tune":
        cut = np.random.default_rng(1234).permutation(len(X))
        val, rest = cut[: len(X) // 5], cut[len(X) // 5:]
        pool, test = (X[rest], Y[rest]), (X[val], Y[val])
        arms = [(s, c) for s in ml.STRATEGIES for c in ("kmeans", "random") if not (s == "random" and c == "kmeans")]
    else:
        pool, test = (X, Y), data["test"]
        arms = [(ml.DEFAULT_STRATEGY, "kmeans"), ("random", "random")]
    if not args.no_small_text:
        arms.append((CVIRS, "kmeans"))
        choose_cvirs = cvirs_chooser()
    runs = []
    for strategy, cold in arms:
        for seed in args.seeds:
            t0 = time.perf_counter()
            curve = multilabel_sim.run(*pool, *test, multilabel_sim.Arguments(
                "random" if strategy == CVIRS else strategy, cold, budget=args.budget, seed=seed),
                class_examples=names, chooser=choose_cvirs if strategy == CVIRS else None)
            runs.append({"strategy": strategy, "cold_start": cold, "seed": seed, "curve": curve,
                         "seconds": time.perf_counter() - t0})
            print(f"{strategy:>13} {cold:>7} seed {seed}: macro-F1 {curve[-1]['macro_f1']:.3f} micro-F1 "
                  f"{curve[-1]['micro_f1']:.3f} ({runs[-1]['seconds']:.0f} s)", flush=True)
    (out_dir / f"{args.phase}_runs.json").write_text(json.dumps(runs, indent=1))
    lines = [f"debtags, {args.phase} ({'validation cut from train' if args.phase == 'tune' else 'test split'}), "
             f"{args.budget} labels, seeds {args.seeds}", "",
             "| strategy | cold start | macro-F1 (95 % CI) | micro-F1 (95 % CI) | Hamming loss | subset acc. |",
             "|---|---|---|---|---|---|"]
    for strategy, cold in arms:
        finals = [r["curve"][-1] for r in runs if (r["strategy"], r["cold_start"]) == (strategy, cold)]
        cell = {}
        for key in ("macro_f1", "micro_f1", "hamming_loss", "subset_accuracy"):
            mean, low, high = interval([f[key] for f in finals])
            cell[key] = f"{mean:.3f} ({low:.3f}–{high:.3f})" if key.endswith("f1") else f"{mean:.4f}"
        lines.append(f"| {strategy} | {cold} | {cell['macro_f1']} | {cell['micro_f1']} | {cell['hamming_loss']} | "
                     f"{cell['subset_accuracy']} |")
    default = {r["seed"]: r["curve"][-1]["macro_f1"] for r in runs
               if (r["strategy"], r["cold_start"]) == (ml.DEFAULT_STRATEGY, "kmeans")}
    lines.append("")
    for other in ("random", CVIRS):
        theirs = {r["seed"]: r["curve"][-1]["macro_f1"] for r in runs if r["strategy"] == other}
        if theirs and len(args.seeds) > 1:
            mean, low, high = interval([default[s] - theirs[s] for s in args.seeds])
            lines.append(f"Paired difference default − {other} (macro-F1 at {args.budget}): {mean:+.3f} "
                         f"(95 % CI {low:+.3f} to {high:+.3f})")
    if args.phase == "report":
        lines += stopping_lines(runs, arms) + rarest_lines(runs, arms, Y, classes, args.rarest)
    (out_dir / f"{args.phase}_summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for strategy, cold in arms:
            curves = [r["curve"] for r in runs if (r["strategy"], r["cold_start"]) == (strategy, cold)]
            xs = [p["labels"] for p in curves[0]]
            ax.plot(xs, np.mean([[p["macro_f1"] for p in c] for c in curves], 0), marker="o", label=f"{strategy}/{cold}")
        ax.set_xlabel("labels"), ax.set_ylabel("macro-F1"), ax.legend(fontsize=7), ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / f"{args.phase}_curves.png", dpi=120)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
