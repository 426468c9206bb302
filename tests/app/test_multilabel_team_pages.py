"""The Adjudicate and Team pages of a multi-label project, headless (issue 21): the disputed labels
with who gave what, a decision per label by the page's own radios and button, "accept the majority
for all", and agreement per label from the worker's analysis."""
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import store
from core.files import multilabel_io
from core.labeling import annotate, multilabel
from core.team import auth, projects, quality
from tests.conftest import ROOT, run_queued
import ui
from ui import state

CLASSES = ["billing", "bug", "feature"]
PASSWORD = "correct horse battery"


@pytest.fixture
def reviewer_app(db, monkeypatch):
    """Two annotators label three texts with overlap: one text agreed, two with disputed labels;
    then a reviewer signs in."""
    monkeypatch.setenv("SIEVE_WORKER", "external")
    plan = multilabel_io.plan_import(pd.DataFrame({"text": [f"ticket {i}" for i in range(5)]}), "text", None, CLASSES)
    pid = multilabel_io.create_project(db, auth.local_actor(), "tickets", plan)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    e1, e2, e3 = store.example_ids(db, pid, store.Split.POOL)[:3]
    for example_id, first, second in ((e1, ["billing", "bug"], ["bug"]), (e2, ["feature"], ["feature"]),
                                      (e3, [], ["bug", "feature"])):
        for who, labels in (("ann1", first), ("ann2", second)):
            multilabel.submit_labels(db, auth.local_actor(who), pid, annotate.NextText.direct(example_id), labels)
    ada = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    auth.create_user(db, ada, "rev", PASSWORD, auth.REVIEWER)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.SESSION_TOKEN] = auth.login(db, "rev", PASSWORD).token  # AppTest sends no cookies
    app.query_params["project"] = str(pid)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app, pid, (e1, e2, e3)


def test_a_reviewer_decides_disputed_labels_one_by_one_or_by_the_majority(reviewer_app, db):
    app, pid, (e1, e2, e3) = reviewer_app
    app.switch_page("ui/pages/adjudicate.py").run()
    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption]
    assert ui.plain("Given by ann1; left out by ann2 (tie: out until decided).") in captions
    assert "2 texts where annotators' sets differ" in captions[0]
    text = " ".join(m.value for m in app.markdown)
    assert "**ann1**: " + ui.plain("billing, bug") in text and "**ann1**: none of these" in text
    # e1: only billing is disputed (both gave bug); e3: bug and feature
    keys = {r.key for r in app.radio}
    assert keys == {f"mladj_{e1}_0", f"mladj_{e3}_1", f"mladj_{e3}_2"}
    radio = app.radio(key=f"mladj_{e1}_0")
    assert radio.value == "out" and radio.options == ["in", "out"]
    radio.set_value("in")
    app.button(key=f"mladj_go_{e1}").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    finals = {f.example_id: f for f in multilabel.final_sets(db, pid)}
    assert (finals[e1].labels, finals[e1].source, finals[e1].decided_by) == (["billing", "bug"], "adjudication", "rev")
    assert finals[e2].labels == ["feature"] and finals[e3].labels == []
    # the decided text left the list; the other takes the majority for all (ties: out)
    assert {r.key for r in app.radio} == {f"mladj_{e3}_1", f"mladj_{e3}_2"}
    app.button(key=f"mladj_majority_{e3}").click().run()
    assert not app.exception and not app.error
    decision = json.loads(store.decisions(db, pid)[e3]["label"])
    assert decision == {"bug": 0, "feature": 0}
    assert "No disputed labels to settle." in [s.value for s in app.success]


def test_agreement_per_label_shows_on_the_adjudicate_and_team_pages(reviewer_app, db):
    app, pid, _ = reviewer_app
    app.switch_page("ui/pages/adjudicate.py").run()
    assert any("Not measured yet" in c.value for c in app.caption)
    app.button(key="ml_agreement_go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run_queued(db, (store.JobKind.QUALITY,))  # the worker's part, in this process
    app.run()
    overall, per_label, pairs = (t.value for t in app.dataframe)
    assert overall["figure"].tolist()[2] == "Krippendorff's alpha on whole sets (MASI distance)"
    assert per_label["label"].tolist() == CLASSES
    # billing: ann1 yes/no/no vs ann2 no/no/no over 3 texts
    assert per_label.set_index("label").loc["billing", "given in answers"] == "1 of 6"
    assert pairs.to_dict("records")[0]["annotators"] == "ann1 / ann2"
    assert pairs.to_dict("records")[0]["same set"] == pytest.approx(1 / 3, abs=1e-3)
    analysis = quality.latest_analysis(db, pid)
    assert analysis["agreement"]["multilabel"] and analysis["issues"] == []
    # the admin's Team page shows the same tables under the annotators' figures
    ada = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    ada.session_state[state.SESSION_TOKEN] = auth.login(db, "ada", PASSWORD).token
    ada.query_params["project"] = str(pid)
    ada.run()
    ada.switch_page("ui/pages/team.py").run()
    assert not ada.exception, [e.value for e in ada.exception]
    tables = [t.value for t in ada.dataframe]
    assert any("Krippendorff's alpha" in t.columns for t in tables)
    figures = next(t for t in tables if "kappa with others" in t.columns)
    assert set(figures["annotator"]) == {"ann1", "ann2"}


def test_the_model_page_of_a_multi_label_project_predicts_on_a_new_file(reviewer_app, db):
    """Before, the multi-label Model page had no predictions (and the worker refused a multi-label version)."""
    from core import artifacts
    from core.learning import multilabel as ml
    from tests.unit.test_registry import fake_encoder

    app, pid, _ = reviewer_app
    encoder_id, ids = fake_encoder(db, pid)
    directory = artifacts.project_dir(pid) / "versions" / "v-ml"
    directory.mkdir(parents=True)
    ml.MultiLabelHead(CLASSES, np.zeros((3, 4)), np.zeros(3), np.full(3, 0.5)).save(directory)
    (directory / "thresholds.json").write_text(json.dumps([0.5] * 3))
    with store.transaction(db) as conn:
        store.publish_version(conn, pid, store.NewVersion(store.JobKind.HEAD, encoder_id, str(directory), 0, 3, {},
                                                          {"multilabel": True}, {}))
    app.switch_page("ui/pages/model.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Predict on new data" in [h.value for h in app.subheader]
    assert any("set of labels" in m.value for m in app.markdown)
