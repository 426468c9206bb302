"""The fast head (core.learning.classifiers.head) without a model: its settings, pseudo-label choices,
class weights, thread limits, storage as plain arrays and the estimator it exports."""
import numpy as np
import pytest

from core.learning.classifiers import head


def test_pseudo_label_candidates_are_a_fixed_sample():
    assert (head.pseudo_label_candidates(10, limit=20) == np.arange(10)).all()
    first, second = head.pseudo_label_candidates(50_000, 1000), head.pseudo_label_candidates(50_000, 1000)
    assert len(first) == 1000 and (first == second).all() and (np.diff(first) > 0).all()


@pytest.mark.parametrize("values", [{"self_training": -1}, {"self_training": 50}, {"pseudo_weight": 0}])
def test_bad_self_training_settings_are_refused(values):
    with pytest.raises(ValueError):
        head.HeadArguments(**values)


def test_tempered_class_weights_come_from_the_gold_labels():
    gold = np.array([0] * 6 + [1] * 2)  # 'balanced' gives 8/12 and 8/4
    weights = head.tempered_class_weights(gold, np.array([0, 1, 1, 0]))
    np.testing.assert_allclose(weights, np.sqrt([8 / 12, 2, 2, 8 / 12]))
    np.testing.assert_allclose(head.tempered_class_weights(gold, np.array([1]), power=1.0), [2.0])


def test_head_fits_limit_scipy_and_openmp_threads_too():
    """In a fresh process the thread limit is found before anything imported scikit-learn: the
    cached controller must hold every BLAS/OpenMP library a scan finds once a head has been fitted
    (whatever the wheels name them)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import json, numpy as np; from core.learning.classifiers import head; from threadpoolctl import ThreadpoolController; "
            "cached = {lib.filepath for lib in head._thread_pools().lib_controllers}; "
            "head.fit(np.eye(4, dtype=np.float32), np.array([0, 1, 0, 1])); "
            "after = [(lib.filepath, lib.user_api) for lib in ThreadpoolController().lib_controllers]; "
            "print(json.dumps({'missed': [p for p, _ in after if p not in cached], 'apis': sorted({a for _, a in after})}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    import json

    found = json.loads(out.strip().splitlines()[-1])
    assert found["missed"] == [] and {"blas", "openmp"} <= set(found["apis"]), found


@pytest.mark.parametrize("kind", ["logistic_regression", "random_forest", "mlp", "knn", "linear_svm"])
@pytest.mark.parametrize("self_training", [0.0, 3.0])
def test_a_head_stored_as_arrays_loads_as_the_same_model(tmp_path, kind, self_training):
    """Heads are kept as plain arrays (no pickle): loading gives the same probabilities."""
    from core.learning.classifiers import head as heads

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    y = np.arange(40) % 3
    unlabeled = rng.normal(size=(60, 8)).astype(np.float32)
    model = heads.fit(x, y, heads.HeadArguments(kind, self_training=self_training), unlabeled=unlabeled)
    heads.save(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.json", "head.npz"]
    loaded = heads.load(tmp_path)
    probe = rng.normal(size=(30, 8)).astype(np.float32)
    assert np.allclose(loaded.predict_proba(probe), model.predict_proba(probe), atol=1e-6)


def test_pseudo_labels_only_for_classes_with_enough_gold_labels():
    gold = np.array([0] * 5 + [1] * 5 + [2])  # class 2 has a single gold label
    rows, pseudo = np.arange(6), np.array([0, 2, 1, 2, 0, 1])
    kept_rows, kept = head.enough_gold(rows, pseudo, gold, 2)
    assert kept.tolist() == [0, 1, 0, 1] and kept_rows.tolist() == [0, 2, 4, 5]
    assert head.enough_gold(rows, pseudo, gold, 1)[1].tolist() == pseudo.tolist()
    with pytest.raises(ValueError):
        head.HeadArguments(pseudo_min_gold=-1)


@pytest.mark.parametrize("present", [[0, 3], [0, 2, 3]])
def test_exported_head_has_a_probability_column_for_every_class(present):
    """A head fitted on some classes only: the plain estimator SetFit pickles answers for all of
    them, in label order, with the same probabilities Sieve serves (the missing ones ~0)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 8))
    y = np.repeat(present, 10)
    x = centers[y] + 0.3 * rng.normal(size=(len(y), 8))
    model = head.fit(x.astype(np.float32), y, head.HeadArguments(class_names=False))
    plain = head.plain_estimator(model, 4)
    probs = plain.predict_proba(x)
    assert probs.shape == (len(x), 4) and list(plain.classes_) == [0, 1, 2, 3]
    assert np.allclose(probs, head.predict_proba(model, x, 4), atol=1e-5)
    assert (plain.predict(x) == head.predict_proba(model, x, 4).argmax(1)).all()
    assert not hasattr(plain, "sieve_fit_") and hasattr(model, "sieve_fit_")  # the served head is untouched


def test_each_class_keeps_at_most_its_gold_share_of_pseudo_labels():
    rows, pseudo = np.arange(10), np.array([0] * 8 + [1] * 2)  # most confident first within a class
    kept_rows, kept = head.cap_by_gold(rows, pseudo, np.array([1, 4]), per_label=3)
    assert kept_rows.tolist() == [0, 1, 2, 8, 9] and kept.tolist() == [0, 0, 0, 1, 1]

def test_a_class_names_weight_fades_with_its_gold_labels():
    """Issue 25: the name of a class weighs `class_name_weight` while the class has no gold label
    and F / (F + g) of that with g gold labels; the defaults leave every row at weight 1."""
    args = head.HeadArguments(class_name_weight=4.0, class_name_fade=2.0)
    np.testing.assert_allclose(head.class_name_weights(np.array([0, 2, 6]), args), [4.0, 2.0, 1.0])
    assert head.example_weights(np.array([0, 3]), 2, 3, head.HeadArguments()) is None
    np.testing.assert_allclose(head.example_weights(np.array([0, 2]), 2, 2, args), [4.0, 2.0, 1.0, 1.0])


def test_a_heavier_class_name_pulls_its_texts_to_its_class():
    """A text halfway between a class's name and another class's gold labels goes to the name's
    class once the name weighs more than one example, and to the labeled class when it weighs less."""
    names = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    gold = np.array([[0.1, 1.0], [0.0, 0.9], [0.2, 1.1]], dtype=np.float32)  # class 1 only
    between = np.array([[0.6, 0.6]], dtype=np.float32)

    def p_first(**values):
        model = head.fit(gold, np.array([1, 1, 1]), head.HeadArguments(self_training=0, **values),
                         class_examples=names)
        return head.predict_proba(model, between, 2)[0, 0]

    assert p_first(class_name_weight=0.2) < p_first() < p_first(class_name_weight=5.0)
