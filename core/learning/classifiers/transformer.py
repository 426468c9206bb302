"""Full fine-tuning of a transformer encoder with a sequence-classification head.

AdamW with weight decay on everything but biases and LayerNorm weights, linear warmup then
linear decay, mixed precision on GPU (bf16 where supported, else fp16 with loss scaling),
optional frozen encoder, and the layer-specific fine-tuning of Howard & Ruder (ACL 2018,
ULMFiT) as small-text's FineTuningArguments offers it:
  - layerwise gradient decay: layer l (counted from the top) learns at lr * decay**l;
  - gradual unfreezing: only the head trains in the first epoch, then one more encoder layer
    from the top per epoch, the embeddings last.
Early stopping watches the loss on a held-back slice of the labels; class weights counter
imbalance. The export is a plain transformers directory: `pipeline("text-classification",
model=dir)` loads it and returns class names.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from core import config
from core.learning import embeddings
from core.learning.classifiers.protocol import FamilyArguments, Progress, TimeBudget, TrainingInfo, step_message

FAMILY = "transformer"
MULTI_LABEL = "multi_label_classification"  # transformers' problem_type for label sets


@dataclass
class TransformerArguments(FamilyArguments):
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    num_epochs: int = 5
    batch_size: int = 16
    max_length: int = 128
    warmup_ratio: float = 0.1
    freeze_encoder: bool = False  # train only the classification head
    layerwise_gradient_decay: float | None = None  # e.g. 0.9; None: one learning rate
    gradual_unfreezing: bool = False
    early_stopping_patience: int = 2  # epochs without a better held-back loss; 0: off
    validation_fraction: float = 0.1  # held back for early stopping (needs >= 20 labels)
    class_weight: str | None = "balanced"
    seed: int = 0

    def __post_init__(self):
        if self.layerwise_gradient_decay is not None and not 0 < self.layerwise_gradient_decay <= 1:
            raise ValueError("layerwise_gradient_decay must be in (0, 1].")
        if self.freeze_encoder and self.gradual_unfreezing:
            raise ValueError("freeze_encoder and gradual_unfreezing exclude each other.")
        if self.num_epochs < 1 or self.batch_size < 1 or self.max_length < 8:
            raise ValueError("num_epochs and batch_size must be at least 1, max_length at least 8.")


@dataclass
class TrainedTransformer:
    model: object
    tokenizer: object
    max_length: int
    info: TrainingInfo = field(default_factory=TrainingInfo)  # history: one entry per epoch

    @property
    def device(self) -> str:
        return self.info.device

    @property
    def multilabel(self) -> bool:
        """Trained with problem_type="multi_label_classification": one sigmoid per label (BCE)."""
        return getattr(self.model.config, "problem_type", None) == MULTI_LABEL

    def embed_and_score(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Mean-pooled, normalised last hidden states (for diversity and head refits) and class probabilities."""
        import torch

        self.model.eval()
        vectors, probs = [], []
        order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
        dtype = embeddings.autocast_dtype(self.device)
        for start in range(0, len(texts), batch_size):
            batch = [texts[i] for i in order[start:start + batch_size]]
            encoded = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.device)
            with torch.inference_mode(), torch.autocast(self.device, dtype=dtype, enabled=dtype is not None):
                output = self.model(**encoded, output_hidden_states=True)
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            pooled = (output.hidden_states[-1].float() * mask).sum(1) / mask.sum(1).clamp(min=1)
            vectors.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
            logits = output.logits.float()
            probs.append((torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)).cpu().numpy())
        inverse = np.argsort(order)
        return np.concatenate(vectors)[inverse].astype(np.float32), np.concatenate(probs)[inverse].astype(np.float32)

    def save(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(out_dir))
        self.tokenizer.save_pretrained(str(out_dir))

    def fast_head(self):
        return None  # its own classification head scores; a head refit uses its embeddings

    def continuation(self):
        return None  # every retrain starts from the base model


