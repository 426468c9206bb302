"""The UI process never loads torch, transformers, setfit or scikit-learn: every page, a model
export and the transformer settings run through AppTest in a fresh process beside a real worker."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core import store
from core.labeling import annotate
from core.team import auth
from tests.conftest import ROOT, TREC_CLASSES, dataset, make_project, wait_for

pytestmark = pytest.mark.integration
PROBE = Path(__file__).with_name("footprint_probe.py")




def run_probe(data_dir: Path, extra_code: str = "") -> dict:
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir), "SIEVE_WORKER": "external"}
    code = f"{extra_code}import runpy, sys; sys.argv = [{str(PROBE)!r}]; runpy.run_path({str(PROBE)!r}, run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def project_with_a_model(db, data_dir):
    frame = dataset("trec6", "train", 120)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame, TREC_CLASSES, name="footprint")
    worker = subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT,
                              env={**os.environ, "SIEVE_DATA_DIR": str(data_dir)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: store.latest_encoder(db, pid), 180, "the pool embedding")
        for _ in range(6):
            shown = annotate.next_text(db, auth.local_actor("ann"), pid)
            annotate.submit_label(db, auth.local_actor("ann"), pid, shown, gold[shown.text])
        wait_for(lambda: store.latest_version(db, pid), 60, "a head version")
        yield pid
    finally:
        worker.terminate()
        worker.wait(30)


def test_pages_and_model_export_never_load_ml_libraries(project_with_a_model, data_dir):
    report = run_probe(data_dir)
    assert report["problems"] == []
    assert report["export"]["status"] == store.JobStatus.DONE, report["export"]
    with zipfile.ZipFile(report["export_result"]["path"]) as archive:
        names = archive.namelist()  # one top-level folder, so unzipping makes a folder
        assert {n.split("/")[0] for n in names} == {f"sieve-model-v{report['export_result']['number']}"}
        assert {"README.md", "config_setfit.json"} <= {n.split("/", 1)[1] for n in names}
    assert report["heavy"] == [], f"the UI process loaded {report['heavy']}"
    # The check can fail: the same run in a process that imported torch first reports it.
    assert "torch" in run_probe(data_dir, extra_code="import torch; ")["heavy"]
