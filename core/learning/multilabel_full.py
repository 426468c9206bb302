"""Full retrains of a multi-label project (issue 21): a family fine-tunes the encoder on the
label sets, and each label's threshold is tuned on a held-back slice of the labels the model
never trained on (never on the eval sample).

Families:
  - `setfit`: contrastive fine-tuning on text pairs (`core.learning.multilabel_pairs`, by default
    texts that share a label are positives), then one logistic regression per label on the new
    embeddings (plain JSON) with the project's `multi_target_strategy`: "one-vs-rest" and
    "multi-output" both fit one independent balanced logistic regression per label
    (`core.learning.multilabel.MultiLabelHead`), as SetFit's OneVsRestClassifier and
    MultiOutputClassifier do around the same LogisticRegression, so for this head they are the
    same model; "classifier-chain" lets each label also read the decisions on the labels before
    it (`core.learning.multilabel_chain`). The head refits between retrains follow the same setting;
  - `transformer`: sequence classification with problem_type="multi_label_classification"
    (binary cross-entropy, one sigmoid per label); its own head predicts.

The held-back slice: HOLD_BACK of the labeled texts (at least MIN_HELD), once there are
MIN_TO_HOLD_BACK; with fewer, thresholds stay 0.5. SetFit's head is refitted on every label
after the thresholds are tuned (the encoder never saw the held-back texts).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.learning import embeddings
from core.learning import multilabel as ml
from core.learning.classifiers.protocol import Progress, TimeBudget, TrainingInfo
from core.settings import MULTI_TARGET_STRATEGIES
from core.settings import MULTILABEL_FAMILIES as FAMILIES

DEFAULT_MULTI_TARGET_STRATEGY = MULTI_TARGET_STRATEGIES[0]
HOLD_BACK, MIN_HELD, MIN_TO_HOLD_BACK = 0.2, 10, 30
MIN_TEXTS = 8  # labeled texts before a multi-label full retrain
TRANSFORMER_JSON = "multilabel.json"  # classes, thresholds and max_length beside a transformer's files


def check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"The {family} family does not train multi-label models; choose "
                         f"{' or '.join(FAMILIES)} in Settings.")


def held_back(n: int, seed: int = 0) -> np.ndarray:
    """Bool mask of the labeled texts kept out of training to tune the thresholds on."""
    mask = np.zeros(n, dtype=bool)
    if n >= MIN_TO_HOLD_BACK:
        k = max(MIN_HELD, int(round(HOLD_BACK * n)))
        mask[np.random.default_rng(seed).permutation(n)[:k]] = True
    return mask


@dataclass
class TrainedMultiLabel:
    family: str
    classes: list[str]
    thresholds: np.ndarray
    info: TrainingInfo
    body: object | None = None  # setfit: the fine-tuned SentenceTransformer
    head: object | None = None  # setfit: ml.MultiLabelHead, or multilabel_chain.ChainHead
    transformer: object | None = None  # transformer: core.learning.classifiers.transformer.TrainedTransformer
    params: dict = field(default_factory=dict)

    def embed_and_score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(L2-normalised embeddings, texts x labels probabilities)."""
        if self.transformer is not None:
            return self.transformer.embed_and_score(list(texts))
        vectors = embeddings.encode(self.body, list(texts))
        return vectors, self.head.probabilities(vectors).astype(np.float32)

    @property
    def encoder_family(self) -> str:
        from core.learning import classifiers

        return classifiers.encoder_family(self.family)

    def save(self, out_dir: Path) -> None:
        """The encoder directory: a sentence-transformers model (setfit), or a transformers model with
        `multilabel.json` (transformer); both load from safetensors."""
        out_dir = Path(out_dir)
        if self.transformer is not None:
            self.transformer.save(out_dir)
            (out_dir / TRANSFORMER_JSON).write_text(json.dumps({
                "classes": list(self.classes), "thresholds": self.thresholds.tolist(),
                "max_length": int(self.transformer.max_length)}, ensure_ascii=False))
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.body.save(str(out_dir), safe_serialization=True)


def load_transformer(path: Path):
    """A multi-label transformer directory Sieve wrote: (TrainedTransformer, classes, thresholds)."""
    from core.learning.classifiers import transformer

    meta = json.loads((Path(path) / TRANSFORMER_JSON).read_text())
    return transformer.load(Path(path)), meta["classes"], np.asarray(meta["thresholds"], dtype=np.float64)


