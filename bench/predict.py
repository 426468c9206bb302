"""Predictions on new data: texts/s of `python -m core predict` on N texts with a head version.

    python bench/predict.py [--texts 10000] [--pool 2000]

Builds a throwaway project (a pool of real texts from the shared datasets, labeled by the dataset
each came from), embeds it and refits the head in-process as the worker would, then runs the
command line in a fresh process on N other texts and prints what it reports (model loading apart).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import ROOT, all_texts, use_scratch_data_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=2_000)
    args = parser.parse_args()
    data_dir = use_scratch_data_dir()
    from core import store
    from core.files import imports
    from core.jobs import training
    from core.labeling import annotate
    from core.team import auth

    frame = all_texts(args.pool + args.texts)
    pool, new = frame.iloc[:args.pool], frame.iloc[args.pool:]
    db = store.connect()
    classes = sorted(pool["label"].unique())
    pid = imports.create_project_from_plan(db, auth.local_actor(), "bench", imports.plan_import(pool[["text"]], "text", None, classes))
    training.embed_pool(db, pid)
    gold = dict(zip(pool["text"], pool["label"]))
    texts = store.texts_by_id(db, store.example_ids(db, pid))
    for example_id in list(texts)[:200]:
        annotate.submit_label(db, auth.local_actor("bench"), pid, annotate.NextText.direct(example_id), gold[texts[example_id]])
    training.refit_head(db, pid)
    path = data_dir / "new.csv"
    new[["text"]].to_csv(path, index=False)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "core", "predict", str(path), "--project", "bench",
                             "--out", str(data_dir / "predictions.parquet")], cwd=ROOT, capture_output=True,
                            text=True, env={**__import__("os").environ, "SIEVE_DATA_DIR": str(data_dir)})
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    print(result.stdout.strip())
    print(f"whole command, process start and model load included: {time.perf_counter() - started:.1f} s "
          f"for {len(new):,} texts")


if __name__ == "__main__":
    main()
