"""Macro-F1 of the class names alone (0 labels) against a learning-curves run's first steps.

    python bench/names_only.py --split validation --datasets clinc150 emotion mr sst2 tweeteval_emotion \
        --max-pool 2000 --max-test 1000 --cache DIR --runs out/few-default/runs.json out/few-w5f1/runs.json

Names only: the default head fitted on the class names alone (self-trained from the pool, as
the app's head would be before any label) and the zero-shot prior softmax(cosine / 0.05).
For each runs.json: mean macro-F1 over seeds at its first checkpoints (10 and 20 labels on the
few grid), so one sees whether a few labels fall below what the names gave before any.
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})

import numpy as np  # noqa: E402

from common import load_dataset, use_data_dir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["test", "validation"], default="validation")
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--max-pool", type=int, default=2000)
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--cache")
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--at", type=int, nargs="+", default=[10, 20])
    args = parser.parse_args()
    use_data_dir(args.cache)
    from core.learning import evaluation
    from core.learning.classifiers import head
    from core.sim import simulate

    runs = {path: json.loads(open(path).read()) for path in args.runs}
    header = ["dataset", "names-only head", "names prior"] + [f"{p.split('/')[-2]} @{n}" for p in runs for n in args.at]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name in args.datasets:
        train, test, _ = load_dataset(name, args.split, args.max_pool, args.max_test)
        data = simulate.LabeledData.prepare(train, test)
        n = len(data.names)
        model = head.fit(np.zeros((0, data.class_vectors.shape[1]), np.float32), np.zeros(0, np.int64),
                         head.HeadArguments(), unlabeled=data.pool_vectors, class_examples=data.class_vectors)
        names_f1 = evaluation.scores(data.y_test, head.predict_proba(model, data.test_vectors, n).argmax(1))["macro_f1"]
        prior = (data.test_vectors @ data.class_vectors.T).argmax(1)  # softmax keeps the argmax
        prior_f1 = evaluation.scores(data.y_test, prior)["macro_f1"]
        cells = []
        for result in runs.values():
            mine = [r for r in result if r["config"]["dataset"] == name]
            for k in args.at:
                cells.append(f"{np.mean([next(s['macro_f1'] for s in r['steps'] if s['n_labels'] == k) for r in mine]):.3f}")
        print(f"| {name} | {names_f1:.3f} | {prior_f1:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
