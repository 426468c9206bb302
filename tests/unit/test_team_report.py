"""The Team page's figures and audit log in words (issue 19, item 12)."""
from core import store
from core.labeling import annotate
from core.team import auth, quality, team_report
from tests.conftest import make_project

PASSWORD = "umbrella-quartz-71"


def test_the_first_admin_is_recorded_as_created_by_itself(db):
    auth.create_user(db, auth.local_actor("whoever typed a name"), "ada", PASSWORD, auth.ADMIN)
    [row] = [r for r in auth.audit_log(db) if r["action"] == "create user"]
    assert row["actor"] == "ada" and row["detail"] == {"user": "ada", "role": "admin"}


def test_sign_in_and_sign_out_are_audited(db):
    auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    session = auth.login(db, "ada", PASSWORD)
    auth.logout(db, session.token)
    auth.logout(db, session.token)  # a second sign-out of the same (ended) session is no event
    assert [(r["actor"], r["action"]) for r in auth.audit_log(db)][:2] == [("ada", "sign out"), ("ada", "sign in")]
    assert [r["action"] for r in auth.audit_log(db)].count("sign out") == 1


def test_the_audit_log_names_the_account_a_change_was_about(db):
    ada = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    ann = auth.create_user(db, ada, "ann1", PASSWORD, auth.ANNOTATOR)
    auth.set_role(db, ada, ann.user_id, auth.REVIEWER)
    row = team_report.audit_rows(db, {})[0]
    assert (row["who"], row["what"], row["detail"]) == ("ada", "set role", "user=ann1, role=reviewer")
    assert not any("user_id" in r["detail"] for r in team_report.audit_rows(db, {}))


def test_team_figures_are_rounded_and_kappa_is_weighted_by_shared_texts(db):
    pid = make_project(db, texts=[f"text {i}" for i in range(9)])
    ids = store.example_ids(db, pid)
    for name, example_ids in (("a", ids[:3]), ("b", ids[3:6]), ("c", ids[6:])):
        for example_id in example_ids:
            annotate.submit_label(db, auth.local_actor(name), pid, annotate.NextText.direct(example_id), "yes",
                                  seconds=1 / 3)
    analysis = {"agreement": {"pairs": [{"a": "a", "b": "b", "texts": 10, "agreement": 0.8, "kappa": 0.5},
                                        {"a": "a", "b": "c", "texts": 30, "agreement": 1.0, "kappa": 1.0}]}}
    rows = {r["annotator"]: r for r in quality.team_figures(db, pid, analysis)}
    assert (rows["a"]["kappa_with_others"], rows["a"]["shared_texts"]) == (0.88, 40)  # (0.5*10 + 1*30) / 40
    assert (rows["b"]["kappa_with_others"], rows["b"]["shared_texts"]) == (0.5, 10)
    assert rows["a"]["median_seconds"] == 0.3
    assert all(r["labels_per_hour"] == round(r["labels_per_hour"], 1) for r in rows.values())
    assert "texts shared with others" in team_report.annotator_columns().values()
