"""Shared by the benchmark scripts: real texts from the shared datasets, a throwaway data dir."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One BLAS/OpenMP thread: label-efficiency comparisons set it in their own process and in the
# small-text child alike, so both sides run under the same thread limits.
THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def use_scratch_data_dir() -> Path:
    """Benchmarks never touch the user's data/ folder."""
    directory = Path(tempfile.mkdtemp(prefix="sieve-bench-"))
    os.environ["SIEVE_DATA_DIR"] = str(directory)
    return directory


def use_data_dir(cache: str | None) -> None:
    """`--cache DIR`: keep base embeddings there between runs; otherwise a throwaway directory."""
    if cache:
        os.environ["SIEVE_DATA_DIR"] = cache
    else:
        use_scratch_data_dir()


def all_texts(n: int, seed: int = 0) -> pd.DataFrame:
    """n distinct real texts from every shared dataset; label = the dataset each came from."""
    from core import config

    frames = []
    for path in sorted(config.datasets_dir().glob("*/*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)[["text"]]
        frames.append(frame.assign(label=path.parent.name))
    pool = pd.concat(frames).assign(text=lambda f: f["text"].str.strip())
    pool = pool[pool["text"] != ""].drop_duplicates("text")
    if n > len(pool):
        raise SystemExit(f"only {len(pool):,} distinct texts in the shared datasets; ask for fewer")
    return pool.sample(n=n, random_state=seed).reset_index(drop=True)


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


# The tuning protocol (docs/benchmarks.md, "Tuning protocol"): defaults are chosen on the
# validation splits of these datasets only; figures are reported on the test splits of the rest.
TUNING_DATASETS = ("clinc150", "emotion", "mr", "sst2", "tweeteval_emotion")
HELD_OUT_DATASETS = ("20newsgroups", "ag_news", "banking77", "cr", "sms_spam", "subj", "trec6")


def load_dataset(name: str, split: str = "test", max_pool: int | None = None, max_eval: int | None = None,
                 seed: int = 0):
    """(pool, eval set, note) of a shared dataset, subsampled with a fixed seed.

    split="validation" evaluates on validation.csv; a dataset without one gets 10 % of train cut
    off with `seed` (and removed from the pool). split="test" refuses the tuning datasets'
    validation files and vice versa nothing: the caller states which split it reports.
    """
    from core import config
    from core.sim import simulate

    folder = config.datasets_dir() / name
    train = simulate.read_dataset(folder / "train.csv")
    note = ""
    if split == "validation":
        if (folder / "validation.csv").exists():
            evaluation = simulate.read_dataset(folder / "validation.csv")
            note = "eval: validation.csv"
        else:
            evaluation = train.sample(frac=0.1, random_state=seed)
            train = train.drop(evaluation.index)
            note = f"eval: 10 % of train cut off (seed {seed})"
    elif split == "test":
        evaluation = simulate.read_dataset(folder / "test.csv")
        note = "eval: test.csv"
    else:
        raise ValueError(f"split must be test or validation, not {split!r}")
    train, evaluation = train.reset_index(drop=True), evaluation.reset_index(drop=True)
    if max_pool and len(train) > max_pool:
        train = train.sample(max_pool, random_state=seed).reset_index(drop=True)
        note += f"; pool subsampled to {max_pool:,} (seed {seed})"
    else:
        note += f"; pool {len(train):,}"
    if max_eval and len(evaluation) > max_eval:
        evaluation = evaluation.sample(max_eval, random_state=seed).reset_index(drop=True)
        note += f"; eval subsampled to {max_eval:,} (seed {seed})"
    else:
        note += f"; eval {len(evaluation):,}"
    return train, evaluation, note
