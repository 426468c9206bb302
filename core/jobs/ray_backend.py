"""Heavy compute on a Ray cluster; the label store stays SQLite on the app host.

With `SIEVE_RAY_ADDRESS` set (e.g. `ray://10.0.0.5:10001` or `10.0.0.5:6379`; `auto` joins a
cluster this host is part of), the worker, which still runs on the app host beside the
database, sends its heavy work to Ray:

- pool embedding and re-embedding: Ray Data `map_batches` over an actor pool
  (`embed_texts`); one GPU per actor when the cluster has GPUs, else one CPU per actor;
- full retrains: one Ray task, on a GPU node when there is one (`retrain`), then the pool is
  scored by the actor pool with the new model;
- predictions on uploaded files (`score_texts`).

Only texts and model files go out (through Ray's object store) and only arrays and model files
come back; the worker writes them with the same atomic publishing as a local job
(`core/artifacts.py`, `core/jobs/publishing.py`). The cluster never sees the SQLite file or the data
directory, and the worker stays the only writer of both.

Faults: Ray's own retries are off (actors `max_restarts=0`, tasks `max_retries=0`), so a lost
node, actor or task raises `RayLost`, and the worker hands the job back to the queue exactly as
when a worker dies (`store.requeue_lost`: the attempt counts, "re-queued (attempt 1 of 3)").
The last good version keeps serving meanwhile.

Without `SIEVE_RAY_ADDRESS` nothing here runs and `ray` is never imported: every `import ray`
is inside a function (tests/unit/test_ray_footprint.py checks).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from core import config

ADDRESS_ENV = "SIEVE_RAY_ADDRESS"
ACTORS_ENV = "SIEVE_RAY_ACTORS"  # actors in the embedding pool; default: every GPU, else 2
BATCH = 1024  # texts per map_batches call (the same chunks as embeddings.ENCODE_CHUNK)
BLOCK = BATCH  # texts per Ray Data block: one batch, the same chunk the local path encodes at once
# Environment the cluster's processes get from the worker (offline mode, precision choice).
PASSED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SIEVE_OFFLINE", "SIEVE_BF16", "TOKENIZERS_PARALLELISM")

Progress = Callable[[float, str], None]
_lock = threading.Lock()


def address() -> str | None:
    return os.environ.get(ADDRESS_ENV) or None


def configured() -> bool:
    """Whether heavy jobs go to Ray. Reads the environment only; imports nothing."""
    return address() is not None


class RayLost(RuntimeError):
    """A Ray node, actor or task was lost in the middle of a job: the job is re-queued, as for a
    worker that died, and the last good version keeps serving."""


# ---------------------------------------------------------------- connection


def _runtime_env() -> dict:
    """Sieve's `core` package travels to the cluster's workers (Ray uploads it once per job);
    the cluster's nodes must have the same Python packages installed (requirements.txt)."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    return {"py_modules": [str(Path(__file__).resolve().parents[1])], "env_vars": env}


def connect():
    """The `ray` module, connected to the configured cluster (once per process)."""
    import ray

    with _lock:
        if not ray.is_initialized():
            ray.init(address=address(), runtime_env=_runtime_env(), namespace="sieve", log_to_driver=False,
                     configure_logging=False)
            _quiet_data()
    return ray


def _quiet_data() -> None:
    """Ray Data's progress bars and periodic status lines would flood the worker's log."""
    import logging

    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def non_loopback_interfaces() -> list[str]:
    """The network interfaces of this process's namespace other than loopback (netlink, not
    /sys/class/net, which shows the namespace sysfs was mounted in)."""
    import socket

    return sorted(name for _, name in socket.if_nameindex() if name != "lo")


