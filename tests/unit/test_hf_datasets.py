"""Labels as a Hugging Face `datasets` directory, and the dataset export job."""
from core import store
from core.files import hf_datasets, model_export
from core.labeling import annotate, scheduling
from core.team import auth
from tests.unit.test_predict import project  # noqa: F401 (fixture)


def test_hf_datasets_export_loads_with_class_labels_and_an_eval_split(db, project, tmp_path):
    from datasets import load_from_disk

    pid, _ = project
    pool, evals = store.example_ids(db, pid, store.POOL), store.example_ids(db, pid, store.EVAL)
    for example_id, label in [(pool[0], "yes"), (pool[1], "no"), (pool[2], "no"), (evals[0], "yes")]:
        annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, label)
    hf_datasets.save(db, pid, tmp_path / "ds")
    loaded = load_from_disk(str(tmp_path / "ds"))
    assert set(loaded) == {"train", "eval"}
    assert loaded["train"].features["label"].names == ["yes", "no"]
    assert sorted(loaded["train"]["label"]) == [0, 1, 1] and loaded["eval"]["label"] == [0]
    assert loaded["eval"]["example_id"] == [evals[0]]


def test_dataset_export_job_zips_it_in_the_data_directory(db, project):
    pid, _ = project
    annotate.submit_label(db, auth.local_actor("ann"), pid, store.example_ids(db, pid, store.POOL)[0], "yes")
    job_id = scheduling.request_dataset_export(db, auth.local_actor(), pid)
    assert scheduling.request_dataset_export(db, auth.local_actor(), pid) == job_id  # one at a time
    job = store.claim_job(db, "test", (store.EXPORT,))
    model_export.run_export(db, job, lambda f, m: None)
    ready = model_export.latest_dataset_export(db, pid)
    assert ready and ready["path"].endswith("dataset.zip") and ready["labels"] == 1
