"""kill -9 a labeling process at random moments: the database stays intact and every label
the process acknowledged (printed, flushed, after submit_label returned) is there.

    pytest tests/stress/test_kill_labeling.py -s                  # CI: 5 kills
    SIEVE_STRESS_KILLS=30 pytest tests/stress/test_kill_labeling.py -s
"""
import os
import random
import signal
import subprocess
import time

import pytest

from core import store
from tests.conftest import make_project
from tests.stress import harness

pytestmark = pytest.mark.stress


def labeling_process(data_dir):
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir)}
    return subprocess.Popen(harness.annotator_command("killed", 0, random.randrange(1 << 30), "--print-acks"),
                            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def acknowledged(lines: list[str]) -> tuple[list[dict], set[int]]:
    """The labels and undos the process reported done; a line cut short by the kill promised nothing."""
    acks, undone = [], set()
    for line in lines:
        parts = line.split()
        if line.endswith("\n") and len(parts) == 4 and parts[0] == "ack":
            acks.append({"id": int(parts[1]), "example_id": int(parts[2]), "label": parts[3], "undone": False})
        elif line.endswith("\n") and len(parts) == 2 and parts[0] == "undone":
            undone.add(int(parts[1]))
    for ack in acks:
        ack["undone"] = ack["id"] in undone
    return acks, undone


def test_kill_9_loses_no_acknowledged_label(db, data_dir):
    kills = harness.env_int("SIEVE_STRESS_KILLS", 5)
    texts = [f"stress text number {i}: is this a question?" for i in range(6000)]
    pid = make_project(db, texts, harness.TREC_CLASSES, name="stress")
    rng = random.Random(0)
    all_acks: list[dict] = []
    for round_ in range(kills):
        process = labeling_process(data_dir)
        assert process.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.5))  # a random moment: mid-transaction, mid-commit, between calls
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        acks, _ = acknowledged(process.stdout.readlines())
        all_acks += acks
        findings = harness.check(store.connect(), pid, [{"name": "killed", "acked": all_acks}])
        assert findings.integrity == "ok", round_
        assert findings.missing == [] and findings.undo_missing == [], (round_, findings.missing[:3])
        assert findings.doubly_labeled == []
    print(f"\n{kills} kill -9s, {len(all_acks)} acknowledged labels, none lost, integrity_check ok")
    assert all_acks, "the process never labeled anything before being killed"
