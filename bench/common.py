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


def use_scratch_data_dir() -> Path:
    """Benchmarks never touch the user's data/ folder."""
    directory = Path(tempfile.mkdtemp(prefix="sieve-bench-"))
    os.environ["SIEVE_DATA_DIR"] = str(directory)
    return directory


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
