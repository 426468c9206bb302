"""Project settings: one typed record, read from any earlier stored JSON, checked with clear messages."""
import json

import pytest

from core import store
from core.learning import classifiers
from core.team import auth, projects
from core.learning.classifiers.head import HeadArguments
from core.settings import ProjectSettings, SettingsError, changes


def test_defaults_and_round_trip():
    settings = ProjectSettings()
    assert settings.refit_every == 5 and settings.retrain_every is None and settings.strategy == "auto"
    assert settings.full_retrain_every("cpu") == 50 and settings.full_retrain_every("cuda") == 5
    assert settings.full_retrain_every(None) == 50  # no worker yet: plan for a CPU
    assert ProjectSettings(retrain_every=0).full_retrain_every("cuda") == 0  # only on request
    assert settings.retrain_budget("cpu") == 180 and ProjectSettings(retrain_budget_s=30).retrain_budget("cuda") == 30
    assert ProjectSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_older_stored_json_is_read():
    # What sessions before the typed settings stored: a partial dict, unknown keys, a head as a dict.
    old = {"refit_every": 3, "retrain_every": 50, "strategy": "auto", "queue_size": 200, "batch_size": 20,
           "label_budget": 0, "head": {"kind": "knn", "params": {}, "self_training": 0.0},
           "family_args": {"setfit": {"max_steps": 12, "head": {"kind": "knn", "params": {}}}},
           "some_retired_key": True}
    settings = ProjectSettings.from_dict(old)
    assert settings.refit_every == 3 and settings.label_budget is None and settings.head.kind == "knn"
    assert settings.family == "setfit" and settings.family_arguments().max_steps == 12
    assert ProjectSettings.from_dict({}) == ProjectSettings()


@pytest.mark.parametrize("values, words", [
    ({"refit_every": 0}, "refit every"),
    ({"retrain_every": -1}, "retrain every"),
    ({"strategy": "telepathy"}, "unknown strategy 'telepathy'"),
    ({"batch_size": 50, "queue_size": 10}, "queue size"),
    ({"label_budget": -5}, "label budget"),
    ({"family": "gpt"}, "unknown model family 'gpt'"),
    ({"family": "transformer", "family_args": {"transformer": {"freeze_encoder": True, "gradual_unfreezing": True}}},
     "exclude each other"),
    ({"family_args": {"setfit": {"max_stepz": 3}}}, "max_stepz"),
    ({"head": {"kind": "gpt"}}, "Unknown head 'gpt'"),
])
def test_bad_settings_are_refused_with_a_message(values, words):
    with pytest.raises(SettingsError, match="cannot be used") as err:
        ProjectSettings.from_dict(values)
    assert words in str(err.value)


def test_setfit_uses_the_project_head_unless_its_own_is_named():
    settings = ProjectSettings(head=HeadArguments(kind="mlp"))
    assert settings.family_arguments().head.kind == "mlp"
    own = settings.with_changes({"family_args": {"setfit": {"head": {"kind": "knn"}}}})
    assert own.family_arguments().head.kind == "knn"


def test_changes_holds_only_what_differs_and_merges_per_family():
    before = ProjectSettings(family_args={"setfit": {"max_steps": 9}})
    after = before.with_changes({"refit_every": 2, "family_args": {"setfit": {"batch_size": 8}}})
    assert after.family_args["setfit"] == {"max_steps": 9, "batch_size": 8}  # merged, not replaced
    assert changes(before, after) == {"refit_every": 2, "family_args": {"setfit": {"batch_size": 8}}}
    assert changes(after, after) == {}


def test_every_family_arguments_class_round_trips():
    for family in classifiers.FAMILIES:
        args = classifiers.arguments(family, {})
        assert isinstance(args, classifiers.FamilyArguments)
        assert classifiers.arguments(family, json.loads(json.dumps(args.to_dict()))) == args


def test_store_applies_changes_to_what_is_stored_now(db):
    with store.transaction(db) as conn:
        pid = store.create_project(conn, "p", [{"name": "a"}, {"name": "b"}])
    projects.update_settings(db, auth.local_actor(), pid, {"retrain_every": 7})
    projects.update_settings(db, auth.local_actor(), pid, {"refit_every": 2})
    settings = store.settings(db, pid)
    assert settings.retrain_every == 7 and settings.refit_every == 2
    assert store.project(db, pid)["settings"] == settings
    with pytest.raises(SettingsError):
        projects.update_settings(db, auth.local_actor(), pid, {"strategy": "nope"})
    assert store.settings(db, pid) == settings  # a refused change writes nothing


def test_a_quick_model_change_refits_at_once_when_there_are_labels(db):
    with store.transaction(db) as conn:
        pid = store.create_project(conn, "p", [{"name": "a"}, {"name": "b"}])
        ids = store.insert_examples(conn, pid, [("one", "{}", "h1", store.Split.POOL), ("two", "{}", "h2", store.Split.POOL)])
    head_jobs = lambda: [j for j in store.active_jobs(db, pid) if j["kind"] == store.JobKind.HEAD]  # noqa: E731
    projects.update_settings(db, auth.local_actor(), pid, {"head": {**HeadArguments().to_dict(), "class_names": False}})
    assert not head_jobs()  # nothing labeled: nothing to refit
    with store.transaction(db) as conn:
        store.add_annotation(conn, pid, ids["h1"], "ann", "label", "a")
    projects.update_settings(db, auth.local_actor(), pid, {"retrain_every": 7})
    assert not head_jobs()  # not a quick-model setting
    projects.update_settings(db, auth.local_actor(), pid, {"head": {**HeadArguments().to_dict(), "class_names": True}})
    assert len(head_jobs()) == 1


def test_changed_settings_are_described_in_the_pages_words():
    from core.settings import describe

    before = ProjectSettings()
    after = before.with_changes({"head": {**before.head.to_dict(), "class_names": False}, "refit_every": 3})
    assert describe(before, changes(before, after)) == ["learning from the class names", "quick-model refits"]


def test_settings_typed_by_a_person_must_be_known():
    assert ProjectSettings.from_user({"retrain_every": 100}).retrain_every == 100
    for values, words in (([1], "JSON object"), ({"retrain_evry": 1}, "Unknown setting(s): retrain_evry"),
                          ({"head": 3}, '"head" must be an object')):
        with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
            ProjectSettings.from_user(values)
