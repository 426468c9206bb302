"""Eval texts come with no suggestion and no teaching claim (issue 20, item 2): eval labels never
train the model, and a label nudged by the model's guess would no longer measure it."""
import numpy as np

from core import store
from core.labeling import annotate
from core.team import auth
from tests.conftest import make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version


def served_project(db):
    pid = make_project(db, **REGISTRY_PROJECT)
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=store.example_ids(db, pid, store.Split.POOL))
    return pid, encoder_id, ids


def assert_bare(shown):
    assert shown.split == store.Split.EVAL
    assert shown.suggestion is None and shown.confidence is None and shown.probabilities == {}
    assert annotate.confident_suggestion(shown) is None
    words, _ = annotate.describe(shown)
    assert "teach" not in words.lower()


def test_an_eval_text_comes_without_the_models_guess(db):
    pid, encoder_id, ids = served_project(db)
    actor = auth.local_actor("ann")
    pool = annotate.next_text(db, actor, pid)
    assert pool.split == store.Split.POOL and pool.suggestion is not None  # the pool keeps its suggestion
    shown = annotate.next_text(db, actor, pid, store.Split.EVAL)
    assert_bare(shown)
    # a version published while the annotator reads brings no suggestion either
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    assert_bare(annotate.refresh_suggestion(db, pid, shown))
    # nor undo, nor opening it from the Model page ("the model got it wrong": check its label)
    annotate.submit_label(db, actor, pid, shown, "yes")
    assert_bare(annotate.undo_and_show(db, actor, pid))
    assert_bare(annotate.show_example(db, actor, pid, shown.example_id, annotate.FROM_EVAL_MISTAKE))
