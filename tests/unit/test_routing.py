"""Every address goes through app.py's sign-in check and navigation (issue 19 item 4).

The pilot's deep links ran page files without app.py: Streamlit treats a `pages/` folder beside the main
script as a legacy multipage app and runs a requested page's file directly (`/team` showed the accounts
and the audit log without signing in). The pages live in ui/pages/ so that nothing is run but app.py."""
from tests.conftest import ROOT


def test_no_legacy_pages_folder_beside_the_entry_point():
    assert (ROOT / "app.py").exists() and (ROOT / "serve.py").exists()
    assert not (ROOT / "pages").exists(), "Streamlit would run pages/*.py directly, without app.py's sign-in check"


def test_the_sign_in_page_answers_every_page_address():
    """app.py serves the sign-in page under each page's own path, so a deep link keeps its address."""
    source = (ROOT / "app.py").read_text()
    assert 'url_path=path' in source and 'glob("*.py")' in source
    pages = {p.stem for p in (ROOT / "ui" / "pages").glob("*.py")}
    assert {"team", "annotate", "login"} <= pages


def test_the_server_never_treats_a_pages_folder_as_a_legacy_multipage_app():
    """serve.py turns Streamlit's legacy `pages/` mode off before the first session (an installed app.py
    sits in site-packages, where a `pages` package of another distribution may be)."""
    import subprocess
    import sys

    probe = ("import serve\nfrom streamlit.runtime.pages_manager import PagesManager\n"
             "from ui import signin\n"
             "assert PagesManager.uses_pages_directory is False\n"
             "assert signin.mounted() and [r.path for r in serve.app._user_routes] == ['/api/session']\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
