"""How `streamlit run app.py` serves the app by default."""
import tomllib

from tests.conftest import ROOT


def test_the_app_listens_on_localhost_and_hides_the_deploy_button():
    """Issue 14 finding 10 (Streamlit's default is every interface) and issue 10 item 12."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["browser"]["gatherUsageStats"] is False
