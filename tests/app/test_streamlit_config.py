"""How `streamlit run app.py` (and `sieve run`) serves the app by default."""
import tomllib

from tests.conftest import ROOT


def streamlit_config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_the_app_listens_on_localhost_and_hides_the_deploy_button():
    """Issue 14 finding 10 (Streamlit's default is every interface) and issue 10 item 12."""
    config = streamlit_config()
    assert config["server"]["address"] == "localhost"
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")
    assert config["browser"]["gatherUsageStats"] is False


def test_no_file_watcher_and_no_rerun_on_save():
    """Issue 20 item 3: with a .venv inside the repository Streamlit's file watcher overflowed inotify
    and kept a core busy on an idle page; production serving watches nothing and never reruns on save."""
    config = streamlit_config()
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False
    assert config["client"]["toolbarMode"] == "minimal"
