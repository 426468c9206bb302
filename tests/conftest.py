import os
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import config, store  # noqa: E402
from core.jobs import worker  # noqa: E402

TREC_CLASSES = ["abbreviation", "description", "entity", "human", "location", "numeric"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Each test gets its own empty data directory (database and artifacts)."""
    directory = tmp_path / "data"
    monkeypatch.setenv("SIEVE_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def db(data_dir):
    return store.connect()


def datasets_dir() -> Path:
    directory = config.datasets_dir()
    if not (directory / "trec6" / "train.csv").exists():
        message = f"real datasets not found at {directory} (set SIEVE_DATASETS)"
        if os.environ.get("SIEVE_REQUIRE_DATASETS"):
            pytest.fail(message)
        pytest.skip(message)
    return directory


def dataset(name: str, split: str = "train", n: int | None = None, seed: int = 0) -> pd.DataFrame:
    """A fixed, stratified-ish slice of a shared dataset (columns text,label)."""
    frame = pd.read_csv(datasets_dir() / name / f"{split}.csv", dtype=str, keep_default_na=False)
    if n is not None and n < len(frame):
        frame = frame.sample(n=n, random_state=seed).reset_index(drop=True)
    return frame


def wait_for(predicate, timeout: float, what: str, every: float = 0.2):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def without_sieve() -> dict:
    """Where a process that must not be able to import Sieve runs (an exported model loads
    "without Sieve"): a directory outside the repository, and no PYTHONPATH."""
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {"cwd": tempfile.mkdtemp(prefix="no-sieve-"), "env": {**env, "HF_HUB_OFFLINE": "1",
                                                                 "TRANSFORMERS_OFFLINE": "1"}}


def stop_worker(process, grace: float = 30.0) -> None:
    """Stop a worker process the way a user does (SIGTERM), killing it if it does not exit in time."""
    import signal
    import subprocess

    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()


def run_queued(db, kinds: tuple[str, ...]) -> None:
    """Run every queued job of these kinds in this process, as the worker would; each must succeed."""
    while (job := store.claim_job(db, "test", kinds)) is not None:
        worker.run_job(db, job)
        assert store.job(db, job["id"])["status"] == store.DONE, store.job(db, job["id"])["error"]


@pytest.fixture
def trec():
    return dataset("trec6", "train", 300)


def pytest_collection_modifyitems(config, items):
    """GPU tests run only where CUDA is present."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
