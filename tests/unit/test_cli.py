"""The command line in team mode: it acts as a signed-in user (--user, SIEVE_PASSWORD) and checks roles
like every other caller; a refusal is one plain sentence on stderr and a non-zero exit, never a traceback;
a missing import file or an unknown export format is one line too."""
import os
import subprocess
import sys

import pytest

from core import store
from core.team import auth
from tests.conftest import ROOT, make_project
from tests.unit.test_exports import labeled_project

PASSWORDS = {"ada": "ada-password-1", "rev": "rev-password-1", "ann": "ann-password-1"}


@pytest.fixture
def team(db, data_dir, tmp_path):
    """A team-mode store: project `p` with two labels; ada an admin, rev a reviewer, ann an annotator of `p`."""
    pid = make_project(db, ["one text", "another text", "a third"], labels=["yes", "no", None])
    ada = auth.create_user(db, None, "ada", PASSWORDS["ada"], auth.ADMIN)
    auth.create_user(db, ada, "rev", PASSWORDS["rev"], auth.REVIEWER)
    ann = auth.create_user(db, ada, "ann", PASSWORDS["ann"], auth.ANNOTATOR)
    auth.assign(db, ada, ann.user_id, pid)
    (tmp_path / "more.csv").write_text("text\nfresh text\nanother fresh one\n")
    return pid


def cli(data_dir, *args, user=None, password=None):
    env = {k: v for k, v in os.environ.items() if k != "SIEVE_PASSWORD"}
    env["SIEVE_DATA_DIR"] = str(data_dir)
    if user is not None:
        args = (*args, "--user", user)
        env["SIEVE_PASSWORD"] = PASSWORDS.get(user, "") if password is None else password
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def refused(done, *words):
    """Exited non-zero with one plain line on stderr that holds `words`, nothing written to stdout."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr and "cannot read" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_import_is_refused_for_a_role_not_taken_for_an_unreadable_file(team, data_dir, tmp_path):
    more = str(tmp_path / "more.csv")
    refused(cli(data_dir, "import", more, "--project", "p"), "--user", "SIEVE_PASSWORD")
    refused(cli(data_dir, "import", more, "--project", "p", user="ada", password="not her password"),
            "Wrong name or password")
    refused(cli(data_dir, "import", more, "--project", "p", user="ann"), "ann is an annotator", "only admins")
    refused(cli(data_dir, "import", more, "--project", "new", user="rev"), "rev is a reviewer")
    assert store.example_count(store.connect(), team) == 3
    done = cli(data_dir, "import", more, "--project", "p", user="ada")
    assert done.returncode == 0, done.stderr
    assert store.example_count(store.connect(), team) == 5


def test_exports_need_the_export_permission(team, data_dir, tmp_path):
    out = tmp_path / "labels.csv"
    refused(cli(data_dir, "export", "--project", "p", "--out", str(out)), "--user")
    refused(cli(data_dir, "export", "--project", "p", "--out", str(out), user="ann"), "ann is an annotator",
            "may export")
    refused(cli(data_dir, "export", "--project", "p", "--format", "hf-datasets", "--out", str(tmp_path / "hf"),
                user="ann"), "may export")
    assert not out.exists() and not (tmp_path / "hf").exists()
    done = cli(data_dir, "export", "--project", "p", "--out", str(out), user="rev")
    assert done.returncode == 0, done.stderr
    assert "one text" in out.read_text()
    # Model exports and predictions take the model out of Sieve: the same permission, checked before anything else.
    refused(cli(data_dir, "export-model", "--project", "p", "--out", str(tmp_path / "m"), user="ann"), "may export")
    refused(cli(data_dir, "predict", str(tmp_path / "more.csv"), "--project", "p", "--out", str(tmp_path / "x.csv"),
                user="ann"), "may export")
    refused(cli(data_dir, "export-model", "--project", "p", "--out", str(tmp_path / "m")), "--user")
    # Allowed, it goes on to the next question: there is no model yet.
    refused(cli(data_dir, "export-model", "--project", "p", "--out", str(tmp_path / "m"), user="rev"),
            "no such model version")


def test_backup_and_restore_need_an_admin(team, data_dir, tmp_path):
    refused(cli(data_dir, "backup", str(tmp_path / "b")), "--user")
    refused(cli(data_dir, "backup", str(tmp_path / "b"), user="rev"), "rev is a reviewer", "only admins")
    assert not (tmp_path / "b").exists()
    done = cli(data_dir, "backup", str(tmp_path / "b"), user="ada")
    assert done.returncode == 0 and "2 labels" in done.stdout, done.stderr
    refused(cli(data_dir, "restore", str(tmp_path / "b"), user="ann"), "ann is an annotator", "only admins")
    assert cli(data_dir, "restore", str(tmp_path / "b"), user="ada").returncode == 0


def test_single_user_mode_needs_no_user(db, data_dir, tmp_path):
    """No accounts yet: the command line acts as the local admin, as the app does."""
    (tmp_path / "t.csv").write_text("text,label\none text,yes\nanother,no\n")
    assert cli(data_dir, "import", str(tmp_path / "t.csv"), "--project", "solo", "--label-column", "label") \
        .returncode == 0
    done = cli(data_dir, "export", "--project", "solo", "--out", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.jsonl").read_text().count("\n") == 2
    assert not auth.team_mode(db)


def test_cli_import_of_a_missing_file_is_one_line(data_dir, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    run = subprocess.run([sys.executable, "-m", "core", "import", str(tmp_path / "nope.csv"), "--project", "p",
                          "--classes", "a,b"], cwd=ROOT, env={**os.environ, "SIEVE_DATA_DIR": str(data_dir)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr and "nope.csv" in run.stderr


def test_cli_export_unknown_format_is_one_line_and_writes_nothing(db, data_dir, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    labeled_project(db, ["a", "b"], ["pos", "neg"])
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir)}
    out = tmp_path / "x.txt"
    run = subprocess.run([sys.executable, "-m", "core", "export", "--project", "p", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and not out.exists()
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert "unknown export format 'txt'" in run.stderr and "csv, jsonl, parquet" in run.stderr
    good = tmp_path / "x.csv"
    run = subprocess.run([sys.executable, "-m", "core", "export", "--project", "p", "--out", str(good)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "wrote 2 labels" in run.stdout and good.exists()


