"""Class names as examples (core.learning.class_examples): the head knows classes nobody has labeled yet."""
import numpy as np
import pytest

from core import store
from core.files import model_export
from core.labeling import annotate
from core.learning import class_examples, embeddings
from core.team import auth, projects
from core.learning.classifiers import head
from core.settings import ProjectSettings
from tests.conftest import dataset, make_project, run_queued

pytestmark = pytest.mark.integration
CLASSES = ["alarm", "book_flight", "calories", "car_rental", "change_language", "cook_time", "credit_limit",
           "balance"]


def _clinc(split: str, per_class: int):
    frame = dataset("clinc150", split)
    frame = frame[frame["label"].isin(CLASSES)]
    return frame.groupby("label", group_keys=False).head(per_class).reset_index(drop=True)


def test_example_text_uses_the_description_when_there_is_one():
    assert class_examples.example_text("book_flight") == "book flight"
    assert class_examples.example_text("B", "  billing questions ") == "B: billing questions"


def test_the_head_predicts_classes_it_has_no_labels_for(data_dir):
    train, test = _clinc("train", 3), _clinc("test", 20)
    encoder = embeddings.load_encoder(None)
    position = {name: i for i, name in enumerate(CLASSES)}
    labeled = train[train["label"].isin(["alarm", "book_flight"])]  # gold labels for two classes only
    x = embeddings.encode(encoder, labeled["text"].tolist())
    y = labeled["label"].map(position).to_numpy()
    names = embeddings.encode(encoder, [class_examples.example_text(c) for c in CLASSES])
    unseen = test[~test["label"].isin(["alarm", "book_flight"])]
    x_unseen, y_unseen = embeddings.encode(encoder, unseen["text"].tolist()), unseen["label"].map(position).to_numpy()

    with_names = head.fit(x, y, head.HeadArguments(), class_examples=names)
    predicted = head.predict_proba(with_names, x_unseen, len(CLASSES)).argmax(1)
    assert (predicted == y_unseen).mean() > 0.5  # 6 classes with no label: chance is 1/8

    without = head.fit(x, y, head.HeadArguments(class_names=False), class_examples=names)
    assert set(head.predict_proba(without, x_unseen, len(CLASSES)).argmax(1)) <= {0, 1}


def test_a_project_refit_learns_from_its_class_names_unless_turned_off(db):
    frame = _clinc("train", 30)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame[["text"]], CLASSES, name="intents", eval_fraction=0)
    run_queued(db, (store.JobKind.EMBED,))
    ids = store.example_ids(db, pid)
    texts = store.texts_by_id(db, ids)
    taken = {"alarm": 0, "book_flight": 0}
    for example_id in ids:  # three labels each of two classes, none of the other six
        label = gold[texts[example_id]]
        if taken.get(label, 3) < 3:
            annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
            taken[label] += 1
    with store.transaction(db) as conn:
        store.enqueue(conn, pid, store.JobKind.HEAD)
    run_queued(db, (store.JobKind.HEAD,))
    version = store.latest_version(db, pid)
    probs = np.load(f"{version['path']}/probs.npy")
    truth = np.array([CLASSES.index(gold[texts[i]]) for i in ids])
    unlabeled_class = ~np.isin(truth, [CLASSES.index("alarm"), CLASSES.index("book_flight")])
    assert (probs.argmax(1)[unlabeled_class] == truth[unlabeled_class]).mean() > 0.5
    card = model_export.model_card(version, CLASSES, "setfit", "default")
    assert "each class name (and description) as one labeled example" in card

    projects.update_settings(db, auth.local_actor(), pid, {"head": {**ProjectSettings().head.to_dict(),
                                                                   "class_names": False}})
    with store.transaction(db) as conn:
        store.enqueue(conn, pid, store.JobKind.HEAD)
    run_queued(db, (store.JobKind.HEAD,))
    probs = np.load(f"{store.latest_version(db, pid)['path']}/probs.npy")
    assert set(np.flatnonzero(probs.sum(0) > 0)) <= {CLASSES.index("alarm"), CLASSES.index("book_flight")}
