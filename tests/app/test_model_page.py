"""The Model page headless (AppTest) on stored versions: charts, pin and unpin, "label this", predict request."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import store
from core.labeling import annotate
from core.team import auth
from tests.conftest import ROOT, make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version
from ui import state


@pytest.fixture
def at(db, monkeypatch):
    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, **REGISTRY_PROJECT)
    encoder_id, ids = fake_encoder(db, pid)
    pool, evals = store.example_ids(db, pid, store.Split.POOL), store.example_ids(db, pid, store.Split.EVAL)
    for example_id, label in zip(pool[:4] + evals[:4], ["yes", "no"] * 4):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=pool[10:15])
    fake_version(db, pid, encoder_id, ids, np.arange(len(ids)) % 2, queue=pool[20:25])
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.ANNOTATOR] = "alice"
    app.session_state[state.PROJECT_ID] = pid
    app.run()
    app.switch_page("ui/pages/model.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app, pid


def charts(app) -> int:
    return len(app.get("vega_lite_chart"))


def test_model_page_draws_its_charts(at):
    app, _ = at
    # learning curve needs eval metrics, which fake versions lack; per-class, confusion, timeline,
    # the comparison (versions tab) are drawn from stored probabilities and labels
    assert charts(app) >= 4


def test_pin_and_unpin_from_the_page_record_the_user(at, db):
    app, pid = at
    app.selectbox(key="pin_choice").select(1).run()
    next(b for b in app.button if b.label == "Pin this version").click().run()
    assert not app.exception
    assert store.pin(db, pid)["number"] == 1 and store.pin(db, pid)["pinned_by"] == "alice"
    assert store.current_version(db, pid)["number"] == 1
    assert any("pinned by alice" in w.value for w in app.warning)
    next(b for b in app.button if b.label.startswith("Unpin")).click().run()
    assert store.pin(db, pid) is None and store.current_version(db, pid)["number"] == 2


def test_a_picked_text_opens_on_the_annotate_page(at, db):
    app, pid = at
    example_id = store.example_ids(db, pid, store.Split.POOL)[-1]
    app.session_state[state.label_example(pid)] = (example_id, annotate.FROM_VERSION_DISAGREEMENT)
    app.switch_page("ui/pages/annotate.py").run()
    assert not app.exception
    assert app.session_state[state.shown(pid, "alice")].example_id == example_id
    assert store.example(db, example_id)["text"] in [t.value for t in app.text]
    # Its reason in its own words, not the query strategy's
    assert any("the last two model versions disagree" in c.value for c in app.caption), [c.value for c in app.caption]


def test_intended_use_is_saved_from_settings(at, db):
    app, pid = at
    app.switch_page("ui/pages/settings.py").run()
    app.text_area(key=f"intended_use:{pid}").set_value("Sort reviews.").run()
    next(b for b in app.button if b.label == "Save intended use").click().run()
    assert not app.exception and store.project(db, pid)["intended_use"] == "Sort reviews."


def test_the_eval_estimate_is_shown_only_with_its_interval_and_a_warning_on_few_texts(db, monkeypatch):
    """Issue 20: "56 %" on 25 eval texts read as a fact while the truth was 75 %."""
    import json

    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, **REGISTRY_PROJECT)
    encoder_id, ids = fake_encoder(db, pid)
    evals = store.example_ids(db, pid, store.Split.EVAL)
    for example_id, label in zip(evals[:4], ["yes", "no"] * 2):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    version_id = fake_version(db, pid, encoder_id, ids, np.arange(len(ids)) % 2, queue=[])
    metrics = {"eval_accuracy": 0.5, "eval_accuracy_low": 0.15, "eval_accuracy_high": 0.85,
               "eval_macro_f1": 0.5, "eval_n": 4}
    db.conn.execute("UPDATE model_versions SET metrics = ? WHERE id = ?", (json.dumps(metrics), version_id))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.ANNOTATOR] = "alice"
    app.session_state[state.PROJECT_ID] = pid
    app.run()
    app.switch_page("ui/pages/model.py").run()
    assert not app.exception, [e.value for e in app.exception]
    accuracy = next(m for m in app.metric if m.label.startswith("Eval accuracy"))
    assert accuracy.value == "15%–85%"
    assert any("rest on 4 labeled eval texts" in w.value and "rough" in w.value for w in app.warning)


def _model_page_with_eval_labeled(db, monkeypatch, n_texts: int, eval_labeled: int | None = None):
    """A project of `n_texts` with a 25 % eval sample, `eval_labeled` of it labeled (default: all), and
    a version whose stored figures were measured on them; the Model page open."""
    import json

    from core.learning import evaluation

    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, [f"review number {i}" for i in range(n_texts)], eval_fraction=0.25)
    encoder_id, ids = fake_encoder(db, pid)
    evals = store.example_ids(db, pid, store.Split.EVAL)
    chosen = evals if eval_labeled is None else evals[:eval_labeled]
    for example_id, label in zip(chosen, ["yes", "no"] * len(chosen)):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    version_id = fake_version(db, pid, encoder_id, ids, np.arange(len(ids)) % 2, queue=[])
    true = np.arange(len(chosen)) % 2
    metrics = evaluation.eval_figures(true, true)  # every eval text right
    db.conn.execute("UPDATE model_versions SET metrics = ? WHERE id = ?", (json.dumps(metrics), version_id))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.ANNOTATOR] = "alice"
    app.session_state[state.PROJECT_ID] = pid
    app.run()
    app.switch_page("ui/pages/model.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app, pid, len(evals)


def test_a_used_up_eval_sample_is_said_plainly_with_how_to_enlarge_it(db, monkeypatch):
    """New-user trial (issue 20): 30 of 30 eval texts labeled, and the page said the interval would
    "narrow as more eval texts are labeled", though no more could be."""
    app, _, size = _model_page_with_eval_labeled(db, monkeypatch, 120)
    assert size == 30
    warnings = " | ".join(w.value for w in app.warning)
    assert "All 30 eval texts are labeled" in warnings, warnings
    assert "Add texts" in warnings and "Projects page" in warnings, warnings
    captions = " | ".join(c.value for c in app.caption)
    assert "narrow as more eval texts are labeled" not in captions, captions


def test_a_small_eval_sample_still_warns_and_a_large_one_does_not_say_it_is_used_up(db, monkeypatch):
    app, _, size = _model_page_with_eval_labeled(db, monkeypatch, 40, eval_labeled=6)  # 10 eval texts, 6 labeled
    warnings = " | ".join(w.value for w in app.warning)
    assert "rest on 6 labeled eval texts" in warnings and "rough" in warnings, warnings  # the small-sample warning
    assert f"only {size} texts" in warnings and "Add texts" in warnings, warnings  # it can never reach enough
    assert "are labeled:" not in warnings


def test_more_texts_added_with_a_share_for_the_eval_sample_enlarge_it(db, monkeypatch):
    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, [f"review number {i}" for i in range(40)], eval_fraction=0.25)
    before = store.example_count(db, pid, store.Split.EVAL)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.ANNOTATOR] = "alice"
    app.session_state[state.PROJECT_ID] = pid
    app.run()
    upload = ("text\n" + "\n".join(f"another review {i}" for i in range(100))).encode()
    app.file_uploader(key="add_upload").upload("more.csv", upload, "text/csv").run()
    app.number_input(key="add_eval_percent").set_value(20).run()
    next(b for b in app.button if b.label == "Add texts").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert store.example_count(db, pid, store.Split.EVAL) == before + 20
    assert any("20 of them for the eval sample" in s.value for s in app.success), [s.value for s in app.success]
