"""What the eval estimate measures (issue 20, item 1): the served version's own predictions on
exactly the labeled eval texts, never on a text it was trained on, with the Wilson interval."""
import numpy as np
import pytest

from core import store
from core.jobs import training
from core.labeling import annotate
from core.learning import embeddings, evaluation
from core.team import auth
from tests.conftest import TREC_CLASSES, dataset, make_project, run_queued

pytestmark = pytest.mark.integration


def test_the_estimate_is_the_served_versions_accuracy_on_the_labeled_eval_texts(db):
    frame = dataset("trec6", "train", 300)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame[["text"]], TREC_CLASSES, eval_fraction=0.2)
    run_queued(db, (store.JobKind.EMBED,))
    actor = auth.local_actor("ann")
    for _ in range(40):
        shown = annotate.next_text(db, actor, pid)
        annotate.submit_label(db, actor, pid, shown, gold[shown.text])
    eval_labeled = []
    for _ in range(30):
        shown = annotate.next_text(db, actor, pid, store.Split.EVAL)
        annotate.submit_label(db, actor, pid, shown, gold[shown.text])
        eval_labeled.append(shown.example_id)
    training.refit_head(db, pid)
    version = store.current_version(db, pid)
    m = version["metrics"]
    assert m["eval_n"] == 30 and version["n_labels"] == 40  # eval labels never train
    ids = embeddings.read(store.encoder(db, version["encoder_id"])["path"])[0]
    probs = np.load(f"{version['path']}/probs.npy")
    names = store.class_names(db, pid)
    texts = store.texts_by_id(db, eval_labeled)
    predicted = [names[int(probs[int(np.searchsorted(ids, i))].argmax())] for i in eval_labeled]
    right = sum(p == gold[texts[i]] for p, i in zip(predicted, eval_labeled))
    assert m["eval_accuracy"] == pytest.approx(right / 30)
    assert (m["eval_accuracy_low"], m["eval_accuracy_high"]) == pytest.approx(evaluation.wilson_interval(right, 30))
    pool_labeled = {r["example_id"] for r in store.current_labels(db, pid, store.Split.POOL)}
    assert not pool_labeled & set(eval_labeled)
