"""Tests that need the shared datasets skip with a reason when they are absent, and fail under
SIEVE_REQUIRE_DATASETS=1 (CI); they never raise a FileNotFoundError of their own."""
import os
import subprocess
import sys

from tests.conftest import ROOT


def _run(tmp_path, **env):
    empty = tmp_path / "no-datasets"
    empty.mkdir(exist_ok=True)
    env = {**{k: v for k, v in os.environ.items() if k != "SIEVE_REQUIRE_DATASETS"}, "SIEVE_DATASETS": str(empty),
           **env}
    return subprocess.run([sys.executable, "-m", "pytest", "tests/unit/test_bench_protocol.py", "-q", "-rsf",
                           "-p", "no:cacheprovider", "-k", "not backup_benchmark"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_bench_protocol_tests_skip_without_the_datasets(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "2 skipped" in done.stdout and "real datasets not found" in done.stdout, done.stdout
    assert "FileNotFoundError" not in done.stdout


def test_and_fail_when_the_datasets_are_required(tmp_path):
    done = _run(tmp_path, SIEVE_REQUIRE_DATASETS="1")
    assert done.returncode != 0
    assert "2 failed" in done.stdout and "real datasets not found" in done.stdout, done.stdout
    assert "FileNotFoundError" not in done.stdout