def layer_groups(model) -> list[tuple[str, list]]:
    """Parameter groups from the bottom up: embeddings, each encoder layer, then the head.

    Works for BERT-like encoders (BERT, RoBERTa, MiniLM, DistilBERT, ...): the encoder's layers
    are the ModuleList inside the base model whose length is the number of hidden layers.
    """
    import torch

    base = model.base_model
    n_layers = model.config.num_hidden_layers
    layers = next(m for m in base.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n_layers)
    in_layers = {id(p) for p in layers.parameters()}
    embedding_params = [p for name, p in base.named_parameters() if "embeddings" in name and id(p) not in in_layers]
    grouped = {id(p) for p in embedding_params} | in_layers
    head = [p for p in model.parameters() if id(p) not in grouped]
    return ([("embeddings", embedding_params)]
            + [(f"layer_{i}", list(layer.parameters())) for i, layer in enumerate(layers)]
            + [("head", head)])


def _no_decay(name: str) -> bool:
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name


def _param_groups(model, groups, args: TransformerArguments) -> list[dict]:
    """AdamW groups: per layer (for layerwise decay) and split by weight decay (none on biases/LayerNorm)."""
    names = {id(p): n for n, p in model.named_parameters()}
    depth = len(groups) - 1  # the head is at depth 0
    out = []
    for index, (group, params) in enumerate(groups):
        scale = args.layerwise_gradient_decay ** (depth - index) if args.layerwise_gradient_decay else 1.0
        for decay in (True, False):
            chosen = [p for p in params if _no_decay(names[id(p)]) != decay]
            if chosen:
                out.append({"params": chosen, "lr": args.learning_rate * scale, "group": group,
                            "weight_decay": args.weight_decay if decay else 0.0})
    return out


def _trainable_groups(groups, args: TransformerArguments, epoch: int) -> set[str]:
    names = [g for g, _ in groups]
    if args.freeze_encoder:
        return {"head"}
    if not args.gradual_unfreezing:
        return set(names)
    layers_from_top = [g for g in reversed(names) if g != "head"]  # top layer first, embeddings last
    return {"head", *layers_from_top[:epoch]}


def _split(label_ids: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / held-back rows; no hold-out when there are too few labels."""
    rows = np.arange(len(label_ids))
    counts = np.bincount(label_ids)
    if fraction <= 0 or len(label_ids) < 20 or counts[counts > 0].min() < 2:
        return rows, rows[:0]
    rng = np.random.default_rng(seed)
    held = [rng.permutation(np.flatnonzero(label_ids == c))[: max(1, int(round(fraction * (label_ids == c).sum())))]
            for c in np.unique(label_ids) if (label_ids == c).sum() >= 2]
    held = np.concatenate(held)
    return np.setdiff1d(rows, held), held


def train(model_name: str | None, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
          args: TransformerArguments | None = None,
          progress: Progress | None = None, budget: TimeBudget | None = None) -> TrainedTransformer:
    import torch

    args = args or TransformerArguments()
    torch.manual_seed(args.seed)  # before loading: it initialises the classification head
    on = embeddings.device()
    tokenizer, model = _load_for_classification(model_name, class_names, on)
    y = np.asarray(label_ids, dtype=np.int64)
    train_rows, held_rows = _split(y, args.validation_fraction, args.seed)
    weights = _class_weights(y[train_rows], len(class_names), on) if args.class_weight == "balanced" else None
    run = _Run(model, tokenizer, texts, y, args, on, weights, len(train_rows), progress, budget)
    history: list[dict] = []
    best = _BestOnHeldBack()
    started = time.perf_counter()
    for epoch in range(args.num_epochs):
        entry = run.epoch(train_rows, epoch)
        if len(held_rows):
            entry["held_loss"] = run.held_loss(held_rows)
            best.update(entry["held_loss"], model)
        history.append(entry)
        if run.out_of_time:
            entry["stopped_at_budget"] = True
            break
        if args.early_stopping_patience and len(held_rows) and best.stale >= args.early_stopping_patience:
            entry["early_stop"] = True
            break
    best.restore(model)
    for p in model.parameters():
        p.requires_grad_(True)
    info = TrainingInfo(steps=run.step, seconds=time.perf_counter() - started, device=on,
                        precision=embeddings.precision_name(run.dtype), history=history,
                        stopped_at_budget=run.out_of_time)
    return TrainedTransformer(model, tokenizer, args.max_length, info)


def _load_for_classification(model_name: str | None, class_names: list[str], on: str, problem_type: str | None = None):
    """(tokenizer, model): the encoder with a new sequence-classification head over `class_names`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = config.resolve_model(model_name)
    embeddings.check_model_dir(path)  # safetensors weights only: a pickle could run code
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, use_safetensors=True, num_labels=len(class_names), id2label=dict(enumerate(class_names)),
        label2id={name: i for i, name in enumerate(class_names)},
        **({"problem_type": problem_type} if problem_type else {})).to(on)
    return tokenizer, model