def train(family: str, model, texts: Sequence[str], Y: np.ndarray, classes: list[str], args,
          multi_target_strategy: str = DEFAULT_MULTI_TARGET_STRATEGY, progress: Progress | None = None,
          budget: TimeBudget | None = None, seed: int = 0) -> TrainedMultiLabel:
    """Train `family` from `model` on label sets `Y` (texts x labels 0/1), thresholds on a held-back slice."""
    check_family(family)
    if multi_target_strategy not in MULTI_TARGET_STRATEGIES:
        raise ValueError(f"Unknown multi_target_strategy {multi_target_strategy!r}; use one of "
                         f"{', '.join(MULTI_TARGET_STRATEGIES)}.")
    texts = list(texts)
    Y = np.asarray(Y, dtype=np.uint8)
    held = held_back(len(Y), seed)
    train_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    tuned_on = (f"a held-back slice of {len(held_rows)} labeled pool texts the model never trained on"
                if len(held_rows) else "none (too few labels to hold some back): 0.5 for every label")
    params = {"multi_target_strategy": multi_target_strategy if family == "setfit" else None,
              "held_back": len(held_rows), "thresholds_tuned_on": tuned_on}
    if family == "setfit":
        from core.learning.classifiers import setfit_family

        body, info = setfit_family.train_body_multilabel(model, [texts[i] for i in train_rows], Y[train_rows],
                                                         args, progress, budget)
        X = embeddings.encode(body, texts)
        thresholds = np.full(Y.shape[1], 0.5)
        if multi_target_strategy == "classifier-chain":
            from core.learning import multilabel_chain as mc

            if len(held_rows):
                coef, chain, intercept = mc.fit_weights(X[train_rows], Y[train_rows])
                thresholds = mc.tune_in_order(X[held_rows].astype(np.float64) @ coef.T + intercept, chain,
                                              Y[held_rows])
            coef, chain, intercept = mc.fit_weights(X, Y)
            head = mc.ChainHead(list(classes), coef, chain, intercept, thresholds)
            params["pair_rule"] = args.pair_rule
            return TrainedMultiLabel(family, list(classes), thresholds, info, body=body, head=head, params=params)
        if len(held_rows):
            coef, intercept = ml.fit_weights(X[train_rows], Y[train_rows])
            thresholds = ml.tune_thresholds(ml.sigmoid(X[held_rows].astype(np.float64) @ coef.T + intercept),
                                            Y[held_rows])
        coef, intercept = ml.fit_weights(X, Y)  # every label, with the thresholds from the held-back slice
        head = ml.MultiLabelHead(list(classes), coef, intercept, thresholds)
        params["pair_rule"] = args.pair_rule
        return TrainedMultiLabel(family, list(classes), thresholds, info, body=body, head=head, params=params)
    from core.learning.classifiers import transformer

    trained = transformer.train_multilabel(model, texts, Y, list(classes), args, progress, budget, held_rows)
    thresholds = np.full(Y.shape[1], 0.5)
    if len(held_rows):
        _, probs = trained.embed_and_score([texts[i] for i in held_rows])
        thresholds = ml.tune_thresholds(probs, Y[held_rows])
    return TrainedMultiLabel(family, list(classes), thresholds, trained.info, transformer=trained, params=params)


def describe_version(version: dict) -> tuple[str, str]:
    """(what the version is, where its thresholds come from), in a user's words (Model page)."""
    p = version["params"]
    if version["kind"] != "full":
        what = "a classifier chain" if p.get("head", {}).get("kind", "").startswith("classifier-chain") \
            else "one-vs-rest heads"
    elif p.get("family") == "transformer":
        what = "a fine-tuned transformer (one sigmoid per label)"
    else:
        from core.learning import multilabel_pairs

        heads = "a classifier chain" if p.get("multi_target_strategy") == "classifier-chain" else "one-vs-rest heads"
        rule = multilabel_pairs.WORDS.get(p.get("pair_rule", "shared"), "pairs of texts")
        what = f"SetFit: the encoder fine-tuned on pairs of {rule}, then {heads}"
    tuned = version["metrics"].get("thresholds_tuned_on", "out-of-fold probabilities of the labeled pool texts")
    return what, f"Thresholds were tuned on {tuned}, never on the eval sample."
