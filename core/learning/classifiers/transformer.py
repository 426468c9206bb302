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
            probs.append(torch.softmax(output.logits.float(), dim=-1).cpu().numpy())
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
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    args = args or TransformerArguments()
    torch.manual_seed(args.seed)
    on = embeddings.device()
    path = config.resolve_model(model_name)
    embeddings.check_model_dir(path)  # safetensors weights only: a pickle could run code
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, use_safetensors=True, num_labels=len(class_names), id2label=dict(enumerate(class_names)),
        label2id={name: i for i, name in enumerate(class_names)}).to(on)
    y = np.asarray(label_ids, dtype=np.int64)
    train_rows, held_rows = _split(y, args.validation_fraction, args.seed)
    weights = None
    if args.class_weight == "balanced":
        counts = np.bincount(y[train_rows], minlength=len(class_names)).astype(np.float32)
        weights = torch.tensor(np.where(counts > 0, len(train_rows) / (len(class_names) * np.maximum(counts, 1)), 0.0),
                               dtype=torch.float32, device=on)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    groups = layer_groups(model)
    optimizer = torch.optim.AdamW(_param_groups(model, groups, args))
    steps_per_epoch = (len(train_rows) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.num_epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total), total)
    dtype = embeddings.autocast_dtype(on)
    scaler = torch.amp.GradScaler("cuda", enabled=on == "cuda" and dtype == torch.float16)

    def batches(rows, epoch: int | None = None):
        """Tokenised batches; shuffled with a seed per epoch when `epoch` is given."""
        rows = np.random.default_rng(args.seed + epoch).permutation(rows) if epoch is not None else rows
        for start in range(0, len(rows), args.batch_size):
            chunk = rows[start:start + args.batch_size]
            encoded = tokenizer([texts[i] for i in chunk], padding=True, truncation=True, max_length=args.max_length,
                                return_tensors="pt").to(on)
            yield encoded, torch.as_tensor(y[chunk], device=on)

    history: list[dict] = []
    best_loss, best_state, stale, step, out_of_time = float("inf"), None, 0, 0, False
    started = time.perf_counter()
    for epoch in range(args.num_epochs):
        trainable = _trainable_groups(groups, args, epoch)
        for group, params in groups:
            for p in params:
                p.requires_grad_(group in trainable)
        with_grad: set[str] = set()
        model.train()
        losses = []
        for encoded, target in batches(train_rows, epoch):
            with torch.autocast(on, dtype=dtype, enabled=dtype is not None):
                loss = loss_fn(model(**encoded).logits.float(), target)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            for group, params in groups:
                if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params):
                    with_grad.add(group)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            if progress:
                progress(step / total, f"epoch {epoch + 1} of {args.num_epochs}, " + step_message(step, total, budget))
            if budget is not None and budget.expired() and step < total:
                out_of_time = True  # the rest of this epoch and later ones are skipped
                break
        entry = {"epoch": epoch, "trainable": sorted(trainable), "with_grad": sorted(with_grad),
                 "lr": {g["group"]: g["lr"] for g in optimizer.param_groups}, "train_loss": float(np.mean(losses))}
        if len(held_rows):
            model.eval()
            with torch.inference_mode():
                held_losses = [float(loss_fn(model(**encoded).logits.float(), target))
                               for encoded, target in batches(held_rows)]
            entry["held_loss"] = float(np.mean(held_losses))
            if entry["held_loss"] < best_loss - 1e-4:
                best_loss, best_state, stale = entry["held_loss"], copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
        history.append(entry)
        if out_of_time:
            entry["stopped_at_budget"] = True
            break
        if args.early_stopping_patience and len(held_rows) and stale >= args.early_stopping_patience:
            entry["early_stop"] = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    for p in model.parameters():
        p.requires_grad_(True)
    info = TrainingInfo(steps=step, seconds=time.perf_counter() - started, device=on,
                        precision=embeddings.precision_name(dtype), history=history, stopped_at_budget=out_of_time)
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
    return TrainedTransformer(model, AutoTokenizer.from_pretrained(str(path)), 128, TrainingInfo(device=on))
