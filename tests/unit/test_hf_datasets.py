"""Labels as a Hugging Face `datasets` directory, and the dataset export job."""
from core import store
from core.files import hf_datasets, model_export
from core.jobs import kinds, worker
from core.labeling import annotate, scheduling
from core.team import auth
from tests.unit.test_predict import project  # noqa: F401 (fixture)


def test_hf_datasets_export_loads_with_class_labels_and_an_eval_split(db, project, tmp_path):
    from datasets import load_from_disk

    pid, _ = project
    pool, evals = store.example_ids(db, pid, store.Split.POOL), store.example_ids(db, pid, store.Split.EVAL)
    for example_id, label in [(pool[0], "yes"), (pool[1], "no"), (pool[2], "no"), (evals[0], "yes")]:
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    hf_datasets.save(db, pid, tmp_path / "ds")
    loaded = load_from_disk(str(tmp_path / "ds"))
    assert set(loaded) == {"train", "eval"}
    assert loaded["train"].features["label"].names == ["yes", "no"]
    assert sorted(loaded["train"]["label"]) == [0, 1, 1] and loaded["eval"]["label"] == [0]
    assert loaded["eval"]["example_id"] == [evals[0]]


def test_dataset_export_job_zips_it_in_the_data_directory(db, project):
    pid, _ = project
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(store.example_ids(db, pid, store.Split.POOL)[0]), "yes")
    job_id = scheduling.request_dataset_export(db, auth.local_actor(), pid)
    assert scheduling.request_dataset_export(db, auth.local_actor(), pid) == job_id  # one at a time
    assert store.job(db, job_id)["kind"] == store.JobKind.DATASET_EXPORT  # a kind of its own, not an `export` variant
    assert store.claim_job(db, "test", (store.JobKind.EXPORT,)) is None
    job = store.claim_job(db, "test", (store.JobKind.DATASET_EXPORT,))
    worker.run_job(db, job)
    assert store.job(db, job_id)["status"] == store.JobStatus.DONE
    ready = hf_datasets.latest(db, pid)
    assert ready and ready["path"].endswith("dataset.zip") and ready["labels"] == 1
    assert model_export.latest_export(db, pid, project[1]) is None  # not mistaken for a model export


def test_a_dataset_export_stored_the_old_way_still_reads_and_runs_as_one(db, project):
    """Before `dataset_export` existed, the dataset export was an `export` job with format hf-datasets."""
    pid, _ = project
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(store.example_ids(db, pid, store.Split.POOL)[0]), "yes")
    with store.transaction(db) as conn:
        old = store.enqueue(conn, pid, store.JobKind.EXPORT, {"format": "hf-datasets"}, priority=3)
    assert kinds.kind_of(store.job(db, old)) == store.JobKind.DATASET_EXPORT
    assert kinds.name(store.job(db, old)) == "dataset export"
    assert scheduling.request_dataset_export(db, auth.local_actor(), pid) == old  # the queued old one counts
    job = store.claim_job(db, "test", (store.JobKind.EXPORT,))  # as the embed lane claims it
    worker.run_job(db, job)
    finished = store.job(db, old)
    assert finished["status"] == store.JobStatus.DONE and finished["result"]["format"] == "hf-datasets"
    ready = hf_datasets.latest(db, pid)
    assert ready and ready["path"] == finished["result"]["path"] and ready["labels"] == 1
