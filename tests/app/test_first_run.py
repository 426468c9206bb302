"""Issue 22: a new user who opens Sieve with no project sees, on one screen, what Sieve does, the three
steps and the form that creates a project, and can make a small demo project from their own file."""
from streamlit.testing.v1 import AppTest

from core import store
from tests.conftest import ROOT


def first_screen(monkeypatch) -> AppTest:
    monkeypatch.setenv("SIEVE_WORKER", "external")  # the test drives the store; no background worker
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def shown(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [i.value for i in at.info] + [s.value for s in at.subheader])


def test_the_first_screen_says_what_sieve_does_and_the_three_steps(db, monkeypatch):
    at = first_screen(monkeypatch)
    text = shown(at)
    assert "Welcome to Sieve" in text
    assert "builds a text classifier" in text
    for step in ("1. Create a project", "2. Annotate", "3. Check and export"):
        assert step in text
    assert "Small demo" in text
    assert at.get("file_uploader"), "the form that creates a project is on the same screen"
    assert not at.error


def test_the_welcome_goes_once_a_project_exists(db, monkeypatch):
    at = first_screen(monkeypatch)
    at.file_uploader(key="new_upload").upload("two.csv", b"text\nhello there\nhow are you?\n", "text/csv").run()
    at.text_input(key="class_spec").set_value("greeting, question").run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error
    assert "Welcome to Sieve" not in shown(at)


def test_a_small_demo_from_the_users_own_file(db, monkeypatch):
    at = first_screen(monkeypatch)
    texts = [f"Review number {i}: the film was {'good' if i % 2 else 'bad'}." for i in range(1000)]
    upload = ("text\n" + "\n".join(texts)).encode()
    at.file_uploader(key="new_upload").upload("reviews.csv", upload, "text/csv").run()
    [demo] = [c for c in at.checkbox if c.key == "demo"]
    assert "200 random texts of the 1,000" in demo.label
    demo.check().run()
    at.text_input(key="class_spec").set_value("positive, negative").run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [project] = store.projects(db)
    assert project["name"] == "reviews demo"
    assert store.example_count(db, project["id"]) == 200
    assert store.active_jobs(db, project["id"]), "the demo is queued for embedding like any project"


def test_pages_without_a_project_link_to_creating_one(db, monkeypatch):
    at = first_screen(monkeypatch)
    at.switch_page("ui/pages/annotate.py").run()
    assert not at.exception
    assert any("no project yet" in i.value for i in at.info)
    assert [link.label for link in at.get("page_link")] == ["Create a project"]
