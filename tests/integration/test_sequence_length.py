"""A full retrain embeds, predicts and exports at the base encoder's own sequence length.

SetFit trained with `max_length` tokens per text and, before this test, left the fine-tuned
encoder at that length: the pool was re-embedded truncated to 128 tokens while the base
model (all-MiniLM-L6-v2) reads 256, and long texts lost half of what they say (issue 25).
"""
import numpy as np
import pytest

from core import store
from core.files import imports, model_export
from core.labeling import scheduling
from core.learning import embeddings
from core.team import auth, projects
from tests.conftest import dataset, run_queued

pytestmark = pytest.mark.integration
CLASSES = ["sci.space", "rec.autos"]


@pytest.fixture
def long_texts():
    frame = dataset("20newsgroups", "train")
    frame = frame[frame["label"].isin(CLASSES)]
    tokenizer = embeddings.load_encoder(None).tokenizer
    lengths = frame["text"].map(lambda t: len(tokenizer(t)["input_ids"]))
    frame = frame[lengths > 200]  # every text runs past 128 tokens
    return frame.groupby("label").head(8).reset_index(drop=True)


def test_a_retrain_embeds_the_pool_at_the_base_length(db, long_texts, tmp_path):
    base_length = embeddings.load_encoder(None).max_seq_length
    assert base_length == 256
    plan = imports.plan_import(long_texts, "text", "label", CLASSES)
    pid = imports.create_project_from_plan(db, auth.local_actor(), "long", plan, eval_fraction=0.0)
    run_queued(db, (store.JobKind.EMBED,))
    # Train at the shortest length the family takes: the embedding length must not follow it.
    projects.update_settings(db, auth.local_actor(), pid, {"family": "setfit", "family_args": {
        "setfit": {"max_steps": 1, "batch_size": 4, "max_length": 32}}})
    scheduling.train_now(db, auth.local_actor(), pid)
    run_queued(db, (store.JobKind.FULL,))
    version = store.latest_version(db, pid)
    assert version["kind"] == store.JobKind.FULL
    encoder = store.encoder(db, version["encoder_id"])

    fine_tuned = embeddings.open_encoder(encoder["model"])
    assert fine_tuned.max_seq_length == base_length  # what later embeds, predictions and exports read
    ids, stored = embeddings.read(encoder["path"])
    texts = store.texts_by_id(db, ids.tolist())
    texts = [texts[i] for i in ids]
    at_base = embeddings.encode(fine_tuned, texts)
    fine_tuned.max_seq_length = 32
    truncated = embeddings.encode(fine_tuned, texts)
    assert np.abs(at_base - truncated).max() > 0.05  # the texts are long enough to tell the two apart
    assert np.allclose(np.asarray(stored), at_base, atol=2e-3)

    # The version records both lengths, and its export embeds at the base length too.
    assert version["params"]["setfit"]["max_length"] == 32
    assert version["params"]["embed_max_length"] == base_length
    out = model_export.export_model(db, version["id"], tmp_path / "export")
    assert embeddings.open_encoder(str(out)).max_seq_length == base_length
    card = (out / "README.md").read_text()
    assert "trained on the first 32 tokens of each text" in card and f"reads up to {base_length} tokens" in card
