"""A version as a directory that loads without Sieve: its model card, and the version exported."""
import numpy as np

from core import store
from core.files import model_export
from core.labeling import annotate
from core.team import auth, projects
from core.versions import registry
from tests.unit.test_predict import project  # noqa: F401 (fixture)
from tests.unit.test_registry import fake_version


def test_model_card_states_intervals_eval_sample_per_class_and_intended_use(db, project):
    pid, version_id = project
    evals = store.example_ids(db, pid, store.Split.EVAL)
    for example_id, label in zip(evals, ["yes", "no", "yes"]):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    projects.set_intended_use(db, auth.local_actor(), pid, "Triage support tickets; not for legal decisions.")
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    v = store.version(db, fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[]))
    v["metrics"] = {"eval_accuracy": 0.67, "eval_accuracy_low": 0.21, "eval_accuracy_high": 0.94,
                    "eval_macro_f1": 0.4, "eval_n": 3}
    card = model_export.model_card(v, ["yes", "no"], "setfit", "default", facts=model_export.card_facts(db, v))
    assert "Accuracy: 0.670 (95 % CI 0.210–0.940)" in card
    assert "Macro-F1: 0.400 (too few eval texts for an interval)" in card
    assert "random sample of the project's unlabeled texts" in card and "at most 400" in card
    assert "| yes | 0.667 | 1.000 | 0.800 | 2 |" in card and "| no | 0.000 | 0.000 | 0.000 | 1 |" in card
    assert "Triage support tickets; not for legal decisions." in card
    assert f"Labels trained on: {v['n_labels']} (the newest given" in card
    assert "estimate to trust" not in card  # issue 20: not on 3 (or 25) eval texts
    assert "rest on only 3 eval texts" in card and "rough" in card
    v["metrics"].update(eval_n=400)
    assert "rough" not in model_export.model_card(v, ["yes", "no"], "setfit", "default")


def test_pinned_version_is_what_the_export_page_and_cli_take(db, project):
    pid, first = project
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    registry.pin(db, auth.local_actor("alice"), pid, 1)
    from core import cli

    assert cli._version(db, store.project(db, pid), None)["id"] == first


def test_model_card_shows_user_words_as_written_and_no_figures_for_classes_without_eval_texts(db, project):
    """A new user's trial: the intended use went into the card as raw HTML, and a class without
    eval texts showed precision, recall and F1 of 0.000."""
    pid, _ = project
    evals = store.example_ids(db, pid, store.Split.EVAL)
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(evals[0]), "yes")
    projects.set_intended_use(db, auth.local_actor(), pid, "<b>Only</b> for | triage")
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    v = store.version(db, fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[]))
    card = model_export.model_card(v, ["yes", "no"], "setfit", "default", facts=model_export.card_facts(db, v))
    assert "&lt;b&gt;Only&lt;/b&gt; for \\| triage" in card and "<b>" not in card
    assert "| no | – | – | – | 0 (no eval texts of this class yet) |" in card




def test_model_card_names_the_base_model_by_its_id_and_says_what_was_trained(db, project):
    """Issue 20 item 7: the card showed the server's path as the base model and "head, family setfit"."""
    pid, _ = project
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    v = store.version(db, fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[]))
    body = "/srv/sieve/data/encoders/7/model"  # an encoder directory on the server
    card = model_export.model_card(v, ["yes", "no"], "setfit", body, facts=model_export.card_facts(db, v))
    assert "- Base model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert "/srv/sieve" not in card and "family setfit" not in card and "(head," not in card
    assert "A logistic-regression classifier trained on" in card and "the encoder itself was not changed" in card
    # The promise "never pickled" and SetFit's own model_head.pkl, reconciled where the user reads it.
    assert "`model_head.pkl`. That file is SetFit's own format, a pickle" in card
    assert "sieve_head/" in card and "no pickle" in card


def test_what_a_full_training_trained_in_words():
    row = {"number": 3, "kind": store.JobKind.FULL, "n_labels": 120, "params": {"family": "setfit"}, "metrics": {}}
    words = model_export.trained_words(row, "setfit", "sentence-transformers/all-MiniLM-L6-v2")
    assert words.startswith("SetFit: sentence-transformers/all-MiniLM-L6-v2 fine-tuned on pairs of the 120 labeled")
    assert "fine-tuned end to end" in model_export.trained_words({**row, "params": {"family": "transformer"}},
                                                                  "transformer", "bert-base-uncased")
    assert model_export.base_model_id("/home/me/models/my-encoder") == "a local model directory named 'my-encoder'"
    assert model_export.base_model_id("intfloat/e5-small-v2") == "intfloat/e5-small-v2"


def test_the_readme_says_where_setfits_pickle_is_and_how_to_avoid_it():
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    promise = readme[readme.index("never pickled") - 400: readme.index("never pickled") + 600]
    assert "model_head.pkl" in promise and "SetFit's own format" in promise and "sieve_head" in promise
