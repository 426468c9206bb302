"""Where annotators wait: import, label -> next text, label -> queue from a refitted head.

    python bench/latency.py --pool 10000 100000

For each pool size: imports N real texts (timed, DESIGN budget <= 10 s at 100k), embeds
them with the real packaged encoder (cached between runs under the scratch data dir's
parent when --cache is given), starts a real worker process (fast lane), then labels
`--labels` texts the way the UI does (submit_label + next_text) and measures
  - label -> next text shown, server side (budget: p95 <= 150 ms), and
  - label -> a new head version whose queue includes that label (budget: <= 1 s at 100k, CPU),
the second after every `refit_every` (5) labels.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from common import ROOT, all_texts, percentile, use_scratch_data_dir


def run(n: int, labels: int, cache_dir: str | None) -> dict:
    data_dir = use_scratch_data_dir()
    from core import store
    from core.files import imports
    from core.jobs import training
    from core.labeling import annotate
    from core.team import auth

    pool = all_texts(n)
    csv_bytes = pool.to_csv(index=False).encode()
    db = store.connect()
    t0 = time.perf_counter()
    frame = imports.read_table(csv_bytes, "pool.csv")
    plan = imports.plan_import(frame, "text", None, sorted(pool["label"].unique()))
    pid = imports.create_project_from_plan(db, auth.local_actor(), f"pool{n}", plan)
    import_s = time.perf_counter() - t0

    texts_by = store.texts_by_id(db, store.example_ids(db, pid))
    ids = np.array(sorted(texts_by), dtype=np.int64)
    t1 = time.perf_counter()
    vectors = _embeddings([texts_by[i] for i in ids], cache_dir)
    embed_s = time.perf_counter() - t1
    training.publish_embeddings(db, pid, ids, vectors, embed_s)
    db.conn.execute("UPDATE jobs SET status = 'done' WHERE project_id = ? AND kind = 'embed'", (pid,))

    gold = dict(zip(pool["text"], pool["label"]))
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir)}
    worker = subprocess.Popen([sys.executable, "-m", "core", "worker", "--lanes", "fast"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not store.live_workers(db):
            time.sleep(0.05)
        next_ms, refit_ms = [], []
        shown = annotate.next_text(db, auth.local_actor("bench"), pid)
        for i in range(labels):
            t = time.perf_counter()
            annotation_id = annotate.submit_label(db, auth.local_actor("bench"), pid, shown, gold[shown.text])
            shown = annotate.next_text(db, auth.local_actor("bench"), pid)
            next_ms.append((time.perf_counter() - t) * 1000)
            if (i + 1) % 5 == 0:
                while True:
                    version = store.latest_version(db, pid)
                    if version and version["label_watermark"] >= annotation_id:
                        break
                    time.sleep(0.002)
                refit_ms.append((time.perf_counter() - t) * 1000)
                shown = annotate.next_text(db, auth.local_actor("bench"), pid)  # the fresh queue
        timings = store.latest_version(db, pid)["timings"]
    finally:
        worker.terminate()
        worker.wait(20)
    refit_after_first = refit_ms[1:]  # the first refit also loads the embeddings into the worker
    return {"pool": n, "import_s": import_s, "embed_s": embed_s,
            "next_p50_ms": percentile(next_ms, 50), "next_p95_ms": percentile(next_ms, 95),
            "refit_p50_ms": percentile(refit_after_first, 50), "refit_p95_ms": percentile(refit_after_first, 95),
            "refit_max_ms": max(refit_after_first), "first_refit_ms": refit_ms[0],
            "last_version_timings": {k: round(v, 4) for k, v in timings.items() if isinstance(v, float)}}


def _embeddings(texts: list[str], cache_dir: str | None) -> np.ndarray:
    from core.learning import embeddings
    from core.sim import simulate

    if cache_dir:
        os.environ["SIEVE_DATA_DIR"], data_dir = cache_dir, os.environ["SIEVE_DATA_DIR"]
        try:
            return simulate.cached_embeddings(None, texts)
        finally:
            os.environ["SIEVE_DATA_DIR"] = data_dir
    return embeddings.encode(embeddings.load_encoder(None), texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--cache", help="folder to cache pool embeddings in between runs")
    args = parser.parse_args()
    print(f"{'pool':>8} {'import s':>9} {'embed s':>8} {'next p50':>9} {'next p95':>9} "
          f"{'refit p50':>10} {'refit p95':>10} {'refit max':>10}  (ms unless s)")
    for n in args.pool:
        r = run(n, args.labels, args.cache)
        print(f"{r['pool']:>8,} {r['import_s']:>9.2f} {r['embed_s']:>8.1f} {r['next_p50_ms']:>9.1f} "
              f"{r['next_p95_ms']:>9.1f} {r['refit_p50_ms']:>10.0f} {r['refit_p95_ms']:>10.0f} "
              f"{r['refit_max_ms']:>10.0f}", flush=True)
        print(f"         last head refit inside the worker: {r['last_version_timings']}", flush=True)


if __name__ == "__main__":
    main()
