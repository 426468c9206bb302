"""Full-data ceilings and labels needed to reach 90 % / 95 % of them, per dataset.

    python bench/ceilings.py --datasets 20newsgroups ag_news banking77 cr sms_spam subj trec6 \
        --runs bench/out/heldout-compare/runs.json --cache /work/benchcache --out-dir bench/out/ceilings

Ceiling: Sieve's default head (`core.classifiers.head`, class names included) fitted on the
whole labeled train split (the pool) with the frozen base embeddings, scored on the test split
(macro-F1 and accuracy). A full-data SetFit ceiling is not computed: on this 2-core CPU a SetFit
fit on 4k-10k texts takes hours (docs/benchmarks.md, "Full retrain").

From --runs (the runs.json of bench/compare_small_text.py, table `same`), for each run label
(e.g. `sieve auto`, `sieve random`, `small-text BreakingTies`): the mean macro-F1 curve over
seeds and the first label count at which it reaches 90 % / 95 % of the ceiling (`> 130` when it
never does on the HAST grid), and the rarest classes' recall at 130 labels where the runs
carry per-class recall.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import load_dataset, use_data_dir  # noqa: E402

LABELS = ("sieve auto", "sieve random", "small-text BreakingTies")


def ceiling(name: str, split: str) -> dict:
    from core.learning import evaluation
    from core.sim import simulate
    from core.learning.classifiers import head

    train, test, note = load_dataset(name, split, 0, 0)
    data = simulate.LabeledData.prepare(train, test)
    t = time.perf_counter()
    model = head.fit(data.pool_vectors, data.y_pool, head.HeadArguments(), class_examples=data.class_vectors)
    probs = head.predict_proba(model, data.test_vectors, len(data.names))
    return {"note": note, "fit_s": time.perf_counter() - t, **evaluation.scores(data.y_test, probs.argmax(axis=1))}


def reach(curve: list[float], n_labels: list[int], target: float) -> int | None:
    return next((n for n, value in zip(n_labels, curve) if value >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--runs", type=Path, help="runs.json of bench/compare_small_text.py")
    parser.add_argument("--labels", nargs="+", default=list(LABELS))
    parser.add_argument("--cache")
    parser.add_argument("--out-dir", default="bench/out/ceilings")
    args = parser.parse_args()
    use_data_dir(args.cache)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = json.loads(args.runs.read_text()) if args.runs else []
    report = {}
    lines = ["| dataset | ceiling macro-F1 (accuracy) | " + " | ".join(f"{l}: labels to 90 % / 95 %" for l in args.labels)
             + " |", "|---|---|" + "---|" * len(args.labels)]
    for name in args.datasets:
        top = ceiling(name, args.split)
        row = {"ceiling": top, "reach": {}}
        for label in args.labels:
            mine = [r for r in runs if r.get("table") == "same" and r["dataset"] == name and
                    (r["strategy"] if r["tool"] == "sieve" else f"small-text {r['strategy']}") == label]
            if not mine:
                continue
            curve = np.mean([[s["macro_f1"] for s in r["steps"]] for r in mine], axis=0).tolist()
            n_labels = [s["n_labels"] for s in mine[0]["steps"]]
            row["reach"][label] = {"curve": curve, "n_labels": n_labels,
                                   **{f"to_{p}": reach(curve, n_labels, p / 100 * top["macro_f1"]) for p in (90, 95)},
                                   "share_at_130": curve[-1] / top["macro_f1"]}
        report[name] = row
        cells = []
        for label in args.labels:
            r = row["reach"].get(label)
            cells.append("—" if r is None else " / ".join("> 130" if r[f"to_{p}"] is None else str(r[f"to_{p}"])
                                                           for p in (90, 95)) + f" ({100 * r['share_at_130']:.0f} % at 130)")
        lines.append(f"| {name} | {top['macro_f1']:.3f} ({top['accuracy']:.3f}) | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    (out_dir / "ceilings.json").write_text(json.dumps(report, indent=1))
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
