"""A new user's first minute: a Small demo (200 random texts of their file, as the Projects page makes
it) with a real worker process, until the first model is served.

    python bench/first_run.py [--dataset trec6] [--texts 200] [--labels 10]

Prints seconds from "Create project" to: the worker up, the pool embedded, and the first model
version after `--labels` labels given as fast as the queue serves them (the annotator's own pace
comes on top: at ~3 s a label, 10 labels take 30 s). Issue 22's target: a first model within a minute.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import common

sys.path.insert(0, str(common.ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="trec6")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--labels", type=int, default=10)
    args = parser.parse_args()
    common.use_scratch_data_dir()
    import pandas as pd

    from core import config, store
    from core.files import imports as io
    from core.labeling import annotate
    from core.team import auth

    frame = pd.read_csv(config.datasets_dir() / args.dataset / "train.csv", dtype=str, keep_default_na=False)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    classes = sorted(frame["label"].unique())
    db = store.connect()
    start = time.monotonic()
    demo = frame[["text"]].sample(n=args.texts, random_state=0).reset_index(drop=True)  # as the page's Small demo
    project = io.create_project_from_plan(db, auth.local_actor(), "demo", io.plan_import(demo, "text", None, classes),
                                          eval_fraction=io.DEFAULT_EVAL_FRACTION)
    worker = subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=common.ROOT, env=os.environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not store.live_workers(db):
            time.sleep(0.1)
        up = time.monotonic() - start
        while store.latest_encoder(db, project) is None:
            time.sleep(0.1)
        embedded = time.monotonic() - start
        actor = auth.local_actor("bench")
        for _ in range(args.labels):
            shown = annotate.next_text(db, actor, project)
            annotate.submit_label(db, actor, project, shown, gold[shown.text])
        labeled = time.monotonic() - start
        while store.latest_version(db, project) is None:
            time.sleep(0.1)
        model = time.monotonic() - start
    finally:
        worker.terminate()
        worker.wait(30)
    print(f"{args.dataset}, {args.texts} texts: worker up {up:.1f} s, pool embedded {embedded:.1f} s, "
          f"{args.labels} labels given {labeled:.1f} s, first model served {model:.1f} s after Create project")


if __name__ == "__main__":
    main()
