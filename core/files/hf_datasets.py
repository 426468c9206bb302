"""Labels as a Hugging Face `datasets` directory (`save_to_disk`), loadable with `datasets.load_from_disk`.

A `DatasetDict` with a `train` split (labeled pool texts: the ones active learning chose) and,
when the project has labeled eval texts, an `eval` split (its random eval sample). `label` is a
`ClassLabel` with the project's classes in their order. Needs the `datasets` library, so it runs
in the worker or the CLI, never in the UI process.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from core import artifacts, store
from core.files import exports

FORMAT = "hf-datasets"


def build(db, project_id: int):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    names = store.class_names(db, project_id)
    frame = exports.labels_frame(db, project_id)
    frame = frame[frame["label"].isin(names)]
    features = Features({"text": Value("string"), "label": ClassLabel(names=names), "example_id": Value("int64"),
                         "annotator": Value("string"), "labeled_at": Value("string")})
    splits = {}
    for split, name in ((store.POOL, "train"), (store.EVAL, "eval")):
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


def run_export(db, job: dict, progress) -> dict:
    """The export job's `hf-datasets` variant: the directory, zipped into the project's data directory."""
    from core.files import model_export

    progress(0.1, "building the dataset")
    with artifacts.atomic_dir(model_export.export_dir(job["project_id"]), "hf") as (tmp, final):
        folder = save(db, job["project_id"], tmp / "dataset")
        progress(0.7, "compressing")
        (tmp / "dataset.zip").write_bytes(artifacts.zip_dir(folder, "sieve-dataset"))
        shutil.rmtree(folder)
    return {"path": str(final / "dataset.zip"), "format": FORMAT, "labels": store.label_count(db, job["project_id"])}
