"""Exporting a multi-label version (issue 21): the encoder (sentence-transformers, safetensors),
the one-vs-rest head with its per-label thresholds as JSON, a loader script and a model card.

Loading outside Sieve takes numpy and sentence-transformers only, and gives the label sets the
app gives: embed with `normalize_embeddings=True`, sigmoid of each label's linear score, keep
the labels whose probability reaches their threshold (the code is in the card and `predict.py`).
A SetFit full retrain exports the same way, its fine-tuned encoder in `encoder/`.

A version on a fine-tuned transformer (problem_type="multi_label_classification") exports a
transformers directory with `multilabel.json` (classes, thresholds, max_length) and a
`predict.py` that needs numpy, torch and transformers: the transformer's own sigmoid head for
its full version, or, for a head refitted on its embeddings, the mean-pooled normalised last
hidden state through `head_multilabel.json`, computed as Sieve computes it.
"""
from __future__ import annotations

import json
from pathlib import Path

from core import store
from core.learning import embeddings
from core.learning import multilabel as ml
from core.learning import multilabel_chain as mc

LOADER = '''import json
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

here = Path(__file__).resolve().parent if "__file__" in globals() else Path(".")


def load(directory=here):
    directory = Path(directory)
    chain = directory / "head_multilabel_chain.json"  # a classifier chain, else one-vs-rest heads
    head = json.loads((chain if chain.exists() else directory / "head_multilabel.json").read_text())
    encoder = SentenceTransformer(str(directory / "encoder"), model_kwargs={"use_safetensors": True})
    return encoder, head


def decide(z, head):
    """Labels kept per text from the linear scores z; in a classifier chain label j also adds
    chain[j][k] for every earlier label k already kept."""
    thresholds = np.asarray(head["thresholds"])
    if "chain" not in head:
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40))) >= thresholds
    chain = np.asarray(head["chain"])
    keep = np.zeros(z.shape, dtype=bool)
    for j in range(z.shape[1]):
        zj = z[:, j] + keep[:, :j].astype(np.float64) @ chain[j, :j]
        keep[:, j] = 1.0 / (1.0 + np.exp(-np.clip(zj, -40, 40))) >= thresholds[j]
    return keep


def predict(texts, directory=here):
    """One list of labels per text: every label whose probability reaches its threshold."""
    encoder, head = load(directory)
    # batch_size as Sieve embeds (padding differs per batch, and a probability can sit on its threshold)
    x = encoder.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True).astype(np.float64)
    z = x @ np.asarray(head["coef"]).T + np.asarray(head["intercept"])
    keep = decide(z, head)
    return [[c for c, k in zip(head["classes"], row) if k] for row in keep]


if __name__ == "__main__":
    import sys
    for labels in predict(sys.argv[1:]):
        print(json.dumps(labels))
'''


TRANSFORMER_LOADER = '''import json
import os
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

here = Path(__file__).resolve().parent if "__file__" in globals() else Path(".")


def autocast_dtype(device):
    """The precision Sieve scores in: bf16 on CPUs with AVX-512 BF16 or AMX, bf16 (else fp16) on CUDA."""
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if os.environ.get("SIEVE_BF16", "auto") == "0":
        return None
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return torch.bfloat16 if "avx512_bf16" in flags or "amx_bf16" in flags else None


def load(directory=here):
    directory = Path(directory)
    meta = json.loads((directory / "multilabel.json").read_text())
    head = None  # present when heads on its embeddings predict: a classifier chain, or one-vs-rest
    for name in ("head_multilabel_chain.json", "head_multilabel.json"):
        if (directory / name).exists():
            head = json.loads((directory / name).read_text())
            break
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = AutoModelForSequenceClassification.from_pretrained(str(directory), use_safetensors=True).to(device).eval()
    return tokenizer, model, meta, head


def predict(texts, directory=here, batch_size=64):
    """One list of labels per text: every label whose probability reaches its threshold."""
    tokenizer, model, meta, head = load(directory)
    texts = list(texts)
    dtype = autocast_dtype(model.device.type)
    order = np.argsort([len(t) for t in texts])  # batches of similar length, as Sieve scores
    classes = head["classes"] if head else meta["classes"]
    probs = np.zeros((len(texts), len(classes)))  # the transformer's own head; else the heads' linear scores
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        encoded = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=meta["max_length"],
                            return_tensors="pt").to(model.device)
        with torch.inference_mode(), torch.autocast(model.device.type, dtype=dtype, enabled=dtype is not None):
            output = model(**encoded, output_hidden_states=True)
        if head is None:  # the transformer's own head: one sigmoid per label
            probs[rows] = torch.sigmoid(output.logits.float()).cpu().numpy()
        else:  # mean-pooled, normalised last hidden state, then one logistic regression per label
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            pooled = (output.hidden_states[-1].float() * mask).sum(1) / mask.sum(1).clamp(min=1)
            x = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy().astype(np.float32).astype(np.float64)
            probs[rows] = x @ np.asarray(head["coef"]).T + np.asarray(head["intercept"])
    if head is None:
        keep = probs.astype(np.float32).astype(np.float64) >= np.asarray(meta["thresholds"])
    else:
        keep = decide(probs, head)
    return [[c for c, k in zip(classes, row) if k] for row in keep]


def decide(z, head):
    """Labels kept per text from the heads' linear scores z; in a classifier chain label j also
    adds chain[j][k] for every earlier label k already kept."""
    thresholds = np.asarray(head["thresholds"])
    chain = np.asarray(head["chain"]) if "chain" in head else None
    keep = np.zeros(z.shape, dtype=bool)
    for j in range(z.shape[1]):
        zj = z[:, j] + (keep[:, :j].astype(np.float64) @ chain[j, :j] if chain is not None else 0.0)
        keep[:, j] = 1.0 / (1.0 + np.exp(-np.clip(zj, -40, 40))) >= thresholds[j]
    return keep


if __name__ == "__main__":
    import sys
    for labels in predict(sys.argv[1:]):
        print(json.dumps(labels))
'''


