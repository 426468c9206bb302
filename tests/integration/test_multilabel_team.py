"""A team on a multi-label project, end to end on real debtags texts (issue 21): three annotators
in overlapping pairs, conflicts per label, a reviewer's decisions per label and by the majority,
the final sets (what the head trains on and the export holds), agreement from the worker's
`quality` job; and predictions on a new file (worker job and CLI) giving the app's sets."""
import json

import numpy as np
import pandas as pd

from core import store
from core.files import multilabel_export, multilabel_io, predict
from core.jobs import multilabel_training, training
from core.labeling import annotate, multilabel
from core.learning import embeddings, labelsets
from core.team import auth, multilabel_quality as mlq, projects, quality
from tests.conftest import multilabel_dataset, run_queued

PAIRS = (("ann1", "ann2"), ("ann2", "ann3"), ("ann1", "ann3"))


def test_three_annotators_conflicts_decisions_and_final_sets_on_debtags(db):
    frame = multilabel_dataset("train", n=36, seed=3)
    truth = [labelsets.parse_cell(c) for c in frame["labels"]]
    classes = sorted({t for s in truth for t in s})
    plan = multilabel_io.plan_import(frame[["text"]], "text", None, classes)
    pid = multilabel_io.create_project(db, auth.local_actor(), "debtags team", plan, eval_fraction=0.0)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    by_text = dict(zip(frame["text"].str.strip(), truth))

    def answer(who: str, i: int, true: list[str]) -> list[str]:
        if who == "ann2" and i % 2 == 0 and true:
            return true[1:]  # misses a tag
        if who == "ann3" and i % 4 == 0:
            return sorted(set(true) | {classes[(7 * i) % len(classes)]})  # adds one
        return list(true)

    expected_votes = {}
    for i, example_id in enumerate(store.example_ids(db, pid, store.Split.POOL)):
        true = [c for c in classes if c in by_text[store.example(db, int(example_id))["text"].strip()]]
        expected_votes[int(example_id)] = (true, {})
        for who in PAIRS[i % 3]:
            labels = answer(who, i, true)
            multilabel.submit_labels(db, auth.local_actor(who), pid, annotate.NextText.direct(int(example_id)), labels)
            expected_votes[int(example_id)][1][who] = [c for c in classes if c in labels]
    disputed = {e: (t, v) for e, (t, v) in expected_votes.items() if len({tuple(s) for s in v.values()}) > 1}
    found = mlq.conflicts(db, pid)
    assert {c.example_id for c in found} == set(disputed) and len(found) >= 6
    for c in found:  # each disputed label: given by one of the two, left out by the other (a tie)
        a, b = (set(s) for s in disputed[c.example_id][1].values())
        assert [x.label for x in c.labels] == [x for x in classes if x in a ^ b]
        assert all(x.majority is None and len(x.given_by) == len(x.left_out_by) == 1 for x in c.labels)
        assert c.final == [x for x in classes if x in a & b]  # ties stay out until decided

    # the reviewer decides the first half by hand (each disputed label as the truth has it), the rest by majority
    reviewer = auth.local_actor("rev")
    by_hand = [c.example_id for c in found[: len(found) // 2]]
    for c in found:
        true = disputed[c.example_id][0]
        if c.example_id in by_hand:
            mlq.adjudicate_labels(db, reviewer, pid, c.example_id, {x.label: x.label in true for x in c.labels})
        else:
            mlq.accept_majority(db, reviewer, pid, c.example_id)
    assert mlq.conflicts(db, pid) == []
    finals = {f.example_id: f for f in multilabel.final_sets(db, pid)}
    for example_id, (true, votes) in expected_votes.items():
        if example_id in by_hand:
            want, source = true, multilabel.DECIDED
        elif example_id in disputed:
            sets = [set(s) for s in votes.values()]
            want, source = [x for x in classes if x in sets[0] & sets[1]], multilabel.DECIDED
        else:
            want, source = true, multilabel.UNANIMOUS
        assert (finals[example_id].labels, finals[example_id].source) == (want, source), example_id
    exported = multilabel_io.labels_frame(db, pid).set_index("example_id")
    assert {e: list(exported.loc[e, "labels"]) for e in finals} == {e: f.labels for e, f in finals.items()}
    assert (exported.loc[by_hand, "label_source"] == "adjudication").all()

    # the head trains on these final sets
    training.embed_pool(db, pid)
    run_queued(db, (store.JobKind.HEAD,))
    version = store.current_version(db, pid)
    assert version is not None and version["params"]["multilabel"]
    ids = embeddings.read(store.encoder(db, version["encoder_id"])["path"])[0]
    rows, Y = multilabel_training.label_matrix(db, pid, ids, classes, store.Split.POOL)
    assert {int(ids[r]): labelsets.from_one_hot(y[None], classes)[0] for r, y in zip(rows, Y)} == \
        {e: f.labels for e, f in finals.items()}

    # agreement, in the worker's quality job
    quality.request_analysis(db, auth.local_actor(), pid)
    run_queued(db, (store.JobKind.QUALITY,))
    agreement = quality.latest_analysis(db, pid)["agreement"]
    assert agreement["multilabel"] and agreement["texts"] == len(expected_votes)
    pairs = {(p["a"], p["b"]): p for p in agreement["pairs"]}
    assert set(pairs) == set(PAIRS) and sum(p["texts"] for p in pairs.values()) == len(expected_votes)
    for (a, b), p in pairs.items():
        shared = [v for _, v in expected_votes.values() if a in v and b in v]
        assert p["agreement"] == sum(v[a] == v[b] for v in shared) / len(shared)
    given = {r["label"]: r["given"] for r in agreement["labels"]}
    assert given == {x: sum(x in s for _, v in expected_votes.values() for s in v.values()) for x in classes}
    assert 0 < agreement["alpha_masi"] < 1 and 0 < agreement["mean_kappa"] < 1
    report = mlq.report(db, pid, reviewer)
    assert report.texts == len(expected_votes) and not report.stale and len(report.per_label) == len(classes)


def test_predictions_on_a_new_file_give_the_apps_sets_in_the_worker_and_the_cli(db, tmp_path):
    from core import cli

    frame = multilabel_dataset("train", n=120, seed=4)
    plan = multilabel_io.plan_import(frame, "text", "labels")
    pid = multilabel_io.create_project(db, auth.local_actor(), "debtags predict", plan, eval_fraction=0.0)
    training.embed_pool(db, pid)
    run_queued(db, (store.JobKind.HEAD,))
    version = store.current_version(db, pid)
    texts = multilabel_dataset("test", n=40, seed=1)["text"].tolist()
    app_sets = multilabel_export.predict_sets(db, version, texts)
    assert any(app_sets) and len({tuple(s) for s in app_sets}) > 3
    classes = store.class_names(db, pid)

    job_id = predict.request_predict(db, auth.local_actor(), pid, version["id"], pd.DataFrame({"body": texts}),
                                     "body", "parquet", "new.parquet")
    run_queued(db, (store.JobKind.PREDICT,))
    out = pd.read_parquet(predict.finished(db, job_id)["result"]["path"])
    assert out.columns.tolist() == ["text", "labels"] + [f"p({c})" for c in classes]
    assert [list(s) for s in out["labels"]] == app_sets
    thresholds = multilabel.thresholds(version)
    probs = out[[f"p({c})" for c in classes]].to_numpy()
    assert np.array_equal(probs >= thresholds, labelsets.one_hot(app_sets, classes).astype(bool))

    pd.DataFrame({"text": texts}).to_csv(tmp_path / "new.csv", index=False)
    cli.main(["predict", str(tmp_path / "new.csv"), "--project", "debtags predict", "--out", str(tmp_path / "p.csv")])
    back = pd.read_csv(tmp_path / "p.csv", dtype={"labels": str}, keep_default_na=False)
    assert [json.loads(s) for s in back["labels"]] == app_sets