def _class_weights(y_train: np.ndarray, n_classes: int, on: str):
    """Balanced class weights for the loss (n / (classes * count)), 0 for a class without labels."""
    import torch

    counts = np.bincount(y_train, minlength=n_classes).astype(np.float32)
    return torch.tensor(np.where(counts > 0, len(y_train) / (n_classes * np.maximum(counts, 1)), 0.0),
                        dtype=torch.float32, device=on)


class _Run:
    """One fine-tuning run: the loss, AdamW over the layer groups, the warmup-then-decay schedule,
    mixed precision, and the step count against the budget."""

    def __init__(self, model, tokenizer, texts: Sequence[str], y: np.ndarray, args: TransformerArguments, on: str,
                 weights, n_train: int, progress: Progress | None, budget: TimeBudget | None, loss_fn=None):
        import torch
        from transformers import get_linear_schedule_with_warmup

        self.model, self.tokenizer, self.texts, self.y, self.args, self.on = model, tokenizer, texts, y, args, on
        self.progress, self.budget = progress, budget
        self.loss_fn = loss_fn if loss_fn is not None else torch.nn.CrossEntropyLoss(weight=weights)
        self.groups = layer_groups(model)
        self.optimizer = torch.optim.AdamW(_param_groups(model, self.groups, args))
        self.total = (n_train + args.batch_size - 1) // args.batch_size * args.num_epochs
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, int(args.warmup_ratio * self.total),
                                                         self.total)
        self.dtype = embeddings.autocast_dtype(on)
        self.scaler = torch.amp.GradScaler("cuda", enabled=on == "cuda" and self.dtype == torch.float16)
        self.step = 0
        self.out_of_time = False  # the budget ended training before its step count

    def batches(self, rows: np.ndarray, epoch: int | None = None):
        """Tokenised batches; shuffled with a seed per epoch when `epoch` is given."""
        import torch

        args = self.args
        rows = np.random.default_rng(args.seed + epoch).permutation(rows) if epoch is not None else rows
        for start in range(0, len(rows), args.batch_size):
            chunk = rows[start:start + args.batch_size]
            encoded = self.tokenizer([self.texts[i] for i in chunk], padding=True, truncation=True,
                                     max_length=args.max_length, return_tensors="pt").to(self.on)
            yield encoded, torch.as_tensor(self.y[chunk], device=self.on)  # int64 classes, or float32 0/1 label sets

    def _unfreeze(self, epoch: int) -> set[str]:
        """Let gradients reach only this epoch's trainable groups (frozen encoder, gradual unfreezing)."""
        trainable = _trainable_groups(self.groups, self.args, epoch)
        for group, params in self.groups:
            for p in params:
                p.requires_grad_(group in trainable)
        return trainable

    def epoch(self, train_rows: np.ndarray, epoch: int) -> dict:
        """One epoch over the training rows (cut short when the budget is spent); its history entry."""
        import torch

        trainable = self._unfreeze(epoch)
        with_grad: set[str] = set()
        self.model.train()
        losses = []
        for encoded, target in self.batches(train_rows, epoch):
            with torch.autocast(self.on, dtype=self.dtype, enabled=self.dtype is not None):
                loss = self.loss_fn(self.model(**encoded).logits.float(), target)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            with_grad |= {group for group, params in self.groups
                          if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params)}
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            losses.append(float(loss.detach()))
            self.step += 1
            if self.progress:
                self.progress(self.step / self.total, f"epoch {epoch + 1} of {self.args.num_epochs}, "
                              + step_message(self.step, self.total, self.budget))
            if self.budget is not None and self.budget.expired() and self.step < self.total:
                self.out_of_time = True  # the rest of this epoch and later ones are skipped
                break
        return {"epoch": epoch, "trainable": sorted(trainable), "with_grad": sorted(with_grad),
                "lr": {g["group"]: g["lr"] for g in self.optimizer.param_groups},
                "train_loss": float(np.mean(losses))}

    def held_loss(self, held_rows: np.ndarray) -> float:
        """The mean loss on the held-back labels (for early stopping)."""
        import torch

        self.model.eval()
        with torch.inference_mode():
            return float(np.mean([float(self.loss_fn(self.model(**encoded).logits.float(), target))
                                  for encoded, target in self.batches(held_rows)]))


