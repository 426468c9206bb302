"""Roles as people see them (issue 19): annotators label blind, and every page's call into core that
changes data turns a refusal into one plain sentence (ui.refusals)."""
import ast
from pathlib import Path

import numpy as np
import pytest

from core import store
from core.labeling import annotate
from core.team import auth, projects, quality
from core.versions import registry
from tests.conftest import ROOT, make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version

PASSWORD = "umbrella-quartz-71"


def team(db, pid, *annotators: str) -> dict[str, auth.Actor]:
    """An admin (ada) and annotators assigned to the project; every actor by name."""
    people = {"ada": auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)}
    for name in annotators:
        people[name] = auth.create_user(db, people["ada"], name, PASSWORD, auth.ANNOTATOR)
        auth.assign(db, people["ada"], people[name].user_id, pid)
    people["rev"] = auth.create_user(db, people["ada"], "rev", PASSWORD, auth.REVIEWER)
    return people


def label(db, actor, pid, example_id, value):
    annotate.submit_label(db, actor, pid, annotate.NextText.direct(example_id), value)


@pytest.fixture
def blind_project(db):
    """Eval texts labeled "yes" by two annotators (one of them an overlap text only ann1 has labeled
    so far) under a version that predicts "no" everywhere."""
    pid = make_project(db, **REGISTRY_PROJECT)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    people = team(db, pid, "ann1", "ann2")
    e = store.example_ids(db, pid, store.Split.EVAL)
    label(db, people["ann1"], pid, e[0], "yes")
    label(db, people["ann1"], pid, e[1], "yes")  # awaits its second opinion (overlap 100 %)
    label(db, people["ann2"], pid, e[2], "yes")
    label(db, people["ann1"], pid, e[3], "yes")  # both label it, differently: a disagreement
    label(db, people["ann2"], pid, e[3], "no")
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    return pid, people, e


def test_where_is_it_wrong_shows_an_annotator_only_their_own_labels(db, blind_project):
    pid, people, e = blind_project
    version = store.current_version(db, pid)
    rows = {p: {(r["example_id"], r["label"]) for r in registry.wrong_on_eval(db, people[p], version)}
            for p in ("ann1", "ann2", "ada", "rev")}
    assert rows["ann1"] == {(e[0], "yes"), (e[1], "yes"), (e[3], "yes")}
    # ann2 sees neither ann1's texts nor the overlap text waiting for ann2's own label; on e[3]
    # ann2's own "no" is what the model predicts, so it is no mistake of ann2's.
    assert rows["ann2"] == {(e[2], "yes")}
    assert {i for i, _ in rows["ada"]} == {e[0], e[1], e[2]} == {i for i, _ in rows["rev"]}  # e[3] is a tie


def test_disagreements_and_suspicious_labels_are_not_shown_to_annotators(db, blind_project):
    pid, people, e = blind_project
    assert [f.example_id for f in quality.disagreements(db, pid, people["rev"])] == [e[3]]
    assert quality.disagreements(db, pid, people["ann1"]) == []
    analysis = {"issues": [{"example_id": e[0], "label": "yes", "votes": {"ann1": "yes"}}]}
    assert quality.open_issues(db, pid, analysis, people["ann2"]) == []
    assert len(quality.open_issues(db, pid, analysis, people["rev"])) == 1


def test_a_role_changed_to_annotator_is_blind_at_once(db, blind_project):
    pid, people, e = blind_project
    version = store.current_version(db, pid)
    auth.set_role(db, people["ada"], people["rev"].user_id, auth.ANNOTATOR)
    assert registry.wrong_on_eval(db, people["rev"], version) == []  # the stale Actor still says reviewer


# ---------------------------------------------------------------- refusals in the pages


