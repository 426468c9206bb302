"""Multi-label projects through the app, headless (issue 21): create one from a file with a labels
column, toggle classes, confirm, "none of these", skip, undo; the Model page's figures."""
from streamlit.testing.v1 import AppTest

from core import store
from core.labeling import multilabel
from tests.conftest import ROOT
from ui import state

ROWS = [("first text about billing and a bug", "billing|bug"), ("second text, a feature", "feature"),
        *[(f"unlabeled text number {i}", "") for i in range(8)]]


def upload() -> bytes:
    return ("text,labels\n" + "\n".join(f'"{t}","{labels}"' for t, labels in ROWS)).encode()


def new_app(monkeypatch) -> AppTest:
    monkeypatch.setenv("SIEVE_WORKER", "external")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[state.ANNOTATOR] = "alice"
    at.run()
    assert not at.exception
    return at


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_label_sets_by_toggle_confirm_and_none_of_these(db, monkeypatch):
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("tickets.csv", upload(), "text/csv").run()
    at.radio(key="project_kind").set_value("Multi-label: a set of classes per text").run()
    at.selectbox(key="label_column").set_value("labels").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    button(at, "Create project").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [project] = store.projects(db)
    pid = project["id"]
    assert project["kind"] == "multi" and store.class_names(db, pid) == ["billing", "bug", "feature"]
    assert [c["shortcut"] for c in store.classes(db, pid)] == ["1", "2", "3"]
    at.switch_page("ui/pages/annotate.py").run()
    assert not at.exception
    button(at, "bug").click().run()
    button(at, "feature").click().run()
    assert {b.label for b in at.button} >= {"✓ bug", "✓ feature", "billing"}
    button(at, "✓ bug").click().run()  # toggled off again
    button(at, "Save the set").click().run()
    assert not at.exception
    button(at, "None of these").click().run()
    button(at, "Save the set").click().run()  # nothing chosen: refused with a message
    assert "at least one class" in at.error[0].value
    button(at, "Skip").click().run()
    finals = multilabel.final_sets(db, pid)
    mine = sorted(f.labels for f in finals if "alice" in f.votes)
    assert mine == [[], ["feature"]]
    button(at, "Undo").click().run()  # the skip
    button(at, "Undo").click().run()  # the none-of-these
    button(at, "billing").click().run()
    button(at, "Save the set").click().run()
    mine = sorted(f.labels for f in multilabel.final_sets(db, pid) if "alice" in f.votes)
    assert mine == [["billing"], ["feature"]]
    at.switch_page("ui/pages/model.py").run()
    assert not at.exception
    assert any("No model yet" in i.value for i in at.info)


def test_settings_page_lets_a_multi_label_project_choose_its_family(db, monkeypatch):
    """Full retrains of a multi-label project (issue 21): SetFit or a transformer, and SetFit's multi_target_strategy."""
    from core.files import multilabel_io
    from core.team import auth
    import pandas as pd

    frame = pd.DataFrame({"text": [t for t, _ in ROWS], "labels": [labels for _, labels in ROWS]})
    pid = multilabel_io.create_project(db, auth.local_actor(), "tickets",
                                       multilabel_io.plan_import(frame, "text", "labels"))
    at = new_app(monkeypatch)
    at.switch_page("ui/pages/settings.py").run()
    assert not at.exception
    family = next(s for s in at.selectbox if s.label == "Model family")
    assert list(family.options) == ["SetFit", "transformer fine-tuning"]  # the differentiable head is single-label
    strategy = next(s for s in at.selectbox if "multi_target_strategy" in s.label)
    assert list(strategy.options) == ["one-vs-rest", "multi-output", "classifier-chain"]
    strategy.select("multi-output").run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and store.settings(db, pid).multi_target_strategy == "multi-output"
    next(s for s in at.selectbox if s.label == "Model family").select("transformer").run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and store.settings(db, pid).family == "transformer"
    at.switch_page("ui/pages/model.py").run()
    assert not at.exception
    button(at, "Train now (transformer fine-tuning)").click().run()  # a multi-label full retrain, queued
    assert not at.exception
    assert [j["kind"] for j in store.active_jobs(db, pid)].count(store.JobKind.FULL) == 1


