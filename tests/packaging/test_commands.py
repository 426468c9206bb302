"""Issue 22, done when: from a fresh copy in a new directory the README's run command brings up the app,
and `pip install .` in a fresh virtualenv gives a working `sieve` command. Both reuse this test run's
virtualenv (CI has just built it with the same set-up), so no package is downloaded or reinstalled."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs to run inside a virtualenv")


def fresh_copy(destination: Path) -> Path:
    """The files a clone has (tracked and new, not ignored): no .venv, no data, no build output."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout (an unpacked source archive)
        shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(".venv", ".git", "data", "__pycache__"))
        return destination
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def serve(command: list[str], cwd: Path, env: dict, port: int, log: Path) -> str:
    """Start `command`, wait until Streamlit answers on 127.0.0.1:port, return the page; always stop it."""
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/_stcore/health") == "ok" or process.poll() is not None,
                 120, "the app to answer")
        assert process.poll() is None, log.read_text()
        page = get(f"http://127.0.0.1:{port}/")
        assert page is not None and "<title>Streamlit</title>" in page, page
        return log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def quiet_env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SIEVE_DATA_DIR")}
    return {**env, "SIEVE_WORKER": "external", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


def test_the_run_command_brings_up_the_app_from_a_fresh_copy(tmp_path):
    clone = fresh_copy(tmp_path / "sieve")
    assert (clone / "Makefile").is_file() and not (clone / ".venv").exists()
    port = free_port()
    options = f"--server.port {port} --server.headless true"
    command = (["make", "run", f"ARGS={options}"] if shutil.which("make")
               else [sys.executable, "scripts/bootstrap.py", "run", *options.split()])
    env = quiet_env(tmp_path, SIEVE_VENV=sys.prefix, SIEVE_DATA_DIR=str(tmp_path / "data"))
    started = time.monotonic()
    log = serve(command, clone, env, port, tmp_path / "run.log")
    assert "[sieve] starting Sieve" in log and f"Sieve keeps its data in {tmp_path / 'data'}" in log, log
    assert "--server.fileWatcherType=none" in log, log
    # set up already (the stamp this very run's virtualenv carries): seconds, not a reinstall
    second = time.monotonic()
    log = serve(command, clone, env, port, tmp_path / "again.log")
    assert "is set up (requirements.txt unchanged" in log and "pip install" not in log, log
    print(f"first start {second - started:.1f} s, second {time.monotonic() - second:.1f} s")


def overlay_venv(path: Path) -> Path:
    """A new virtualenv that sees this one's packages (a .pth file) but installs into its own folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))
    (purelib / "_parent_venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path / "bin"


def test_pip_install_gives_a_working_sieve_command(tmp_path):
    source = fresh_copy(tmp_path / "source")
    # every module of the app and the library is to be installed (app.py, its pages, core), nothing else
    shipped = {p.relative_to(source).as_posix() for p in source.rglob("*.py")
               if p.relative_to(source).parts[0] not in ("tests", "bench", "scripts", "docs")}
    bin_dir = overlay_venv(tmp_path / "venv")
    import setuptools

    isolation = [] if int(setuptools.__version__.split(".")[0]) < 77 else ["--no-build-isolation"]
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", *isolation, str(source)],
                   check=True, cwd=tmp_path)
    installed = Path(subprocess.run([str(bin_dir / "python"), "-c", "import core, sys; print(core.__file__)"],
                                    capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip())
    assert installed.is_relative_to(tmp_path / "venv"), installed
    packaged = installed.parents[1]
    assert "app.py" in shipped and "core/cli.py" in shipped and any("pages/" in name for name in shipped)
    assert [name for name in sorted(shipped) if not (packaged / name).is_file()] == []
    assert not (packaged / "tests").exists() and not (packaged / "bench").exists()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = quiet_env(tmp_path, XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"))
    sieve = str(bin_dir / "sieve")
    usage = subprocess.run([sieve, "--help"], capture_output=True, text=True, cwd=elsewhere, env=env, check=True)
    for command in ("run", "worker", "import", "export", "predict", "backup", "simulate"):
        assert command in usage.stdout
    (elsewhere / "texts.csv").write_text("text\nthe screen stays black\nhow do I reset it?\nthanks it works\n")
    created = subprocess.run([sieve, "import", "texts.csv", "--project", "tickets", "--classes", "bug,question,praise"],
                             capture_output=True, text=True, cwd=elsewhere, env=env)
    assert created.returncode == 0 and "created 'tickets'" in created.stdout, created.stderr
    assert (tmp_path / "xdg" / "sieve" / "sieve.db").is_file(), "an installed Sieve keeps data in the user's folder"

    port = free_port()
    log = serve([sieve, "run", "--server.port", str(port), "--server.headless", "true"], elsewhere, env, port,
                tmp_path / "sieve-run.log")
    assert str(packaged / "serve.py") in log, log
    # the installed app itself renders (its pages resolve inside site-packages), with the project just made
    check = ("from streamlit.testing.v1 import AppTest\n"
             f"at = AppTest.from_file({str(packaged / 'app.py')!r}, default_timeout=60); at.run()\n"
             "assert not at.exception, at.exception\n"
             "print([s.value for s in at.sidebar.selectbox])\n")
    shown = subprocess.run([str(bin_dir / "python"), "-c", check], capture_output=True, text=True, cwd=elsewhere,
                           env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
