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


def make_project(db, texts=("a text", "another text", "a third text"), classes=("yes", "no"), *, labels=None,
                 name: str = "p", actor=None, eval_fraction: float = 0.0, overlap: int = 0, settings=None,
                 model: str | None = None, class_details: list[dict] | None = None) -> int:
    """A project made the way the app makes one (`plan_import` then `create_project_from_plan`); its id.

    `texts`: strings, or a table with a "text" column (its other columns are kept as the texts'
    fields, as a file's are). `labels`: one per text (None: unlabeled), imported as the file's label
    column, or the name of the table's label column. `actor` creates it (default: the local admin);
    `overlap` is then set the way the Settings page sets it."""
    from core.files import imports
    from core.team import auth, projects

    frame = texts if isinstance(texts, pd.DataFrame) else pd.DataFrame({"text": list(texts)}, dtype=object)
    label_column = labels if isinstance(labels, str) or labels is None else "label"
    if label_column == "label" and not isinstance(labels, str):  # as a file's cells: strings, None where empty
        frame = frame.assign(label=pd.Series(list(labels), index=frame.index, dtype=object))
    actor = actor or auth.local_actor()
    plan = imports.plan_import(frame, "text", label_column, None if classes is None else list(classes))
    pid = imports.create_project_from_plan(db, actor, name, plan, class_details, model=model, settings=settings,
                                           eval_fraction=eval_fraction)
    if overlap:
        projects.update_settings(db, actor, pid, {"overlap": overlap})
    return pid


def datasets_dir(*names: str) -> Path:
    """The shared datasets' folder; skips the test (fails it under SIEVE_REQUIRE_DATASETS=1) when
    these datasets (default: trec6) are not there."""
    directory = config.datasets_dir()
    missing = [name for name in names or ("trec6",) if not (directory / name / "train.csv").exists()]
    if missing:
        message = f"real datasets not found at {directory}: {', '.join(missing)} (set SIEVE_DATASETS)"
        if os.environ.get("SIEVE_REQUIRE_DATASETS"):
            pytest.fail(message)
        pytest.skip(message)
    return directory


def multilabel_dataset(split: str = "train", n: int | None = None, seed: int = 0, name: str = "debtags") -> pd.DataFrame:
    """A slice of a shared multi-label dataset (columns text,labels; labels joined by `|`), found
    through SIEVE_MULTILABEL; skips (fails under SIEVE_REQUIRE_DATASETS=1) where it is absent."""
    path = config.multilabel_dir() / name / f"{split}.csv"
    if not path.exists():
        message = f"multi-label dataset not found at {path} (set SIEVE_MULTILABEL)"
        if os.environ.get("SIEVE_REQUIRE_DATASETS"):
            pytest.fail(message)
        pytest.skip(message)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if n is not None and n < len(frame):
        frame = frame.sample(n=n, random_state=seed).reset_index(drop=True)
    return frame


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
    from core.jobs import worker  # imported here: collecting the unit tests loads no ML library
    while (job := store.claim_job(db, "test", kinds)) is not None:
        worker.run_job(db, job)
        assert store.job(db, job["id"])["status"] == store.JobStatus.DONE, store.job(db, job["id"])["error"]


@pytest.fixture
def trec():
    return dataset("trec6", "train", 300)


FAST_FOLDERS = ("unit", "app", "security")
"""What a plain local `python -m pytest` runs; --all, SIEVE_TESTS=all or CI=true runs every folder."""


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true", dest="sieve_all",
                     help="run every test folder (a plain local run takes only tests/unit, tests/app and "
                          "tests/security; SIEVE_TESTS=all or CI=true does the same as --all)")


def run_everything(config) -> bool:
    """Every folder: asked for (--all, SIEVE_TESTS=all), in CI, or when the run names its own tests
    (paths or -m): then nothing is left out behind the user's back."""
    return (config.getoption("sieve_all") or os.environ.get("SIEVE_TESTS", "").lower() == "all"
            or os.environ.get("CI", "").lower() in ("true", "1", "yes")
            or bool(config.option.file_or_dir) or bool(config.option.markexpr))


FOLDER_MARKERS = {"integration": "integration", "stress": "stress", "browser": "browser", "ray": "ray"}
"""Every test under tests/<folder> gets that folder's marker, so `-m "not integration"` and the
folders always select the same tests."""


LEFT_OUT = pytest.StashKey[list]()


def pytest_ignore_collect(collection_path, config):
    """A quick local run does not even import the test folders it leaves out."""
    path = Path(collection_path).resolve()
    if path.parent != Path(__file__).resolve().parent or path.name in FAST_FOLDERS or not path.is_dir():
        return None
    if path.name.startswith(("_", ".")) or run_everything(config):
        return None
    config.stash.setdefault(LEFT_OUT, []).append(f"tests/{path.name}")
    return True


def pytest_collection_modifyitems(config, items):
    """Markers from folders; GPU tests run only where CUDA is present."""
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(tests).parts
        if len(parts) > 1 and parts[0] in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[parts[0]])

    gpu = [item for item in items if "gpu" in item.keywords]
    if not gpu:
        return  # torch is imported only when a GPU test was collected
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in gpu:
        item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, config):
    if left_out := config.stash.get(LEFT_OUT, None):
        terminalreporter.write_line(f"left out {', '.join(sorted(left_out))} (a quick local run: unit, app and security "
                                    "tests only); run everything with: python -m pytest --all (CI=true does)")