def _version_thresholds(version: dict):
    import numpy as np

    return np.asarray(json.loads((Path(version["path"]) / "thresholds.json").read_text()), dtype=float)


def _is_transformer(enc: dict) -> bool:
    return enc["family"] == "transformer"


def export_model(db, version: dict, out_dir: Path) -> Path:
    enc = store.encoder(db, version["encoder_id"])
    out_dir.mkdir(parents=True, exist_ok=True)
    if _is_transformer(enc):
        return _export_transformer(db, version, enc, out_dir)
    body = embeddings.open_encoder(enc["model"])  # a fresh copy: saving must not touch the cached one
    body.save(str(out_dir / "encoder"), safe_serialization=True)
    model = mc.load_head(Path(version["path"]))
    model.save(out_dir)
    (out_dir / "classes.json").write_text(json.dumps(model.classes, ensure_ascii=False))
    (out_dir / "predict.py").write_text(LOADER)
    (out_dir / "README.md").write_text(model_card(db, version, model.classes, model.thresholds))
    return out_dir


def _export_transformer(db, version: dict, enc: dict, out_dir: Path) -> Path:
    import shutil

    from core.learning import multilabel_full

    shutil.copytree(enc["model"], out_dir, dirs_exist_ok=True)
    meta = json.loads((Path(enc["model"]) / multilabel_full.TRANSFORMER_JSON).read_text())
    classes = json.loads((Path(version["path"]) / "classes.json").read_text())
    thresholds = _version_thresholds(version)
    for name in (ml.HEAD_JSON, mc.HEAD_CHAIN_JSON):  # heads refitted on the transformer's embeddings
        if (Path(version["path"]) / name).exists():
            shutil.copyfile(Path(version["path"]) / name, out_dir / name)
        else:
            (out_dir / name).unlink(missing_ok=True)
    (out_dir / multilabel_full.TRANSFORMER_JSON).write_text(json.dumps(
        {**meta, "classes": classes, "thresholds": thresholds.tolist()}, ensure_ascii=False))
    (out_dir / "classes.json").write_text(json.dumps(classes, ensure_ascii=False))
    (out_dir / "predict.py").write_text(TRANSFORMER_LOADER)
    (out_dir / "README.md").write_text(model_card(db, version, classes, thresholds, transformer=True))
    return out_dir


def _ci(m: dict, key: str) -> str:
    if key not in m:
        return "not measured (no labeled eval texts)"
    low, high = m.get(key + "_ci", [None, None])
    return f"{m[key]:.3f}" + (f" (95 % bootstrap CI {low:.3f}–{high:.3f})" if low is not None else "")