def start_local(num_cpus: int, num_gpus: int | None = 0, object_store_memory: int = 512 * 2**20,
                temp_dir: str | None = None):
    """A one-machine Ray cluster for the tests and bench/ray_throughput.py. Ray binds every
    interface and registers the host's address, so run this only inside a network namespace
    that has nothing but loopback (`unshare --net`), never on a host's normal network."""
    import ray

    others = non_loopback_interfaces()
    if others:
        raise RuntimeError(f"refusing to start a local Ray cluster on a host network (interfaces {others}); "
                           "run it inside `unshare --net` with only loopback up")
    with _lock:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, object_store_memory=object_store_memory,
                 runtime_env=_runtime_env(), namespace="sieve", log_to_driver=False, configure_logging=False,
                 _temp_dir=temp_dir)
        _quiet_data()
    return ray


def gpus() -> int:
    return int(connect().cluster_resources().get("GPU", 0))


def device() -> str:
    """The device heavy jobs run on: 'cuda' when the cluster has a GPU (so the app schedules a
    retrain after every batch, as for a local GPU worker), else 'cpu'."""
    return "cuda" if gpus() else "cpu"


def actor_count() -> int:
    if os.environ.get(ACTORS_ENV):
        return max(1, int(os.environ[ACTORS_ENV]))
    return gpus() or 2


LOST = ("ActorDiedError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError", "ObjectLostError",
        "OwnerDiedError", "ObjectFetchTimedOutError", "ObjectReconstructionFailedError", "LocalRayletDiedError",
        "RaySystemError", "GetTimeoutError")


