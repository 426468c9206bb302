"""Without SIEVE_RAY_ADDRESS the Ray backend is inert: no module of the worker's import path, nor
a job that runs through those paths, imports `ray` (an optional dependency)."""
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import sys
import core.cli, core.jobs.worker, core.jobs.training, core.jobs.publishing, core.jobs.ray_backend
import core.learning.embeddings, core.files.predict
from core.jobs import ray_backend
assert not ray_backend.configured()
import pandas as pd
from core import store
from core.files import imports
from core.jobs import worker
from core.team import auth
db = store.connect()
pid = imports.create_project_from_plan(db, auth.local_actor(), "p", imports.plan_import(
    pd.DataFrame({"text": ["one text", "another text", "a third"]}), "text", None, ["a", "b"]))
job = store.claim_job(db, "t", (store.JobKind.EMBED,))
worker.run_job(db, job)
assert store.job(db, job["id"])["status"] == store.JobStatus.DONE, store.job(db, job["id"])
print(sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
"""


def test_ray_is_never_imported_without_sieve_ray_address(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SIEVE_RAY_ADDRESS"}
    env.update(SIEVE_DATA_DIR=str(tmp_path), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_check_can_fail(tmp_path):
    """The same probe reports ray when something did import it."""
    env = {**os.environ, "SIEVE_DATA_DIR": str(tmp_path)}
    code = "import sys, core.jobs.worker; import ray; print(sorted(m for m in sys.modules if m == 'ray'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0 and "No module named 'ray'" in result.stderr:
        return  # ray not installed: nothing can import it
    assert result.stdout.strip().splitlines()[-1] == "['ray']"
