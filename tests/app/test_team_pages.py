"""Adjudicate and Team pages headless (AppTest), signed in as an admin: they lay out what core computes."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import store
from core.labeling import annotate
from core.team import auth, projects, quality
from tests.conftest import ROOT, make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version
from ui import state


def label(db, pid, example_id, who, value):
    annotate.submit_label(db, auth.local_actor(who), pid, annotate.NextText.direct(example_id), value)


@pytest.fixture
def signed_in(db, monkeypatch):
    """Two annotators disagree on one text (a tie) while a version predicts "no" everywhere; then an
    admin signs in (team mode)."""
    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, **REGISTRY_PROJECT)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    example_id = store.example_ids(db, pid, store.Split.POOL)[0]
    label(db, pid, example_id, "bob", "yes")  # bob first: the tie offers his label first
    label(db, pid, example_id, "alice", "no")
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    auth.create_user(db, None, "ada", "correct horse battery", auth.ADMIN)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.SESSION_TOKEN] = auth.login(db, "ada", "correct horse battery").token  # AppTest sends no cookies
    app.query_params["project"] = str(pid)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app, pid, example_id


def test_adjudicate_offers_the_label_core_proposes_and_the_models_view(signed_in, db):
    app, pid, example_id = signed_in
    app.switch_page("ui/pages/adjudicate.py").run()
    assert not app.exception, [e.value for e in app.exception]
    [item] = quality.disagreements(db, pid)
    radio = app.radio(key=f"adj_label_{example_id}")
    assert radio.value == quality.proposed_label(item) == "yes"
    assert "Model (version 1): no (80%)" in [c.value for c in app.caption]
    radio.set_value("no")
    app.button(key=f"adj_go_{example_id}").click().run()
    assert not app.exception
    [final] = [f for f in quality.final_labels(db, pid) if f.example_id == example_id]
    assert (final.label, final.source, final.decided_by) == ("no", quality.ADJUDICATION, "ada")


def test_team_page_shows_accounts_figures_and_the_audit_log(signed_in, db):
    app, pid, _ = signed_in
    app.switch_page("ui/pages/team.py").run()
    assert not app.exception, [e.value for e in app.exception]
    accounts, figures, log = (t.value for t in app.dataframe)
    assert accounts.to_dict("records") == [{"name": "ada", "role": "admin", "active": True, "projects": "all",
                                            "failed sign-ins": 0}]
    assert sorted(figures["annotator"]) == ["alice", "bob"] and "labels / hour" in figures.columns
    assert set(log.columns) == {"when", "who", "what", "project", "detail"}
    change = log[log["what"] == "change settings"].iloc[0]  # the overlap change
    assert change["project"] == "reg" and change["detail"] == "changes={'overlap': 100}"