def _lost(err: BaseException) -> bool:
    """Whether an exception (or one it wraps) means Ray lost a process or node, not a bug in the job."""
    import ray.exceptions

    seen, todo = set(), [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if any(type(e).__name__ == name or any(c.__name__ == name for c in type(e).__mro__) for name in LOST):
            return True
        if isinstance(e, ray.exceptions.RayActorError):
            return True
        todo += [e.__cause__, e.__context__, getattr(e, "cause", None)]
    # Ray Data reports a dead actor inside its own error text.
    text = str(err)
    return "ActorDiedError" in text or "The actor died" in text or "WorkerCrashedError" in text


def _reraise_lost(err: BaseException, what: str):
    if _lost(err):
        raise RayLost(f"Ray lost a process or node while {what}: {type(err).__name__}: "
                      f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}") from err
    raise err


# ---------------------------------------------------------------- model files


def read_dir(path: Path) -> dict[str, bytes]:
    """A model directory as {relative path: bytes}, to travel through the object store."""
    path = Path(path)
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def write_dir(files: dict[str, bytes], out: Path) -> Path:
    out = Path(out)
    for name, data in files.items():
        target = out / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"refusing a model file outside its directory: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return out


def model_spec(model: str | None):
    """How a node finds the model: the packaged default and hub ids by name (each node resolves
    them), a local directory (a fine-tuned encoder in the data directory) as its files."""
    if model and model != config.DEFAULT_MODEL and Path(model).is_dir():
        return ("files", connect().put(read_dir(Path(model))))
    return ("name", model or config.DEFAULT_MODEL)


def _materialise(spec) -> str:
    """On a node: the model's path (its files written to a temporary directory) or its name."""
    kind, value = spec
    if kind == "name":
        return value
    if not isinstance(value, dict):  # an object ref inside the spec: Ray resolves only top-level ones
        import ray

        value = ray.get(value)
    return str(write_dir(value, Path(tempfile.mkdtemp(prefix="sieve-model-"))))


# ---------------------------------------------------------------- the actor pool


class Embedder:
    """A Ray Data actor: loads the model once, then embeds (and, for a family, scores) batches."""

    def __init__(self, spec, family: str | None):
        from core.learning import classifiers, embeddings

        self.family = family
        path = _materialise(spec)
        if family is None or family == classifiers.SENTENCE_ENCODER:
            self.family, self.encoder = None, embeddings.load_encoder(path)
        else:
            self.model = classifiers.load(family, Path(path))

    def __call__(self, batch: dict) -> dict:
        from core.learning import embeddings

        texts = [str(t) for t in batch["text"]]
        if self.family is None:
            return {"row": batch["row"], "vector": embeddings.encode(self.encoder, texts)}
        vectors, probs = self.model.embed_and_score(texts)
        return {"row": batch["row"], "vector": np.asarray(vectors, np.float32),
                "probs": np.asarray(probs, np.float32)}


@dataclass
class PoolRun:
    """What one actor-pool pass measured (bench/ray_throughput.py prints it)."""

    texts: int = 0
    actors: int = 0
    gpus: int = 0
    seconds: float = 0.0
    first_batch_s: float | None = None  # start-up: actors created and the model loaded


def _remaining(started: float, done: int, total: int) -> str:
    from core.learning.classifiers.protocol import describe_time

    if done <= 0:
        return ""
    left = describe_time((time.monotonic() - started) / done * (total - done))
    return f", {left}" if left else ""


def _map(spec, family: str | None, texts: Sequence[str], progress: Progress | None, what: str,
         run: PoolRun | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    ray = connect()
    import pandas as pd

    n = len(texts)
    if n == 0:
        return np.zeros((0, 0), np.float32), None
    n_gpus, actors = gpus(), actor_count()
    actors = min(actors, max(1, -(-n // BATCH)))
    if progress:
        progress(0.0, f"starting {actors} Ray actor{'s' if actors > 1 else ''} for {n:,} texts")
    blocks = [pd.DataFrame({"row": np.arange(s, min(s + BLOCK, n)), "text": list(texts[s:s + BLOCK])})
              for s in range(0, n, BLOCK)]
    resources = {"num_gpus": 1} if n_gpus else {"num_cpus": 1}
    with warnings.catch_warnings():  # max_restarts has no named parameter yet; Ray warns about the kwargs
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.from_pandas(blocks).map_batches(
            Embedder, fn_constructor_args=(spec, family), batch_size=BATCH, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors), max_restarts=0, max_task_retries=0, **resources)
    vectors = probs = None
    done, started = 0, time.monotonic()
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            rows = np.asarray(batch["row"], np.int64)
            if vectors is None:
                vectors = np.empty((n, batch["vector"].shape[1]), np.float32)
                if "probs" in batch:
                    probs = np.empty((n, batch["probs"].shape[1]), np.float32)
                if run is not None:
                    run.first_batch_s = time.monotonic() - started
            vectors[rows] = batch["vector"]
            if probs is not None:
                probs[rows] = batch["probs"]
            done += len(rows)
            if progress:
                progress(done / n, f"{what} {done:,} of {n:,} texts on Ray ({actors} actor"
                                   f"{'s' if actors > 1 else ''}){_remaining(started, done, n)}")
    except Exception as err:  # noqa: BLE001 — re-raised, as RayLost when Ray lost a process
        _reraise_lost(err, what)
    if done != n:
        raise RayLost(f"Ray returned {done:,} of {n:,} rows")
    if run is not None:
        run.texts, run.actors, run.gpus, run.seconds = n, actors, n_gpus, time.monotonic() - started
    return vectors, probs


def embed_texts(model: str | None, texts: Sequence[str], progress: Progress | None = None,
                family: str | None = None, run: PoolRun | None = None) -> np.ndarray:
    """Normalised float32 embeddings of `texts` (rows in order), computed by the actor pool.

    `model` is what the encoder row names (the packaged default, a hub id, or a fine-tuned
    model's directory); `family` 'transformer' embeds with a fine-tuned transformer's body."""
    spec = model_spec(model)
    fam = "transformer" if family == "transformer" else None
    return _map(spec, fam, texts, progress, "embedded", run)[0]


def score_texts(family: str, model_dir: str | Path, texts: Sequence[str],
                progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, class probabilities) of `texts` from a trained model directory of `family`."""
    return _map(model_spec(str(model_dir)), family, texts, progress, "scored")


# ---------------------------------------------------------------- full retrain


class _Board:
    """A tiny actor the retrain task reports its progress to; the worker polls it."""

    def __init__(self):
        self.value = (0.0, "starting the retrain on Ray")

    def set(self, fraction: float, message: str) -> None:
        self.value = (fraction, message)

    def get(self):
        return self.value


def _train_remote(spec, family, texts, label_ids, class_names, args, budget_s, board):
    """Runs on a Ray node: train, save the model directory, send back its files and what it reports."""
    from core.learning import classifiers

    scratch = Path(tempfile.mkdtemp(prefix="sieve-retrain-"))
    os.environ["SIEVE_DATA_DIR"] = str(scratch / "data")  # SetFit's scratch; the node has no Sieve data
    try:
        start = _materialise(spec)
        budget = classifiers.TimeBudget(budget_s)
        t0 = time.perf_counter()
        trained = classifiers.train(family, start, texts, label_ids, class_names, args,
                                    progress=lambda f, m: board.set.remote(f, m), budget=budget)
        train_s = time.perf_counter() - t0
        trained.save(scratch / "model")
        return {"info": trained.info.to_dict(), "train_s": train_s}, read_dir(scratch / "model")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RemoteTrained:
    """A model trained on Ray, back on the app host as its directory's files: what
    `training.full_retrain` needs of a `TrainedModel` (save, info, fast_head)."""

    def __init__(self, family: str, files: dict[str, bytes], info: dict):
        from core.learning.classifiers import TrainingInfo

        self.family, self.files, self.info = family, files, TrainingInfo(**info)

    def save(self, out_dir: Path) -> None:
        write_dir(self.files, out_dir)

    def fast_head(self) -> Any | None:
        """SetFit's logistic head, read back from its plain-array copy (never a pickle)."""
        from core.learning.classifiers import head, setfit_family

        prefix = f"{setfit_family.SIEVE_HEAD}/"
        own = {name[len(prefix):]: data for name, data in self.files.items() if name.startswith(prefix)}
        if self.family != "setfit" or head.HEAD_JSON not in own:
            return None
        folder = Path(tempfile.mkdtemp(prefix="sieve-head-"))
        try:
            return head.load(write_dir(own, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def continuation(self):
        return None


@dataclass
class Retrained:
    trained: RemoteTrained
    vectors: np.ndarray
    probs: np.ndarray
    train_s: float
    embed_s: float


def retrain(family: str, start_from: str, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
            args, budget_s: float | None, pool_texts: Sequence[str], progress: Progress) -> Retrained:
    """Train `family` on a Ray node (one GPU when the cluster has one), then score the pool with
    the new model over the actor pool. Progress and time left come from the remote training."""
    ray = connect()
    n_gpus = gpus()
    board = ray.remote(num_cpus=0, max_restarts=0)(_Board).remote()
    spec = model_spec(start_from)
    task = ray.remote(_train_remote).options(num_returns=2, max_retries=0, retry_exceptions=False,
                                             **({"num_gpus": 1} if n_gpus else {"num_cpus": 1}))
    meta_ref, files_ref = task.remote(spec, family, list(texts), np.asarray(label_ids).tolist(),
                                      list(class_names), args, budget_s, board)
    try:
        while True:
            ready, _ = ray.wait([meta_ref], timeout=1.0)
            if ready:
                break
            fraction, message = ray.get(board.get.remote(), timeout=30)
            progress(0.7 * fraction, f"{message} (on Ray)")  # raises Interrupted when the worker stops
        meta, files = ray.get([meta_ref, files_ref])
    except BaseException as err:
        ray.cancel(meta_ref, force=True)
        if isinstance(err, Exception):
            _reraise_lost(err, "training")
        raise
    finally:
        ray.kill(board)
    trained = RemoteTrained(family, files, meta["info"])
    t0 = time.perf_counter()
    vectors, probs = _map(("files", files_ref), family, pool_texts,
                          lambda f, m: progress(0.7 + 0.25 * f, m), "scored")
    return Retrained(trained, vectors, probs, meta["train_s"], time.perf_counter() - t0)