def test_multilabel_annotate_counts_eval_labels_as_single_label_does(db, monkeypatch):
    """New-user trial (issue 20): single-label Annotate shows "Eval labels n / N", multi-label did not."""
    import pandas as pd

    from core.files import multilabel_io
    from core.labeling import annotate
    from core.team import auth

    frame = pd.DataFrame({"text": [f"ticket number {i} about something" for i in range(40)]})
    plan = multilabel_io.plan_import(frame, "text", None, ["billing", "bug", "feature"])
    pid = multilabel_io.create_project(db, auth.local_actor(), "tickets", plan, eval_fraction=0.25)
    evals = store.example_ids(db, pid, store.Split.EVAL)
    multilabel.submit_labels(db, auth.local_actor("alice"), pid, annotate.NextText.direct(evals[0]), ["bug"])
    at = new_app(monkeypatch)
    at.session_state[state.PROJECT_ID] = pid
    at.switch_page("ui/pages/annotate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown.get("Eval labels") == f"1 / {len(evals)}", shown


def test_model_page_shows_curves_per_label_curves_and_stopping_signals(db, monkeypatch):
    """Two refits of a real multi-label project (debtags, the real encoder): the Model page draws the
    learning curve over both versions, per-label curves for the weakest labels, and the stopping
    signals with the multi-label kappa and uncertainty the worker recorded."""
    import pandas as pd

    from core.files import multilabel_io
    from core.jobs import training
    from core.labeling import annotate
    from core.team import auth
    from tests.conftest import multilabel_dataset

    frame = multilabel_dataset("train", n=240, seed=3)
    mixed = pd.concat([frame.iloc[:120], frame.iloc[120:][["text"]].assign(labels="")], ignore_index=True)
    plan = multilabel_io.plan_import(mixed, "text", "labels")
    actor = auth.local_actor()
    pid = multilabel_io.create_project(db, actor, "debtags", plan, eval_fraction=0.4)
    training.embed_pool(db, pid)
    truth = dict(zip(frame["text"], frame["labels"]))
    eval_ids = [int(i) for i in store.example_ids(db, pid, store.Split.EVAL)]

    def label_eval(ids):
        for example_id in ids:
            sets = [x for x in truth[store.example(db, example_id)["text"]].split("|") if x in plan.classes]
            multilabel.submit_labels(db, actor, pid, annotate.NextText.direct(example_id), sets)

    label_eval(eval_ids[:40])
    training.refit_head(db, pid)
    label_eval(eval_ids[40:])
    second = store.version(db, training.refit_head(db, pid))
    assert second["params"]["strategy"] == "per_label_margin"
    assert 0 < second["metrics"]["kappa_previous"] <= 1 and 0 < second["metrics"]["mean_uncertainty"] < 1

    at = new_app(monkeypatch)
    at.switch_page("ui/pages/model.py").run()
    assert not at.exception, at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # the learning curve and the per-label curves
    [picker] = [m for m in at.multiselect if m.label == "Per-label curves"]
    measured = [r for r in second["metrics"]["eval_per_label"] if r["support"]]
    weakest = sorted(measured, key=lambda r: (r["f1"], r["support"]))[:5]
    assert len(measured) < len(second["metrics"]["eval_per_label"])  # some labels have no eval texts: never "weakest"
    assert picker.value == [r["label"] for r in weakest]
    texts = [i.value for i in at.info] + [s.value for s in at.success]
    assert any("mean kappa" in t or "comparisons" in t for t in texts)
    # the tiles show intervals, not bare points; a used-up eval sample is said plainly (a new user's trial)
    import re

    assert all(re.fullmatch(r"\d\.\d\d–\d\.\d\d", m.value) for m in at.metric if "eval texts" in m.label)
    assert len([m for m in at.metric if "eval texts" in m.label]) == 4
    assert any("eval texts are labeled" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert (table.loc[table["eval texts with the label"] == 0, "F1"] == "–").all()
    assert any("uncertainty" in t for t in texts)
    picker.set_value([]).run()
    assert len(at.get("vega_lite_chart")) == 1
