"""The worker yields the CPU to the app (issue 20 item 6: pages took 5-10 s to open while it trained)."""
import os
import subprocess
import sys

from core import config
from tests.conftest import ROOT


def test_worker_niceness_defaults_to_five_and_follows_the_environment(monkeypatch):
    monkeypatch.delenv("SIEVE_WORKER_NICE", raising=False)
    assert config.worker_nice() == 5
    monkeypatch.setenv("SIEVE_WORKER_NICE", "0")
    assert config.worker_nice() == 0
    monkeypatch.setenv("SIEVE_WORKER_NICE", "many")
    assert config.worker_nice() == 5


def test_a_started_worker_runs_nicer_than_the_app(tmp_path):
    """`python -m core worker` lowers its own priority before it imports torch; read from /proc."""
    env = {**os.environ, "SIEVE_DATA_DIR": str(tmp_path / "data"), "SIEVE_WORKER_NICE": "5"}
    code = ("import os, sys; sys.argv = ['core', 'worker', '--lanes', 'nope'];"
            "from core import cli; import core.jobs.worker as w;"
            "w.LANES = {'nope': ()}; w.Worker = lambda **k: sys.exit(os.nice(0)); cli.main()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == os.nice(0) + 5, done.stderr
