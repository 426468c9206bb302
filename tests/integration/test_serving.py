"""A full retrain is served only when its encoder does at least as well as the previous one.

Real heads on real data (trec6): the retrain below is made worse for real, by a body learning
rate far too high for a BERT encoder, and the comparison after it keeps the previous encoder
in service, keeps the retrain as versions, and says why on the Model page's versions table."""
import numpy as np
import pytest

from core import store
from core.files import imports
from core.labeling import scheduling
from core.learning import comparison
from core.team import auth
from core.versions import model_report
from core.settings import ProjectSettings
from tests.conftest import TREC_CLASSES, dataset, run_queued

pytestmark = pytest.mark.integration
WRECKING = {"max_steps": 8, "batch_size": 8, "max_length": 32, "body_learning_rate": 0.05}


def reason(version: dict) -> str:
    return version["params"].get("serving", {}).get("reason", "")


def test_a_worse_retrain_is_kept_but_not_served(db):
    frame = dataset("trec6", "train", 240, seed=5)
    pid = imports.create_project_from_plan(db, auth.local_actor(), "serving", imports.plan_import(
        frame.iloc[:80], "text", "label", TREC_CLASSES), eval_fraction=0.0, settings=ProjectSettings(
        retrain_every=0, family_args={"setfit": WRECKING}))
    imports.add_to_project(db, auth.local_actor(), pid, frame.iloc[80:], "text")
    run_queued(db, (store.JobKind.EMBED,))
    run_queued(db, (store.JobKind.HEAD,))
    before = store.current_version(db, pid)
    base_encoder = store.encoder(db, before["encoder_id"])

    scheduling.train_now(db, auth.local_actor(), pid)
    run_queued(db, (store.JobKind.FULL,))
    full = store.latest_version(db, pid, store.JobKind.FULL)
    held_out = full["params"]["held_out"]
    assert 6 <= len(held_out) <= 20 and full["n_labels"] == 80 - len(held_out)
    assert store.current_version(db, pid)["id"] == before["id"]  # the retrain's own version is not served
    assert reason(full).startswith("not served itself")

    run_queued(db, (store.JobKind.HEAD,))  # the comparison the retrain queued
    served = store.current_version(db, pid)
    on_new = [v for v in store.versions(db, pid) if v["kind"] == "head" and v["id"] > full["id"]
              and store.encoder(db, v["encoder_id"])["model"] == store.encoder(db, full["encoder_id"])["model"]]
    assert len(on_new) == 1 and on_new[0]["n_labels"] == 80 == served["n_labels"]
    assert served["kind"] == "head" and store.encoder(db, served["encoder_id"])["path"] == base_encoder["path"]
    figures = served["params"]["serving"]["comparison"]
    assert figures["on"] == "labeled texts the retrained encoder never saw" and figures["new"]["n"] == len(held_out)
    assert figures["old"]["macro_f1"] > figures["new"]["macro_f1"]
    assert reason(on_new[0]).startswith("not served: the previous encoder did better")
    assert reason(served).startswith("served: the previous encoder did better")

    rows = {r["version"]: r for r in model_report.version_rows(store.versions(db, pid), served["id"])}
    assert rows[served["number"]]["served"] == "yes" and rows[on_new[0]["number"]]["served"] == ""
    assert rows[on_new[0]["number"]]["why served or not"] == reason(on_new[0])
    assert rows[full["number"]]["why served or not"].startswith("not served itself")

    # Later refits stay on the previous encoder, and nothing compares twice.
    with store.transaction(db) as conn:
        store.enqueue(conn, pid, store.JobKind.HEAD)
    run_queued(db, (store.JobKind.HEAD,))
    latest = store.latest_version(db, pid)
    assert latest["id"] == store.current_version(db, pid)["id"] and "serving" not in latest["params"]
    assert store.encoder(db, latest["encoder_id"])["path"] == base_encoder["path"]


def test_held_out_fold_takes_one_in_five_of_each_class_with_two_or_more():
    ids = np.arange(100, 130)
    y = np.array([0] * 20 + [1] * 7 + [2] * 2 + [3])
    mask = comparison.held_out(ids, y)
    assert [int(mask[y == c].sum()) for c in range(4)] == [4, 1, 1, 0]
    assert (comparison.held_out(ids[::-1], y[::-1]) == mask[::-1]).all()  # the same texts in any order


def test_decision_prefers_macro_f1_then_log_loss_then_the_retrain():
    a = {"macro_f1": 0.8, "accuracy": 0.9, "log_loss": 0.3, "n": 10}
    b = {"macro_f1": 0.7, "accuracy": 0.9, "log_loss": 0.1, "n": 10}
    assert comparison.decide(a, b, "x").new_wins and not comparison.decide(b, a, "x").new_wins
    tied = {**a, "log_loss": 0.2}
    assert comparison.decide(tied, a, "x").new_wins and not comparison.decide(a, tied, "x").new_wins
    assert comparison.decide(a, dict(a), "x").new_wins
