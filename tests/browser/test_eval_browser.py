"""Eval texts in a real Chromium (issue 20, item 2): the Annotate page shows no model suggestion
and no "your label teaches it the most" on an eval text, and still shows them on pool texts."""
import os

import numpy as np
import pytest

from core import store
from tests.browser import harness
from tests.conftest import make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version

pytestmark = pytest.mark.browser
EVAL_CAPTION = "Eval text: picked at random"


def seed_served_project(data_dir) -> None:
    """A project with an encoder and a served version (its suggestions: "yes", 80 % sure) made
    through core, so no model is needed; a quarter of the texts are the eval sample."""
    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        db = store.connect()
        pid = make_project(db, **REGISTRY_PROJECT)
        encoder_id, ids = fake_encoder(db, pid)
        fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int),
                     queue=store.example_ids(db, pid, store.Split.POOL))
        with store.transaction(db) as conn:  # nothing for a worker to do: the texts are "embedded"
            conn.execute("DELETE FROM jobs")
        store.disconnect()
    finally:
        if previous is None:
            os.environ.pop("SIEVE_DATA_DIR", None)
        else:
            os.environ["SIEVE_DATA_DIR"] = previous


def test_no_suggestion_and_no_teaching_claim_on_eval_texts(app_factory, page, tmp_path):
    data_dir = tmp_path / "data"
    seed_served_project(data_dir)
    app = app_factory(data_dir, env={"SIEVE_WORKER": "external"})
    harness.goto(page, app.url)
    harness.open_page(page, "Annotate")
    seen = {"eval": 0, "pool": 0}
    for _ in range(12):
        text = harness.main_text(page)
        if EVAL_CAPTION in text:
            seen["eval"] += 1
            assert "leans towards" not in text and "teaches" not in text, text
        else:
            seen["pool"] += 1
            assert "The model leans towards yes (80% sure)" in text, text
        harness.press(page, "1")
    assert seen["eval"] >= 2 and seen["pool"] >= 6, seen
