"""A project in the state a long single-user session leaves (issue 20: movie reviews, 8,057 texts, 316 labels,
dozens of versions), made in seconds without training: a random "encoder" and versions whose
stored probabilities are random. For timing pages (bench/page_open.py --synthetic, profiling),
never for figures about models."""
from __future__ import annotations

import numpy as np
import pandas as pd


def seed_long_session(texts: int = 8000, labels: int = 316, versions: int = 40, seed: int = 0) -> tuple[int, dict]:
    """Create the project in the current SIEVE_DATA_DIR; (project id, gold label by text)."""
    from core import artifacts, config, store
    from core.files import imports
    from core.labeling import annotate
    from core.learning import embeddings
    from core.team import auth

    rng = np.random.default_rng(seed)
    frame = pd.read_csv(config.datasets_dir() / "mr" / "train.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["label"].isin(["positive", "negative"])].assign(text=lambda f: f["text"].str.strip())
    frame = frame[frame["text"] != ""].drop_duplicates("text").sample(n=texts, random_state=seed)
    gold = dict(zip(frame["text"], frame["label"]))
    names = ["positive", "negative"]
    db = store.connect()
    pid = imports.create_project_from_plan(db, auth.local_actor(), "long session",
                                           imports.plan_import(frame, "text", None, names))
    ids = np.array(store.example_ids(db, pid), dtype=np.int64)
    directory = artifacts.project_dir(pid) / "encoders" / "enc-synthetic"
    directory.mkdir(parents=True)
    embeddings.write(directory, ids, rng.normal(size=(len(ids), 384)).astype(np.float32))
    np.save(directory / "queue.npy", rng.permutation(ids))
    np.save(directory / "queue_scores.npy", np.zeros(len(ids), np.float32))
    with store.transaction(db) as conn:
        encoder_id = store.add_encoder(conn, pid, store.NewEncoder("default", str(directory), len(ids), 384, 1.0,
                                                                  "sentence-transformers"))
    by_id = store.texts_by_id(db, ids.tolist())
    evals = store.example_ids(db, pid, store.Split.EVAL)
    pool = store.example_ids(db, pid, store.Split.POOL)
    n_eval = labels // 10
    order = pool[: labels - n_eval] + evals[:n_eval]
    rng.shuffle(order)
    per_version = max(1, len(order) // versions)
    for i, example_id in enumerate(order, 1):
        annotate.submit_label(db, auth.local_actor("annotator"), pid, annotate.NextText.direct(example_id),
                              gold[by_id[example_id]], seconds=float(rng.uniform(2, 9)))
        if i % per_version == 0:
            _publish(db, pid, encoder_id, ids, rng, n_eval=sum(e in set(evals) for e in order[:i]))
    return pid, gold


def _publish(db, pid, encoder_id, ids, rng, n_eval: int) -> None:
    from core import artifacts, store

    n = len(store.versions(db, pid)) + 1
    directory = artifacts.project_dir(pid) / "versions" / f"v-synthetic{n}"
    directory.mkdir(parents=True)
    p = rng.uniform(0.05, 0.95, len(ids)).astype(np.float32)
    np.save(directory / "probs.npy", np.stack([p, 1 - p], axis=1))
    queue = rng.permutation(store.example_ids(db, pid, store.Split.POOL))[:2000]
    np.save(directory / "queue.npy", np.asarray(queue, np.int64))
    np.save(directory / "queue_scores.npy", np.zeros(len(queue), np.float32))
    (directory / "classes.json").write_text('["positive", "negative"]')
    acc = float(rng.uniform(0.6, 0.8))
    metrics = {"eval_accuracy": acc, "eval_accuracy_low": acc - 0.15, "eval_accuracy_high": acc + 0.1,
               "eval_macro_f1": acc - 0.02, "eval_macro_f1_low": acc - 0.2, "eval_macro_f1_high": acc + 0.1,
               "eval_n": n_eval, "cv_accuracy": acc - 0.1, "cv_macro_f1": acc - 0.12}
    with store.transaction(db) as conn:
        store.publish_version(conn, pid, store.NewVersion(
            store.JobKind.HEAD, encoder_id, str(directory), store.max_annotation_id(db, pid),
            store.label_count(db, pid), metrics, {"head": {"kind": "logistic_regression"}}, {}))
