"""The stopping signal on real data: silent on a fresh run, fires once predictions settle."""
import pytest

from core.learning import stopping
from core.sim import simulate
from tests.conftest import dataset

pytestmark = pytest.mark.integration


def test_stabilizing_predictions_fires_on_a_converged_run_not_a_fresh_one(data_dir):
    train = dataset("sms_spam", "train", 2000)
    test = dataset("sms_spam", "test")
    result = simulate.run(train, test, strategy="auto", init=20, batch=40, rounds=12, seed=0)
    kappas = [s["kappa_previous"] for s in result["steps"]]
    fresh = stopping.stabilizing_predictions(kappas[:3])
    assert not fresh.fired
    converged = stopping.stabilizing_predictions(kappas)
    assert converged.fired, kappas
    stop = result["stops"]["stabilizing_predictions"]
    assert stop is not None and stop["step"] >= 3
    assert result["final_accuracy"] - stop["accuracy"] < 0.01  # stopping there gave up (almost) nothing
