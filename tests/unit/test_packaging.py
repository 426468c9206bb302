"""Issue 22: pyproject.toml, requirements.txt, .streamlit/config.toml and `sieve run` stay in step;
the set-up behind `make run` / `make test` is fast and prints what it does when already done."""
import importlib.util
import os
import re
import subprocess
import sys
import time
import tomllib

from core import cli, config
from tests.conftest import ROOT


def direct_pins() -> dict[str, str]:
    """requirements.txt's direct dependencies (the block before the transitive pins), name -> version."""
    text = (ROOT / "requirements.txt").read_text()
    block = text.split("# Direct dependencies:", 1)[1].split("# Everything they pull in", 1)[0]
    pins = [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^=\s]+", pin) for pin in pins), pins
    return {normalize(pin.split("==")[0]): pin.split("==")[1] for pin in pins}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_dependencies_are_the_direct_pins_of_requirements():
    project = pyproject()["project"]
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    assert all("==" in d for d in declared), "exact pins, as in requirements.txt"
    as_dict = {normalize(d.split("==")[0]): d.split("==")[1] for d in declared}
    assert len(as_dict) == len(declared), "a dependency listed twice"
    assert as_dict == direct_pins()
    # what only the tests and benchmarks use is optional; everything the app and worker import is not
    assert {normalize(d.split("==")[0]) for d in project["optional-dependencies"]["test"]} == {
        "pytest", "hypothesis", "playwright"}


def test_package_metadata_licence_and_console_script():
    project = pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in (ROOT / "LICENSE").read_text()
    assert project["scripts"] == {"sieve": "core.cli:main"}
    assert project["requires-python"] == ">=3.11"


def test_sieve_run_passes_exactly_the_settings_of_the_streamlit_config():
    """An installed app.py sits in site-packages, away from .streamlit/: `sieve run` passes the same settings."""
    toml = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{key}": value for section, options in toml.items() for key, value in options.items()}
    assert cli.STREAMLIT_SETTINGS == flat


def test_sieve_run_lets_command_line_options_override_the_defaults():
    command = cli.streamlit_command(["--server.port", "8502", "--server.address", "0.0.0.0"])
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(config.server_path())]
    assert "--server.address=localhost" in command and "--server.fileWatcherType=none" in command
    assert command.index("--server.address=localhost") < command.index("0.0.0.0"), "the last value wins"
    assert config.app_path().is_file() and config.server_path().is_file() and config.source_checkout()


def test_an_installed_sieve_keeps_its_data_out_of_site_packages(monkeypatch, tmp_path):
    monkeypatch.delenv("SIEVE_DATA_DIR", raising=False)
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert not config.source_checkout()
    assert config.data_dir() == (tmp_path / "xdg" / "sieve").resolve()


def bootstrap():
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_set_up_is_skipped_in_seconds_when_requirements_are_unchanged(tmp_path):
    """The stamp holds requirements.txt's hash: a second `make run` goes straight to the app."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "sieve-setup.json").write_text(__import__("json").dumps(bootstrap().stamp_for("cpu")))
    env = {**os.environ, "SIEVE_VENV": str(venv), "PATH": "/usr/bin:/bin", "SIEVE_TORCH": "auto"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "setup"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 5
    assert "is set up (requirements.txt unchanged" in done.stdout
    assert "pip" not in done.stdout


def test_a_changed_requirements_file_or_torch_choice_redoes_the_set_up(monkeypatch):
    module = bootstrap()
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi
    monkeypatch.delenv("SIEVE_TORCH", raising=False)
    assert module.torch_variant()[0] == "cpu"
    monkeypatch.setenv("SIEVE_TORCH", "cuda")
    assert module.torch_variant() == ("cuda", "SIEVE_TORCH=cuda")
    assert module.stamp_for("cpu") != module.stamp_for("cuda")
    assert module.torch_pin() == direct_pins()["torch"]
