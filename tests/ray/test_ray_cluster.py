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

pytestmark = pytest.mark.ray


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
    log = tmp_path / "inner.log"  # streamed, so a timeout still shows how far it got
    timeout = float(os.environ.get("SIEVE_RAY_TIMEOUT_S", "1800"))  # ~3 min on a quiet 2-core machine
    with open(log, "w") as out:
        process = subprocess.Popen(
            ["unshare", "--net", "sh", "-c",
             f"ip link set lo up && exec {sys.executable} -m pytest tests/ray/inner -v -s -p no:cacheprovider "
             "--durations=0 -rs"],
            cwd=ROOT, env=inner_env(tmp_path), stdout=out, stderr=subprocess.STDOUT)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
            code = None
    text = log.read_text(errors="replace")
    summary = [line for line in text.splitlines() if "PASSED" in line or "FAILED" in line or "timings" in line
               or " passed" in line or " failed" in line or "SKIPPED" in line]
    print("\n".join(summary[-20:]))
    print(f"Ray tests in the namespace: {time.monotonic() - started:.0f} s")
    assert code is not None, f"the Ray tests took more than {timeout:.0f} s:\n{text[-6000:]}"
    assert code == 0, text[-8000:]
    assert " passed" in text and "SKIPPED" not in text
