"""Runs inside `unshare --net` only (see tests/ray/test_ray_cluster.py): one local Ray cluster,
2 CPUs, shared by the tests of this directory."""
import shutil
import tempfile

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    from core.jobs import ray_backend

    assert ray_backend.non_loopback_interfaces() == [], "the Ray tests must run in a loopback-only namespace"
    temp = tempfile.mkdtemp(prefix="sray-", dir="/tmp")  # short: Ray's socket paths must stay < 108 bytes
    ray = ray_backend.start_local(num_cpus=2, temp_dir=temp)
    yield ray
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)
