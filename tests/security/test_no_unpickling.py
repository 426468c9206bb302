"""Finding 3: a user-named model must never run code, and Sieve never unpickles its own files.

A crafted `model_head.pkl` in a user-named SetFit directory writes a marker file when it is
unpickled; a full retrain through the worker's job function must leave no marker. Sieve's own
heads are stored as plain arrays, and no file of the data directory is ever passed to
`joblib.load`, `pickle.load` or `torch.load` (a grep of the code and a behavioural check).
"""
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core import config, store
from core.jobs import worker
from core.labeling import annotate, scheduling
from core.team import auth, projects
from core.settings import ProjectSettings
from tests.conftest import ROOT, TREC_CLASSES, dataset, make_project, run_queued

pytestmark = pytest.mark.integration


class WritesMarker:
    """Unpickling this calls `Path.touch(marker)`: proof that the pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def crafted_setfit_dir(root: Path, marker: Path, safetensors: bool = True) -> Path:
    """The packaged MiniLM as a SetFit directory with a head pickle that writes `marker`."""
    model = root / "user-model"
    shutil.copytree(config.resolve_model(None), model)
    (model / "config_setfit.json").write_text('{"labels": null, "normalize_embeddings": false}')
    with open(model / "model_head.pkl", "wb") as handle:
        pickle.dump(WritesMarker(marker), handle)
    if not safetensors:  # only pickle weights: what a torch.save checkpoint looks like
        (model / "model.safetensors").rename(model / "pytorch_model.bin")
    return model


def labeled_project(db, model: str, n_labels: int = 24, family: str = "setfit") -> int:
    frame = dataset("trec6", "train", 120)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    args = {"setfit": {"max_steps": 2, "batch_size": 8, "max_length": 32},
            "setfit-diff": {"max_steps": 2, "batch_size": [8, 8], "num_epochs": [1, 1], "max_length": 32}}
    pid = make_project(db, frame, TREC_CLASSES, model=model, eval_fraction=0,
                       settings=ProjectSettings(family=family, retrain_every=0,
                                                family_args={family: args[family]}))
    run_queued(db, (store.JobKind.EMBED,))
    for _ in range(n_labels):
        shown = annotate.next_text(db, auth.local_actor("ann"), pid)
        annotate.submit_label(db, auth.local_actor("ann"), pid, shown, gold[shown.text])
    run_queued(db, (store.JobKind.HEAD,))
    return pid


def run_full(db, pid: int) -> dict:
    job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
    job = store.claim_job(db, "test", (store.JobKind.FULL,))
    assert job["id"] == job_id
    worker.run_job(db, job)
    return store.job(db, job_id)


@pytest.mark.parametrize("family", ["setfit", "setfit-diff"])
def test_a_crafted_head_pickle_in_a_user_named_model_never_runs(db, tmp_path, family):
    marker = tmp_path / "pwned"
    model = crafted_setfit_dir(tmp_path, marker)
    pid = labeled_project(db, str(model), family=family)
    job = run_full(db, pid)
    assert not marker.exists(), "the pickled head of the user-named model was executed"
    assert job["status"] == store.JobStatus.DONE, job["error"]
    assert store.latest_version(db, pid)["kind"] == store.JobKind.FULL


def test_a_user_named_model_with_only_pickle_weights_is_refused(db, tmp_path):
    model = crafted_setfit_dir(tmp_path, tmp_path / "pwned", safetensors=False)
    frame = dataset("trec6", "train", 40)
    pid = make_project(db, frame, TREC_CLASSES, model=str(model), eval_fraction=0)
    job = store.claim_job(db, "test", (store.JobKind.EMBED,))
    for _ in range(config.MAX_ATTEMPTS):
        worker.run_job(db, job)
        job = store.claim_job(db, "test", (store.JobKind.EMBED,)) or store.job(db, job["id"])
    assert job["status"] == store.JobStatus.FAILED
    assert "safetensors" in job["message"] and "pickle" in job["message"], job["message"]
    assert store.latest_encoder(db, pid) is None


LOADERS = re.compile(r"\b(joblib\.load|pickle\.loads?|torch\.load|cloudpickle|dill\.load|"
                     r"SetFitModel\.from_pretrained|np\.load\([^)]*allow_pickle\s*=\s*True)")


def code_lines(path: Path) -> dict[int, str]:
    """Each line's code without its strings and comments (a loader named in prose is no call)."""
    import io
    import tokenize

    lines: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        prose = {tokenize.STRING, tokenize.COMMENT} | {getattr(tokenize, name, -1) for name in
                                                       ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")}
        if token.type not in prose:
            lines[token.start[0]] = lines.get(token.start[0], "") + token.string
    return lines


def test_sieve_code_never_calls_an_unpickling_loader():
    offenders = []
    for path in [ROOT / "app.py", *(ROOT / "core").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]:
        for number, code in code_lines(path).items():
            if LOADERS.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {code}")
    assert not offenders, "\n".join(offenders)


@pytest.fixture
def refuse_unpickling_in_data_dir(data_dir, monkeypatch):
    """Every unpickling loader raises if handed a file inside the data directory."""
    import joblib
    import torch

    def guard(original):
        def load(source, *args, **kwargs):
            name = getattr(source, "name", source)
            if isinstance(name, (str, Path)) and Path(name).resolve().is_relative_to(data_dir.resolve()):
                raise AssertionError(f"unpickled {name}")
            return original(source, *args, **kwargs)
        return load

    monkeypatch.setattr(joblib, "load", guard(joblib.load))
    monkeypatch.setattr(pickle, "load", guard(pickle.load))
    monkeypatch.setattr(torch, "load", guard(torch.load))


def test_the_loop_never_unpickles_a_file_of_the_data_directory(db, tmp_path, refuse_unpickling_in_data_dir):

    pid = labeled_project(db, config.DEFAULT_MODEL)
    head = store.current_version(db, pid)
    assert run_full(db, pid)["status"] == store.JobStatus.DONE
    run_queued(db, (store.JobKind.HEAD,))
    # Warm start continues from Sieve's own fine-tuned encoder: its head pickle must stay unread.
    projects.update_settings(db, auth.local_actor(), pid, {"family_args": {"setfit": {"max_steps": 2, "batch_size": 8, "max_length": 32,
                                                               "warm_start": True}}})
    assert run_full(db, pid)["status"] == store.JobStatus.DONE
    run_queued(db, (store.JobKind.HEAD,))
    exported = {}
    for version in (head, store.latest_version(db, pid, store.JobKind.FULL), store.current_version(db, pid)):
        with store.transaction(db) as conn:
            job_id = store.enqueue(conn, pid, store.JobKind.EXPORT, {"version_id": version["id"]})
        run_queued(db, (store.JobKind.EXPORT,))
        exported[version["id"]] = store.job(db, job_id)["result"]["path"]
    assert all(Path(p).exists() for p in exported.values())
    assert all(not (Path(v["path"]) / "head.joblib").exists() for v in store.versions(db, pid))


def test_an_exported_head_version_still_loads_with_setfit(db, tmp_path):
    """The export is the user's own SetFit directory: `from_pretrained` (and its pickle) is theirs to run."""
    from setfit import SetFitModel

    from core.files import model_export

    pid = labeled_project(db, config.DEFAULT_MODEL)
    version = store.current_version(db, pid)
    out = model_export.export_model(db, version["id"], tmp_path / "export")
    model = SetFitModel.from_pretrained(str(out))
    texts = store.texts_by_id(db, store.example_ids(db, pid)[:20])
    served = np.load(Path(version["path"]) / "probs.npy")[:20]
    exported = np.asarray(model.predict_proba(list(texts.values())))
    # The pool was embedded under bf16 autocast where the CPU has it; SetFit embeds in float32.
    assert np.allclose(exported, served, atol=0.02)
    assert (exported.argmax(1) == served.argmax(1)).mean() >= 0.9
