"""A few kill -9s of the worker mid-job (SIEVE_STRESS_KILLS, default 4: one per job kind);
bench/worker_kills.py runs 50 and prints the figures (docs/reliability.md)."""
import os

import pytest

from tests.conftest import datasets_dir
from tests.stress import worker_kills

pytestmark = pytest.mark.integration


def test_killed_workers_leave_a_serving_version_no_leftovers_and_true_messages(data_dir):
    datasets_dir()  # skips with a reason without the shared datasets
    figures = worker_kills.run(int(os.environ.get("SIEVE_STRESS_KILLS", "4")), seed=0)
    print(figures)
    assert figures["problems"] == []
    assert figures["mid_job"] >= 1
    # A dead worker's job is re-queued when the next worker starts, not after the 30 s stale timeout.
    assert figures["recovery_max_s"] < 30
