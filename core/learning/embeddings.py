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


class UnsafeModel(ValueError):
    """A model Sieve refuses to load because loading it could run code; the message says why."""


PICKLE_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_model_dir(path: str | Path) -> None:
    """Refuse a local model directory whose weights exist only as pickles (`pytorch_model.bin`),
    or whose modules.json names code outside sentence-transformers: loading either can run code.

    Hub ids are not checked here; they load with `use_safetensors=True`, which refuses pickles.
    A SetFit directory's `model_head.pkl` is never read (only the encoder body is loaded).
    """
    root = Path(path)
    if not root.is_dir():
        return
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        files = [f for f in folder.iterdir() if f.is_file()]
        pickles = [f.name for f in files if f.suffix in PICKLE_WEIGHTS and f.name != "model_head.pkl"]
        if pickles and not any(f.suffix == ".safetensors" for f in files):
            raise UnsafeModel(
                f"Sieve loads safetensors weights only, and this model has only pickle weights "
                f"({', '.join(sorted(pickles))}), which can run code when loaded. Save it with "
                f"save_pretrained(..., safe_serialization=True) or pick another model ({root}).")
    modules = root / "modules.json"
    if modules.exists():
        import json

        foreign = [m.get("type", "") for m in json.loads(modules.read_text())
                   if not str(m.get("type", "")).startswith("sentence_transformers.")]
        if foreign:
            raise UnsafeModel(f"The model at {root} names code outside sentence-transformers in modules.json "
                              f"({', '.join(foreign)}); Sieve does not load custom code.")


def open_encoder(model: str | None = None):
    """A fresh SentenceTransformer (the caller may change it, e.g. export it with a head).

    Only the encoder is loaded, from safetensors weights: a user-named model never runs code."""
    from sentence_transformers import SentenceTransformer

    path = config.resolve_model(model)
    check_model_dir(path)
    return SentenceTransformer(path, device=device(), trust_remote_code=False,
                               model_kwargs={"use_safetensors": True})


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
