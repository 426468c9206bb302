"""Exporting a multi-label version (issue 21): the encoder (sentence-transformers, safetensors),
the one-vs-rest head with its per-label thresholds as JSON, a loader script and a model card.

Loading outside Sieve takes numpy and sentence-transformers only, and gives the label sets the
app gives: embed with `normalize_embeddings=True`, sigmoid of each label's linear score, keep
the labels whose probability reaches their threshold (the code is in the card and `predict.py`).
"""
from __future__ import annotations

import json
from pathlib import Path

from core import store
from core.learning import embeddings
from core.learning import multilabel as ml

LOADER = '''import json
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

here = Path(__file__).resolve().parent if "__file__" in globals() else Path(".")


def load(directory=here):
    directory = Path(directory)
    head = json.loads((directory / "head_multilabel.json").read_text())
    encoder = SentenceTransformer(str(directory / "encoder"), model_kwargs={"use_safetensors": True})
    return encoder, head


def predict(texts, directory=here):
    """One list of labels per text: every label whose probability reaches its threshold."""
    encoder, head = load(directory)
    # batch_size as Sieve embeds (padding differs per batch, and a probability can sit on its threshold)
    x = encoder.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True).astype(np.float64)
    z = x @ np.asarray(head["coef"]).T + np.asarray(head["intercept"])
    probs = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    keep = probs >= np.asarray(head["thresholds"])
    return [[c for c, k in zip(head["classes"], row) if k] for row in keep]


if __name__ == "__main__":
    import sys
    for labels in predict(sys.argv[1:]):
        print(json.dumps(labels))
'''


def export_model(db, version: dict, out_dir: Path) -> Path:
    enc = store.encoder(db, version["encoder_id"])
    out_dir.mkdir(parents=True, exist_ok=True)
    body = embeddings.open_encoder(enc["model"])  # a fresh copy: saving must not touch the cached one
    body.save(str(out_dir / "encoder"), safe_serialization=True)
    model = ml.MultiLabelHead.load(Path(version["path"]))
    model.save(out_dir)
    (out_dir / "classes.json").write_text(json.dumps(model.classes, ensure_ascii=False))
    (out_dir / "predict.py").write_text(LOADER)
    (out_dir / "README.md").write_text(model_card(db, version, model))
    return out_dir


def _ci(m: dict, key: str) -> str:
    if key not in m:
        return "not measured (no labeled eval texts)"
    low, high = m.get(key + "_ci", [None, None])
    return f"{m[key]:.3f}" + (f" (95 % bootstrap CI {low:.3f}–{high:.3f})" if low is not None else "")


def model_card(db, version: dict, model: ml.MultiLabelHead) -> str:
    import html

    m = version["metrics"]
    rows = ["| label | threshold | eval F1 (95 % CI) | eval texts |", "|---|---|---|---|"]
    per = {r["label"]: r for r in m.get("eval_per_label", [])}
    for name, t in zip(model.classes, model.thresholds):
        r = per.get(name)
        cell = f"{r['f1']:.3f} ({r['ci'][0]:.3f}–{r['ci'][1]:.3f})" if r and r["support"] else "–"
        rows.append(f"| {html.escape(name).replace('|', chr(92) + '|')} | {t:.2f} | {cell} | {r['support'] if r else 0} |")
    return "\n".join([
        "---", "library_name: sentence-transformers", "pipeline_tag: text-classification", "---", "",
        f"# Sieve multi-label model: version {version['number']}", "",
        f"- Labels: {len(model.classes)}; texts trained on: {version['n_labels']}",
        "- Model: one logistic regression per label (one-vs-rest, balanced) on the encoder's normalised "
        "embeddings; each label's threshold was tuned by 5-fold cross-validation on the training labels "
        "(never on the eval sample below).", "",
        "## Evaluation (the project's random eval sample)", "",
        f"- Micro-F1: {_ci(m, 'eval_micro_f1')}", f"- Macro-F1: {_ci(m, 'eval_macro_f1')}",
        f"- Hamming loss: {_ci(m, 'eval_hamming_loss')}", f"- Subset accuracy: {_ci(m, 'eval_subset_accuracy')}",
        f"- Eval texts: {m.get('eval_n', 0)}", "", *rows, "",
        "## Load it without Sieve", "",
        "Needs `numpy` and `sentence-transformers`. `python predict.py \"some text\"` prints the labels, or:", "",
        "```python", LOADER.split("\n\nif __name__")[0], "```", "",
    ])


def predict_sets(db, version: dict, texts: list[str]) -> list[list[str]]:
    """The app's label sets for new texts with a multi-label version (the worker's path: embed
    with the version's encoder, then the head and its thresholds)."""
    enc = store.encoder(db, version["encoder_id"])
    model = ml.MultiLabelHead.load(Path(version["path"]))
    vectors = embeddings.encode(embeddings.load_encoder(enc["model"]), texts)
    return [[model.classes[j] for j in row.nonzero()[0]] for row in model.predict(vectors)]
