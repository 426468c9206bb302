"""The test suite's own set-up (tests/conftest.py): collecting the unit tests imports no ML library,
so `python -m pytest tests/unit` starts without loading torch."""
import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("torch", "transformers", "setfit", "sentence_transformers", "datasets")

COLLECT = f"""
import json, sys
import pytest
code = pytest.main(["tests/unit", "-m", "not integration", "--collect-only", "-q", "-p", "no:cacheprovider"])
print("LOADED " + json.dumps({{"code": int(code), "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def test_collecting_the_unit_tests_imports_no_ml_library():
    done = subprocess.run([sys.executable, "-c", COLLECT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    line = next((x for x in done.stdout.splitlines() if x.startswith("LOADED ")), None)
    assert line is not None, done.stdout[-2000:] + done.stderr[-2000:]
    loaded = json.loads(line.removeprefix("LOADED "))
    assert loaded["code"] == 0, done.stdout[-2000:]
    assert loaded["heavy"] == [], f"collecting tests/unit imported {loaded['heavy']}"