class _BestOnHeldBack:
    """Early stopping: the weights with the lowest held-back loss, and the epochs since it last improved."""

    def __init__(self):
        self.loss, self.state, self.stale = float("inf"), None, 0

    def update(self, loss: float, model) -> None:
        if loss < self.loss - 1e-4:
            self.loss, self.state, self.stale = loss, copy.deepcopy(model.state_dict()), 0
        else:
            self.stale += 1

    def restore(self, model) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def train_multilabel(model_name: str | None, texts: Sequence[str], Y: np.ndarray, class_names: list[str],
                     args: TransformerArguments | None = None, progress: Progress | None = None,
                     budget: TimeBudget | None = None, held_rows: np.ndarray | None = None) -> TrainedTransformer:
    """Fine-tune on label sets (texts x labels 0/1): problem_type="multi_label_classification", so
    the model has one sigmoid per label and trains with binary cross-entropy (BCEWithLogitsLoss;
    with `class_weight="balanced"` each label's positives weigh negatives/positives, at most 10).
    `held_rows` (never trained on) drive early stopping; the caller tunes thresholds on them."""
    import torch

    args = args or TransformerArguments()
    torch.manual_seed(args.seed)
    on = embeddings.device()
    tokenizer, model = _load_for_classification(model_name, class_names, on, problem_type=MULTI_LABEL)
    Y = np.asarray(Y, dtype=np.float32)
    held_rows = np.zeros(0, dtype=np.int64) if held_rows is None else np.asarray(held_rows, dtype=np.int64)
    train_rows = np.setdiff1d(np.arange(len(Y)), held_rows)
    pos_weight = None
    if args.class_weight == "balanced":
        positives = Y[train_rows].sum(0)
        ratio = np.where(positives > 0, (len(train_rows) - positives) / np.maximum(positives, 1), 1.0)
        pos_weight = torch.tensor(np.clip(ratio, 1.0, 10.0), dtype=torch.float32, device=on)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    run = _Run(model, tokenizer, texts, Y, args, on, None, len(train_rows), progress, budget, loss_fn=loss_fn)
    history: list[dict] = []
    best = _BestOnHeldBack()
    started = time.perf_counter()
    for epoch in range(args.num_epochs):
        entry = run.epoch(train_rows, epoch)
        if len(held_rows):
            entry["held_loss"] = run.held_loss(held_rows)
            best.update(entry["held_loss"], model)
        history.append(entry)
        if run.out_of_time:
            entry["stopped_at_budget"] = True
            break
        if args.early_stopping_patience and len(held_rows) and best.stale >= args.early_stopping_patience:
            entry["early_stop"] = True
            break
    best.restore(model)
    info = TrainingInfo(steps=run.step, seconds=time.perf_counter() - started, device=on,
                        precision=embeddings.precision_name(run.dtype), history=history,
                        stopped_at_budget=run.out_of_time)
    return TrainedTransformer(model, tokenizer, args.max_length, info)


# Measured by bench/train_speed.py on the 2-core CPU (MiniLM, bf16): seconds per example and epoch
# at 128 tokens, and seconds per text to score the pool.
CPU_TRAIN_S_PER_EXAMPLE = 0.03
CPU_SCORE_S_PER_TEXT = 0.004


def estimate_seconds(n_labels: int, n_texts: int, args: TransformerArguments, device: str) -> float:
    """A rough time for one retrain: training epochs plus scoring the pool (CPU figures; GPUs are far faster)."""
    scale = args.max_length / 128 * (0.3 if args.freeze_encoder else 1.0)
    seconds = n_labels * args.num_epochs * CPU_TRAIN_S_PER_EXAMPLE * scale + n_texts * CPU_SCORE_S_PER_TEXT
    return seconds if device == "cpu" else seconds / 20


def load(path: Path) -> TrainedTransformer:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    on = embeddings.device()
    embeddings.check_model_dir(path)
    model = AutoModelForSequenceClassification.from_pretrained(str(path), use_safetensors=True).to(on)
    max_length = 128
    if (Path(path) / "multilabel.json").exists():  # a multi-label one scores at the length it trained at
        import json

        max_length = int(json.loads((Path(path) / "multilabel.json").read_text())["max_length"])
    return TrainedTransformer(model, AutoTokenizer.from_pretrained(str(path)), max_length, TrainingInfo(device=on))
