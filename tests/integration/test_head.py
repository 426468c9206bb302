"""The fast head: self-training on confident pool texts, on real embeddings of real data."""
import numpy as np
import pytest

from core.learning import embeddings
from core.learning.classifiers import head
from tests.conftest import dataset

pytestmark = pytest.mark.integration  # loads the real packaged model


@pytest.fixture(scope="module")
def trec_embedded():
    """1,500 trec6 training texts as the pool and 500 test texts, embedded with the packaged model."""
    train, test = dataset("trec6", "train", 1500), dataset("trec6", "test", 500)
    names = sorted(set(train["label"]))
    encoder = embeddings.load_encoder(None)
    return (embeddings.encode(encoder, train["text"].tolist()), train["label"].map(names.index).to_numpy(),
            embeddings.encode(encoder, test["text"].tolist()), test["label"].map(names.index).to_numpy())


def test_pseudo_labels_take_each_class_share_of_its_most_confident_texts(trec_embedded):
    pool, y, _, _ = trec_embedded
    labeled = np.random.default_rng(0).choice(len(pool), 60, replace=False)
    model = head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training=0))
    unlabeled = np.delete(pool, labeled, axis=0)
    rows, pseudo = head.pseudo_labels(model, unlabeled, 180)

    probs = model.predict_proba(unlabeled)
    predicted = model.classes_[probs.argmax(1)]
    assert len(np.unique(rows)) == len(rows) and abs(len(rows) - 180) <= len(model.classes_)
    assert (pseudo == predicted[rows]).all()
    for label in np.unique(predicted):
        share = (predicted == label).mean()
        chosen = rows[pseudo == label]
        assert abs(len(chosen) - 180 * share) <= 1
        others = np.setdiff1d(np.flatnonzero(predicted == label), chosen)
        if len(chosen) and len(others):  # nobody left out is more confident than those taken
            assert probs[others].max(1).max() <= probs[chosen].max(1).min() + 1e-6


def test_self_training_beats_the_supervised_head_on_real_data(trec_embedded):
    pool, y, test, y_test = trec_embedded
    gains = []
    for seed in range(4):
        labeled = np.random.default_rng(seed).choice(len(pool), 60, replace=False)
        unlabeled = np.delete(pool, labeled, axis=0)
        plain = head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training=0))
        self_trained = head.fit(pool[labeled], y[labeled], head.HeadArguments(), unlabeled=unlabeled)
        gains.append((self_trained.predict(test) == y_test).mean() - (plain.predict(test) == y_test).mean())
    assert np.mean(gains) > 0.01, gains


def test_self_training_is_off_without_a_pool_or_when_asked(trec_embedded):
    pool, y, test, _ = trec_embedded
    labeled, rest = np.arange(60), pool[60:]
    plain = head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training=0))
    for model in (head.fit(pool[labeled], y[labeled]),
                  head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training=0), unlabeled=rest)):
        np.testing.assert_allclose(model.predict_proba(test), plain.predict_proba(test), atol=1e-6)
    knn = head.fit(pool[labeled], y[labeled], head.HeadArguments("knn"), unlabeled=rest)  # no sample weights
    assert len(knn.classes_) == len(np.unique(y[labeled]))


def test_other_heads_self_train_with_sample_weights(trec_embedded):
    pool, y, test, y_test = trec_embedded
    labeled, rest = np.arange(60), pool[60:]
    for kind in ("linear_svm", "random_forest"):
        model = head.fit(pool[labeled], y[labeled], head.HeadArguments(kind), unlabeled=rest)
        assert (model.predict(test) == y_test).mean() > 0.4


def test_a_pool_with_nothing_left_unlabeled_still_fits(trec_embedded):
    pool, y, _, _ = trec_embedded
    model = head.fit(pool[:40], y[:40], head.HeadArguments(), unlabeled=pool[:0])
    assert set(model.classes_) == set(np.unique(y[:40]))


def test_the_self_training_check_compares_cross_validated_macro_f1(trec_embedded):
    pool, y, _, _ = trec_embedded
    labeled = np.random.default_rng(0).choice(len(pool), 60, replace=False)
    unlabeled = np.delete(pool, labeled, axis=0)
    args = head.HeadArguments(self_training_check=True)
    check = head.self_training_helps(pool[labeled], y[labeled], unlabeled, args)
    assert check["folds"] in (2, 3) and 0 < check["cv_macro_f1_without"] <= 1
    assert check["self_train"] == (check["cv_macro_f1_with"] >= check["cv_macro_f1_without"])
    model = head.fit(pool[labeled], y[labeled], args, unlabeled=unlabeled)
    assert model.self_training_check_ == check  # the decision travels with the model
    # Too few labels to split: self-training stays on, as configured.
    few = head.self_training_helps(pool[:3], np.array([0, 1, 2]), unlabeled, head.HeadArguments())
    assert few["self_train"] and "reason" in few


def test_a_failed_check_gives_the_supervised_head(trec_embedded, monkeypatch):
    pool, y, test, _ = trec_embedded
    labeled, rest = np.arange(60), pool[60:]
    plain = head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training=0))
    monkeypatch.setattr(head, "self_training_helps", lambda *a, **k: {"self_train": False})
    gated = head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training_check=True), unlabeled=rest)
    np.testing.assert_allclose(gated.predict_proba(test), plain.predict_proba(test), atol=1e-6)
    unchecked = head.fit(pool[labeled], y[labeled], head.HeadArguments(), unlabeled=rest)
    assert not hasattr(unchecked, "self_training_check_")


def test_self_training_waits_until_every_class_has_enough_gold_labels(trec_embedded):
    pool, y, _, _ = trec_embedded
    labeled = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in zip(range(6), (1, 4, 4, 4, 4, 4))])
    unlabeled = np.delete(pool, labeled, axis=0)
    plain = head.fit(pool[labeled], y[labeled], head.HeadArguments(self_training=0))
    waits = head.fit(pool[labeled], y[labeled], head.HeadArguments(pseudo_start_gold=2), unlabeled=unlabeled)
    trains = head.fit(pool[labeled], y[labeled], head.HeadArguments(pseudo_start_gold=1), unlabeled=unlabeled)
    assert np.allclose(waits.coef_, plain.coef_) and not np.allclose(trains.coef_, plain.coef_)
    capped = head.fit(pool[labeled], y[labeled], head.HeadArguments(pseudo_cap_by_gold=True), unlabeled=unlabeled)
    assert not np.allclose(capped.coef_, plain.coef_)