def describe_model(version: dict, transformer: bool) -> str:
    """The card's line on what the model is and where its thresholds come from."""
    p, m = version["params"], version["metrics"]
    tuned = m.get("thresholds_tuned_on", "5-fold cross-validation on the training labels")
    own_head = transformer and version["kind"] == store.JobKind.FULL
    if own_head:
        what = ("a transformer fine-tuned with problem_type=\"multi_label_classification\" (binary cross-entropy, "
                "one sigmoid per label)")
    else:
        what = "one logistic regression per label (one-vs-rest, balanced) on the encoder's normalised embeddings"
        if p.get("head", {}).get("kind", "").startswith("classifier-chain") \
                or p.get("multi_target_strategy") == "classifier-chain":
            what = ("a classifier chain: one logistic regression per label (balanced) on the encoder's normalised "
                    "embeddings and the decisions on the labels before it, in the order of the classes")
        if version["kind"] == store.JobKind.FULL:
            from core.learning import multilabel_pairs

            rule = multilabel_pairs.WORDS.get(p.get("pair_rule", "shared"), p.get("pair_rule"))
            what += (f", the encoder fine-tuned with SetFit's contrastive loss (positive pairs: {rule}; "
                     f"multi_target_strategy {p.get('multi_target_strategy', 'one-vs-rest')})")
        elif transformer:
            what += ", the encoder a fine-tuned transformer (mean-pooled last hidden state)"
    return f"- Model: {what}; each label's threshold was tuned on {tuned} (never on the eval sample below)."


def model_card(db, version: dict, classes: list[str], thresholds, transformer: bool = False) -> str:
    import html

    m = version["metrics"]
    rows = ["| label | threshold | eval F1 (95 % CI) | eval texts |", "|---|---|---|---|"]
    per = {r["label"]: r for r in m.get("eval_per_label", [])}
    for name, t in zip(classes, thresholds):
        r = per.get(name)
        cell = f"{r['f1']:.3f} ({r['ci'][0]:.3f}–{r['ci'][1]:.3f})" if r and r["support"] else "–"
        rows.append(f"| {html.escape(name).replace('|', chr(92) + '|')} | {t:.2f} | {cell} | {r['support'] if r else 0} |")
    loader, needs = (TRANSFORMER_LOADER, "`numpy`, `torch` and `transformers`") if transformer else \
        (LOADER, "`numpy` and `sentence-transformers`")
    return "\n".join([
        "---", f"library_name: {'transformers' if transformer else 'sentence-transformers'}",
        "pipeline_tag: text-classification", "---", "",
        f"# Sieve multi-label model: version {version['number']}", "",
        f"- Labels: {len(classes)}; texts trained on: {version['n_labels']}",
        describe_model(version, transformer), "",
        "## Evaluation (the project's random eval sample)", "",
        f"- Micro-F1: {_ci(m, 'eval_micro_f1')}", f"- Macro-F1: {_ci(m, 'eval_macro_f1')}",
        f"- Hamming loss: {_ci(m, 'eval_hamming_loss')}", f"- Subset accuracy: {_ci(m, 'eval_subset_accuracy')}",
        f"- Eval texts: {m.get('eval_n', 0)}", "", *rows, "",
        "## Load it without Sieve", "",
        f"Needs {needs}. `python predict.py \"some text\"` prints the labels, or:", "",
        "```python", loader.split("\n\nif __name__")[0], "```", "",
    ])


def predict_sets(db, version: dict, texts: list[str]) -> list[list[str]]:
    """The app's label sets for new texts with a multi-label version (the worker's path: embed
    with the version's encoder, then the head and its thresholds; a transformer's full version
    scores with its own head)."""
    enc = store.encoder(db, version["encoder_id"])
    if _is_transformer(enc):
        from core.learning import multilabel_full

        trained, _, _ = multilabel_full.load_transformer(Path(enc["model"]))
        vectors, probs = trained.embed_and_score(list(texts))
        if any((Path(version["path"]) / name).exists() for name in (ml.HEAD_JSON, mc.HEAD_CHAIN_JSON)):
            model = mc.load_head(Path(version["path"]))
            pred = model.predict(vectors)
            classes = model.classes
        else:
            classes = json.loads((Path(version["path"]) / "classes.json").read_text())
            pred = probs >= _version_thresholds(version)
        return [[classes[j] for j in row.nonzero()[0]] for row in pred]
    model = mc.load_head(Path(version["path"]))
    vectors = embeddings.encode(embeddings.load_encoder(enc["model"]), texts)
    return [[model.classes[j] for j in row.nonzero()[0]] for row in model.predict(vectors)]
