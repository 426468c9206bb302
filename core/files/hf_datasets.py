"""Labels as a Hugging Face `datasets` directory (`save_to_disk`), loadable with `datasets.load_from_disk`.

A `DatasetDict` with a `train` split (labeled pool texts: the ones active learning chose) and,
when the project has labeled eval texts, an `eval` split (its random eval sample). `label` is a
`ClassLabel` with the project's classes in their order. Needs the `datasets` library, so it runs
in the worker or the CLI, never in the UI process.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from core import artifacts, store
from core.files import exports, multilabel_io
from core.jobs import kinds

FORMAT = kinds.LEGACY_DATASET_FORMAT  # the CLI's --format name, and the result's "format"


def build(db, project_id: int):
    if store.project_kind(db, project_id) == "multi":  # `labels` is a Sequence(ClassLabel) (issue 21)
        return multilabel_io.build_dataset(db, project_id)
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    names = store.class_names(db, project_id)
    frame = exports.labels_frame(db, project_id)
    frame = frame[frame["label"].isin(names)]
    features = Features({"text": Value("string"), "label": ClassLabel(names=names), "example_id": Value("int64"),
                         "annotator": Value("string"), "labeled_at": Value("string")})
    splits = {}
    for split, name in ((store.Split.POOL, "train"), (store.Split.EVAL, "eval")):
        part = frame[frame["split"] == split]
        if name == "train" or len(part):
            splits[name] = Dataset.from_dict({
                "text": part["text"].tolist(), "label": [names.index(x) for x in part["label"]],
                "example_id": [int(x) for x in part["example_id"]], "annotator": part["annotator"].tolist(),
                "labeled_at": part["labeled_at"].astype(str).tolist()}, features=features)
    return DatasetDict(splits)


def save(db, project_id: int, out_dir: Path) -> Path:
    """Write the project's labels to `out_dir` with `DatasetDict.save_to_disk`."""
    build(db, project_id).save_to_disk(str(out_dir))
    return out_dir


def run_export(db, job: dict, progress) -> None:
    """The `dataset_export` job: the directory, zipped into the project's data directory."""
    started = time.perf_counter()
    progress(0.1, "building the dataset")
    with artifacts.atomic_dir(artifacts.export_dir(job["project_id"]), "hf") as (tmp, final):
        folder = save(db, job["project_id"], tmp / "dataset")
        progress(0.7, "compressing")
        (tmp / "dataset.zip").write_bytes(artifacts.zip_dir(folder, "sieve-dataset"))
        shutil.rmtree(folder)
    result = {"path": str(final / "dataset.zip"), "format": FORMAT, "labels": store.label_count(db, job["project_id"])}
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"], message=f"exported {result['labels']} labels as a datasets directory "
                                                  f"in {time.perf_counter() - started:.0f} s", result=result)


def latest(db, project_id: int) -> dict | None:
    """The newest finished dataset export whose file still exists (also one stored as an `export`
    job with format hf-datasets, as before the kind existed): its result with `finished_at`."""
    for job in store.jobs(db, project_id, 200):
        if (kinds.kind_of(job) == store.JobKind.DATASET_EXPORT and job["status"] == store.JobStatus.DONE and job["result"]
                and Path(job["result"]["path"]).exists()):
            return {**job["result"], "finished_at": job["finished_at"]}
    return None
