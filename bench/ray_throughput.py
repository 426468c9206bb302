"""Pool embedding through the Ray backend: throughput for 1 and 2 actors, and Ray's overheads.

    python bench/ray_throughput.py --texts 8192 --actors 1 2

The script re-runs itself inside `unshare --net` (a network namespace with only loopback; needs
root or user namespaces) before it starts Ray, because a local Ray cluster binds every interface
and registers the host's address. It prints:
  - Ray's start-up: `ray.init` of a local 2-CPU cluster (token authentication on);
  - per-task overhead: the round trip of an empty Ray task;
  - per-job overhead: `ray_backend.embed_texts` of 64 texts minus the local encode of the same
    64 (actor start, model load, Ray Data planning, results back);
  - for each actor count: texts/s over the whole job, and after the first batch (steady state);
  - the same texts embedded in this process (`embeddings.encode`, all cores and 1 thread) for reference.
Short texts (4-word windows of trec6 questions), the packaged all-MiniLM-L6-v2, one CPU per
actor. `--gpus N` gives the local cluster N GPUs (then one GPU per actor).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

from common import ROOT, use_scratch_data_dir


def short_texts(n: int) -> list[str]:
    import pandas as pd

    from core import config

    frame = pd.concat(pd.read_csv(config.datasets_dir() / "trec6" / f"{split}.csv", dtype=str, keep_default_na=False)
                      for split in ("train", "test"))
    words = " ".join(frame["text"].tolist()).split()
    seen: dict[str, None] = {}
    for i in range(len(words) - 4):
        seen.setdefault(" ".join(words[i:i + 4]), None)
        if len(seen) == n:
            break
    return list(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=8192)
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--gpus", type=int, default=0)
    args = parser.parse_args()
    from core.jobs import ray_backend

    if ray_backend.non_loopback_interfaces():
        if os.environ.get("SIEVE_RAY_BENCH_INNER"):
            sys.exit("still not in a loopback-only namespace; refusing to start Ray")
        env = {**os.environ, "SIEVE_RAY_BENCH_INNER": "1", "RAY_AUTH_MODE": "token",
               "RAY_AUTH_TOKEN": secrets.token_hex(32), "SIEVE_RAY_ADDRESS": "auto"}
        command = f"ip link set lo up && exec {sys.executable} {' '.join(map(repr, sys.argv))}"
        sys.exit(subprocess.call(["unshare", "--net", "sh", "-c", command], env=env, cwd=ROOT))

    use_scratch_data_dir()
    import numpy as np

    from core.learning import embeddings

    texts = short_texts(args.texts)
    temp = tempfile.mkdtemp(prefix="sray-", dir="/tmp")
    started = time.perf_counter()
    ray = ray_backend.start_local(num_cpus=args.cpus, num_gpus=args.gpus, temp_dir=temp)
    startup_s = time.perf_counter() - started

    noop = ray.remote(lambda: None)
    ray.get(noop.remote())
    started = time.perf_counter()
    for _ in range(20):
        ray.get(noop.remote())
    task_ms = (time.perf_counter() - started) / 20 * 1000

    import torch

    encoder = embeddings.load_encoder(None)
    embeddings.encode(encoder, texts[:64])  # warm up
    started = time.perf_counter()
    local = embeddings.encode(encoder, texts)
    local_s = time.perf_counter() - started
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what one actor gets (one CPU)
    started = time.perf_counter()
    embeddings.encode(encoder, texts)
    local_1_s = time.perf_counter() - started
    torch.set_num_threads(threads)
    started = time.perf_counter()
    embeddings.encode(encoder, texts[:64])
    local_64_s = time.perf_counter() - started

    os.environ[ray_backend.ACTORS_ENV] = "1"
    started = time.perf_counter()
    ray_backend.embed_texts(None, texts[:64])
    job_overhead_s = time.perf_counter() - started - local_64_s

    results = {"texts": len(texts), "cpus": args.cpus, "gpus": args.gpus, "ray_startup_s": round(startup_s, 2),
               "empty_task_ms": round(task_ms, 2), "job_overhead_s": round(job_overhead_s, 2),
               "local_texts_per_s": round(len(texts) / local_s, 1),
               "local_1_thread_texts_per_s": round(len(texts) / local_1_s, 1), "actors": {}}
    print(f"{len(texts):,} short texts, local cluster {args.cpus} CPUs / {args.gpus} GPUs, "
          f"autocast {embeddings.autocast_dtype(embeddings.device())}")
    print(f"Ray start-up (ray.init, local cluster):      {startup_s:6.1f} s")
    print(f"empty Ray task round trip:                    {task_ms:6.1f} ms")
    print(f"per-job overhead (64 texts on Ray - locally): {job_overhead_s:6.1f} s")
    print(f"in this process (embeddings.encode), {threads} threads: {len(texts) / local_s:6.0f} texts/s")
    print(f"in this process (embeddings.encode), 1 thread:  {len(texts) / local_1_s:6.0f} texts/s")
    for actors in args.actors:
        os.environ[ray_backend.ACTORS_ENV] = str(actors)
        run = ray_backend.PoolRun()
        vectors = ray_backend.embed_texts(None, texts, run=run)
        steady = (len(texts) - ray_backend.BATCH) / max(run.seconds - (run.first_batch_s or 0), 1e-9)
        same = float(np.abs(vectors - local).max())
        results["actors"][actors] = {"seconds": round(run.seconds, 1), "texts_per_s": round(len(texts) / run.seconds, 1),
                                     "after_first_batch_texts_per_s": round(steady, 1),
                                     "first_batch_s": round(run.first_batch_s or 0, 1), "max_abs_diff": same}
        print(f"{actors} actor{'s' if actors > 1 else ' '}: {len(texts) / run.seconds:6.0f} texts/s over the job "
              f"({run.seconds:.1f} s, first batch after {run.first_batch_s:.1f} s), {steady:6.0f} texts/s after "
              f"the first batch; max |difference| from local {same:.2g}")
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
