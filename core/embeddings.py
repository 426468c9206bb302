"""Sentence embeddings of the pool, computed once per encoder and kept as .npy artifacts.

An encoder's artifact directory holds `embeddings.npy` (float32, L2-normalised, one row per
example) and `ids.npy` (the example id of each row, ascending). Both are opened memory-mapped
so a large pool costs the UI process almost no memory.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core import artifacts, config

ProgressFn = Callable[[float, str], None]
ENCODE_CHUNK = 1024  # texts per progress report


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def cpu_supports_bf16() -> bool:
    """bf16 autocast is ~3x faster on CPUs with AVX-512 BF16 / AMX and slower on the rest."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(on: str):
    import torch

    if on == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if os.environ.get("SIEVE_BF16", "auto") == "0":
        return None
    return torch.bfloat16 if cpu_supports_bf16() else None


def precision_name(dtype) -> str:
    """How a run computed: 'bfloat16' / 'float16' under autocast, else 'float32'."""
    return str(dtype).replace("torch.", "") if dtype is not None else "float32"


def open_encoder(model: str | None = None):
    """A fresh SentenceTransformer (the caller may change it, e.g. export it with a head)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(config.resolve_model(model), device=device())


@functools.lru_cache(maxsize=4)
def load_encoder(model: str | None = None):
    """A shared, cached SentenceTransformer for embedding: never modify it."""
    return open_encoder(model)


def encode(encoder, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
    """Normalised float32 embeddings, in chunks so progress can be reported."""
    import torch

    dtype = autocast_dtype(str(encoder.device.type))
    out = np.empty((len(texts), encoder.get_embedding_dimension()), dtype=np.float32)
    for start in range(0, len(texts), ENCODE_CHUNK):
        chunk = list(texts[start:start + ENCODE_CHUNK])
        with torch.inference_mode(), torch.autocast(encoder.device.type, dtype=dtype, enabled=dtype is not None):
            vectors = encoder.encode(chunk, batch_size=batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        out[start:start + len(chunk)] = vectors.astype(np.float32)
        if progress:
            done = start + len(chunk)
            progress(done / max(len(texts), 1), f"embedded {done:,} of {len(texts):,} texts")
    return out


def write(directory: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
    artifacts.save_npy(directory / "ids.npy", ids.astype(np.int64))
    artifacts.save_npy(directory / "embeddings.npy", vectors.astype(np.float32))


@functools.lru_cache(maxsize=16)
def read(directory: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, embeddings) of an encoder artifact, memory-mapped. Artifacts never change once published."""
    path = Path(directory)
    return np.load(path / "ids.npy"), np.load(path / "embeddings.npy", mmap_mode="r")