def _changing_calls(tree: ast.AST):
    """Calls that pass this session's actor (`actor` or `ui.actor()`) into core, with their ancestors."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        passes_actor = any((isinstance(a, ast.Name) and a.id == "actor")
                           or (isinstance(a, ast.Attribute) and a.attr == "actor")  # a desk's actor (ui/desk.py)
                           or (isinstance(a, ast.Call) and ast.unparse(a.func) == "ui.actor") for a in node.args)
        if passes_actor:
            chain, up = [], parents.get(node)
            while up is not None:
                chain.append(up)
                up = parents.get(up)
            yield node, chain


READS = {"registry.wrong_on_eval", "quality.disagreements", "quality.open_issues", "auth.visible_projects",
         "auth.allowed", "auth.session_actor", "auth.require", "auth.session_live",
         "multilabel_quality.conflicts", "multilabel_quality.report",
         "desk.desk", "Desk"}  # a desk only keeps the actor for its callbacks, which call core inside ui.refusals


def test_every_changing_call_in_the_pages_is_inside_ui_refusals():
    """A refusal from core (role, assignment, a deactivated account) must reach people as one sentence:
    every call into core with the session's actor sits in `with ui.refusals(...)`."""
    missing = []
    for path in sorted([ROOT / "app.py", *Path(ROOT / "ui").rglob("*.py")]):
        tree = ast.parse(path.read_text())
        for call, chain in _changing_calls(tree):
            if ast.unparse(call.func) in READS:
                continue
            guarded = any(isinstance(n, ast.With) and any(ast.unparse(i.context_expr).startswith("ui.refusals(")
                                                          for i in n.items) for n in chain)
            if not guarded:
                missing.append(f"{path.relative_to(ROOT)}:{call.lineno} {ast.unparse(call.func)}")
    assert not missing, missing


# ---------------------------------------------------------------- user strings as plain text

def test_bidi_controls_are_taken_out_of_every_user_string():
    from core.plain_text import BIDI_CONTROLS, neutral, neutral_rows

    wanted = {*"\u202a\u202b\u202c\u202d\u202e", *"\u2066\u2067\u2068\u2069", "\u200e", "\u200f", "\u061c"}
    assert set(BIDI_CONTROLS) == wanted
    assert neutral("ad\u202emin\u2066 x\u200f") == "admin x"
    assert neutral("مرحبا") == "مرحبا"  # right-to-left letters stay
    assert neutral_rows([{"who": "\u202eeve", "n": 3}]) == [{"who": "eve", "n": 3}]


def test_ui_plain_escapes_markdown_and_takes_out_bidi_controls():
    import ui

    assert ui.plain("$\\alpha$ :red[x] [site](http://e.com) \u202eeve") == (
        "\\$\\\\alpha\\$ \\:red\\[x\\] \\[site\\]\\(http\u2060\\:\\/\\/e\\.com\\) eve")
    # Bare URLs, www. names and e-mail addresses are not autolinked (GFM does that after escapes).
    assert ui.plain("www.e.com a@b.co") == "www\u2060\\.e\\.com a\u2060\\@b\\.co"
    assert list(ui.table([{"who": "\u202eeve"}])["who"]) == ["eve"]


def test_a_second_opinion_comes_without_the_models_suggestion(db):
    """The model trained on the first annotator's label, so its suggestion on that text would be that
    label: the second annotator of an overlap text gets none (a text nobody labeled keeps its own)."""
    pid = make_project(db, **REGISTRY_PROJECT)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    people = team(db, pid, "ann1", "ann2")
    pool = store.example_ids(db, pid, store.Split.POOL)
    label(db, people["ann1"], pid, pool[0], "yes")
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=pool[:5])
    second = annotate.next_text(db, people["ann2"], pid)
    assert (second.example_id, second.strategy) == (pool[0], "second opinion")
    assert second.suggestion is None and annotate.confident_suggestion(second) is None
    assert annotate.refresh_suggestion(db, pid, second).suggestion is None
    label(db, people["ann2"], pid, pool[0], "no")
    fresh = annotate.next_text(db, people["ann2"], pid)
    assert fresh.example_id != pool[0] and fresh.suggestion == "yes"
