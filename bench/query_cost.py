"""What the query step of a head refit costs on a two-class project, where `auto` weights the
margin by density (each text's mean cosine to its 10 nearest neighbours in a 5,000-text sample).

    python bench/query_cost.py --pool 15000 100000

For each pool size: writes an encoder artifact the way the embed lane does (`embeddings.write`
plus `neighbours.save`, timed: that is the embed lane's extra cost), then times the refit's
query step (`strategies.rank_queue("auto", ...)` over the artifact's memory-mapped vectors, two
classes, batch 10, queue 200) twice: with the saved table (what a refit does now) and in a fresh
process-level memo without it (what the first refit after each encoder change paid before the
table moved into the embed lane). Vectors are random unit vectors (the cost depends only on the
pool's size and dimension, not on the texts); probabilities are random. Excludes fitting the head
and scoring the pool (bench/latency.py measures the whole refit).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import use_scratch_data_dir


def run(n: int, dim: int = 384, repeats: int = 5) -> dict:
    from pathlib import Path

    from core.learning import embeddings, neighbours, strategies

    directory = Path(use_scratch_data_dir()) / f"enc{n}"
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embeddings.write(directory, np.arange(n), vectors)
    t = time.perf_counter()
    neighbours.save(directory, vectors)
    save_s = time.perf_counter() - t
    mapped = embeddings.read(str(directory))[1]
    p = rng.uniform(size=n).astype(np.float32)
    probs = np.stack([p, 1 - p], axis=1)
    candidates = np.arange(n)

    def query() -> float:
        t0 = time.perf_counter()
        strategies.rank_queue("auto", probs, mapped, candidates, 200, 10, np.random.default_rng(1),
                              class_counts=[5, 5])
        return time.perf_counter() - t0

    with_table = []
    for _ in range(repeats):
        neighbours._MEMO.clear()  # every refit reads the table from the artifact (worst case: nothing memoised)
        with_table.append(query())
    for name in (neighbours.INDICES_FILE, neighbours.SIMILARITY_FILE):
        (directory / name).unlink()
    neighbours._MEMO.clear()
    without_first = query()  # computes the table: the old first refit after an encoder change
    return {"pool": n, "embed_lane_save_s": round(save_s, 2),
            "refit_query_with_saved_table_s": round(float(np.median(with_table)), 3),
            "refit_query_computing_the_table_s": round(without_first, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, nargs="+", default=[15_000, 100_000])
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().split()[0]}", flush=True)
    print(f"{'pool':>8} {'embed lane: save table':>24} {'refit query, saved table':>26} {'refit query, computing it':>27}")
    for n in args.pool:
        r = run(n)
        print(f"{n:>8,} {r['embed_lane_save_s']:>22.2f} s {r['refit_query_with_saved_table_s']:>24.3f} s "
              f"{r['refit_query_computing_the_table_s']:>25.2f} s", flush=True)
        print(r, flush=True)


if __name__ == "__main__":
    main()
