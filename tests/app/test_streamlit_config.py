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


def test_what_streamlit_offers_against_framing_forgery_and_rebinding_is_on():
    """Issue 19 item 8: Streamlit 1.67 sets no framing or security headers (no option for them: the
    reverse proxy sets X-Frame-Options, CSP frame-ancestors, Referrer-Policy and HSTS, README); what it
    offers is set explicitly, so nobody turns it off by accident."""
    server = streamlit_config()["server"]
    assert server["enableXsrfProtection"] is True and server["xsrfCookieSameSite"] == "strict"
    assert server["enableCORS"] is True
    assert set(server["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}
    assert server["enableStaticServing"] is False and server["enableAgentApi"] is False


def test_every_security_setting_is_a_real_streamlit_option_with_a_valid_value():
    from streamlit import config as st_config

    for key, value in streamlit_config()["server"].items():
        option = st_config._config_options_template[f"server.{key}"]
        assert option.type == type(value) or option.multiple, (key, option.type)
    assert ROOT.joinpath("README.md").read_text().count("frame-ancestors") >= 2  # the proxy samples say how


def test_sieve_run_passes_a_list_option_once_per_item():
    from core import cli

    command = cli.streamlit_command([])
    assert [f for f in command if f.startswith("--server.allowedHosts=")] == [
        "--server.allowedHosts=localhost", "--server.allowedHosts=127.0.0.1", "--server.allowedHosts=::1"]
