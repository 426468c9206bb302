"""The Ray backend against a real local Ray cluster, inside a network namespace with only loopback.

Ray binds every interface and registers the host's address, so it must never start in the
machine's normal namespace: this test runs the tests under `tests/ray/inner/` in a subprocess
under `unshare --net` (root, or a user namespace), brings up `lo` there, and gives the cluster a
random token (Ray's token authentication) through the environment. It skips with a reason when
the namespace cannot be made; SIEVE_REQUIRE_RAY=1 (set by .ci/run) makes that a failure.
"""
import os
import secrets
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.ray, pytest.mark.integration]


def _unavailable() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install -r requirements-ray.txt)"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip (util-linux, iproute2) not found"
    probe = subprocess.run(["unshare", "--net", "sh", "-c", f"ip link set lo up && {sys.executable} -c "
                            "'import socket; print(*[n for _, n in socket.if_nameindex()])'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a loopback-only network namespace: {probe.stderr.strip()[:200]}"
    if probe.stdout.split() != ["lo"]:
        return f"the new namespace has more than loopback: {probe.stdout.split()}"
    return None


def inner_env(tmp_path) -> dict:
    return {**os.environ, "SIEVE_RAY_INNER": "1", "SIEVE_RAY_ADDRESS": "auto", "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def test_ray_backend_in_a_loopback_only_namespace(tmp_path):
    reason = _unavailable()
    if reason:
        if os.environ.get("SIEVE_REQUIRE_RAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    started = time.monotonic()
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c",
         f"ip link set lo up && exec {sys.executable} -m pytest tests/ray/inner -q -p no:cacheprovider "
         "--durations=0 -rs"],
        cwd=ROOT, env=inner_env(tmp_path), capture_output=True, text=True, timeout=900)
    print(result.stdout[-6000:])
    print(f"Ray tests in the namespace: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]
