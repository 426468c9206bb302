"""SetFit: contrastive fine-tuning of the sentence encoder, then a head on its embeddings.

Two variants:
  - `setfit`: a scikit-learn head from the allow-list in `head` (logistic regression by default);
  - `setfit-diff`: SetFit's differentiable `SetFitHead`, trained in a second phase or end to end.

SetFit's default pair sampling grows with the square of the labels, far too slow for a CPU.
`max_steps` caps the contrastive steps (and so the pairs generated: max_steps * batch size),
which bounds a retrain's time whatever the label count: 80 steps take ~55 s on a 2-core CPU
with bf16 and cost ~0.1 point of accuracy against 125 (docs/benchmarks.md).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from core import artifacts
from core.learning import embeddings
from core.learning.classifiers import head as heads
from core.learning.classifiers.protocol import FamilyArguments, Progress, TimeBudget, TrainingInfo, step_message


@dataclass
class SetFitArguments(FamilyArguments):
    num_iterations: int = 5  # pairs per label and epoch before the step cap
    max_steps: int = 80  # hard cap on contrastive steps
    batch_size: int = 16
    body_learning_rate: float = 2e-5
    # Tokens per text while training only: the fine-tuned encoder embeds, predicts and exports
    # at the base encoder's own length (`embed_length`), so long texts are never cut shorter
    # than the base model reads them (issue 25).
    max_length: int = 128
    seed: int = 0
    head: heads.HeadArguments = field(default_factory=heads.HeadArguments)
    # Continue from the last fine-tuned encoder instead of the base model: each retrain then
    # needs only a few steps for the new labels (see docs/benchmarks.md, "SetFit rounds").
    warm_start: bool = False
    warm_steps: int = 10  # step cap of a retrain that continues from a fine-tuned encoder
    # Multi-label projects only: which text pairs are positives (core.learning.multilabel_pairs;
    # its DEFAULT_RULE, chosen on a debtags validation split).
    pair_rule: str = "jaccard"

    def __post_init__(self):
        from core.learning import multilabel_pairs

        if self.pair_rule not in multilabel_pairs.RULES:
            raise ValueError(f"pair_rule must be one of {', '.join(multilabel_pairs.RULES)}.")
        if self.max_steps < 1 or self.batch_size < 2 or self.num_iterations < 1 or self.warm_steps < 1:
            raise ValueError("max_steps, num_iterations and warm_steps must be at least 1, batch_size at least 2.")
        if self.max_length < 8:
            raise ValueError("max_length must be at least 8 tokens.")

    def continuing(self) -> "SetFitArguments":
        """The arguments of a warm-started retrain: the first one trains from the base model with
        `max_steps`, later ones only adapt it to the new labels."""
        return replace(self, max_steps=min(self.max_steps, self.warm_steps))

    @classmethod
    def _convert(cls, values: dict) -> dict:
        if isinstance(values.get("head"), dict):
            values["head"] = heads.HeadArguments.from_dict(values["head"])
        return values


@dataclass
class SetFitDiffArguments(FamilyArguments):
    """SetFit's own two-phase arguments: (body phase, head phase) tuples."""

    batch_size: tuple[int, int] = (16, 8)
    num_epochs: tuple[int, int] = (1, 10)
    max_steps: int = 80  # caps the contrastive (body) phase, as for `setfit`
    num_iterations: int = 5
    body_learning_rate: tuple[float, float] = (2e-5, 1e-5)
    head_learning_rate: float = 1e-2
    l2_weight: float = 0.01
    end_to_end: bool = False  # also update the body in the head phase
    max_length: int = 128  # tokens per text while training; embedding uses the encoder's own length
    seed: int = 0

    @classmethod
    def _convert(cls, values: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _load(model, on: str, differentiable_classes: list[str] | None = None):
    """A SetFitModel around an encoder body: a model name or path, or an in-memory SentenceTransformer
    (warm start). Only the body is loaded (safetensors weights): a SetFit directory's pickled
    `model_head.pkl` would run code when unpickled, so it is never read; the head is always new."""
    from setfit import SetFitModel

    body = model
    if model is None or isinstance(model, (str, Path)):
        body = embeddings.open_encoder(str(model) if model else None)
    body.to(on)
    if differentiable_classes is None:
        from sklearn.linear_model import LogisticRegression

        return SetFitModel(model_body=body, model_head=LogisticRegression())
    from setfit.modeling import SetFitHead

    head = SetFitHead(in_features=body.get_embedding_dimension(), out_features=len(differentiable_classes),
                      device=on)
    return SetFitModel(model_body=body, model_head=head, labels=list(differentiable_classes))


def _step_callback(progress: Progress | None, start: float, span: float, budget: TimeBudget | None):
    """Reports each contrastive step with the time left, and stops training when the budget is spent."""
    from transformers import TrainerCallback

    class EachStep(TrainerCallback):
        stopped_at_budget = False

        def on_step_end(self, _args, state, control, **kwargs):
            if progress and state.max_steps:
                progress(start + span * state.global_step / state.max_steps,
                         step_message(state.global_step, state.max_steps, budget))
            if budget is not None and budget.expired() and state.global_step < state.max_steps:
                control.should_training_stop = True
                EachStep.stopped_at_budget = True

    return EachStep()


@contextlib.contextmanager
def _training_length(body, tokens: int):
    """Train at `tokens` per text, then give the body back its own length (what it embeds at)."""
    own = body.max_seq_length
    body.max_seq_length = tokens
    try:
        yield own
    finally:
        body.max_seq_length = own


def _training_arguments(scratch: str, on: str, dtype, **values):
    """SetFit's TrainingArguments with what every Sieve run needs: no checkpoints, no loggers,
    a scratch output directory, and loss scaling only for fp16 on CUDA."""
    import torch
    from setfit import TrainingArguments

    return TrainingArguments(output_dir=scratch, report_to="none", save_strategy="no", show_progress_bar=False,
                             logging_strategy="no", use_amp=on == "cuda" and dtype == torch.float16, **values)


def _train_embeddings(trainer, training_args, texts: list[str], y: list[int], on: str, dtype) -> None:
    """The contrastive phase, under autocast where the device supports a faster precision."""
    import torch

    with torch.autocast(on, dtype=dtype, enabled=dtype is not None and not training_args.use_amp):
        trainer.train_embeddings(texts, y, args=training_args)


def train_body(model, texts: Sequence[str], label_ids: Sequence[int], args: SetFitArguments | None = None,
               progress: Progress | None = None, budget: TimeBudget | None = None) -> tuple[object, TrainingInfo]:
    """Fine-tune the encoder contrastively on the labels; returns (SentenceTransformer, info).

    `model` is a name, a path, or an in-memory SentenceTransformer to continue from (warm start).
    Uses CUDA with mixed precision when present, bf16 autocast on CPUs that support it, else fp32.
    """
    from setfit import Trainer

    args = args or SetFitArguments()
    on = embeddings.device()
    model_obj = _load(model, on)
    dtype = embeddings.autocast_dtype(on)
    with artifacts.scratch_dir("setfit") as scratch, _training_length(model_obj.model_body, args.max_length):
        training_args = _training_arguments(
            str(scratch), on, dtype, batch_size=args.batch_size, num_epochs=1, max_steps=args.max_steps,
            num_iterations=args.num_iterations, body_learning_rate=args.body_learning_rate, seed=args.seed)
        each_step = _step_callback(progress, 0, 1, budget)
        trainer = Trainer(model=model_obj, args=training_args, callbacks=[each_step])
        started = time.perf_counter()
        _train_embeddings(trainer, training_args, list(texts), [int(i) for i in label_ids], on, dtype)
        info = TrainingInfo(steps=int(trainer.st_trainer.state.global_step), seconds=time.perf_counter() - started,
                            device=on, precision=embeddings.precision_name(dtype),
                            stopped_at_budget=each_step.stopped_at_budget)
    model_obj.model_body.eval()
    return model_obj.model_body, info


@dataclass
class TrainedSetFit:
    """A fine-tuned body plus a head; embeds and scores texts, saves a SetFit directory."""

    body: object  # SentenceTransformer
    head: object  # a scikit-learn estimator, or SetFit's differentiable SetFitHead
    class_names: list[str]
    info: TrainingInfo = field(default_factory=TrainingInfo)
    differentiable: bool = False  # the head is SetFitHead (torch), not scikit-learn

    @property
    def embed_length(self) -> int:
        """Tokens per text it embeds and predicts at: the base encoder's own length."""
        return int(self.body.max_seq_length)

    def embed_and_score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        vectors = embeddings.encode(self.body, texts)
        if not self.differentiable:
            return vectors, heads.predict_proba(self.head, vectors, len(self.class_names))
        import torch

        with torch.inference_mode():
            probs = self.head.predict_proba(torch.as_tensor(vectors, device=self.body.device))
        return vectors, np.asarray(probs.float().cpu(), dtype=np.float32)

    def save(self, out_dir: Path) -> None:
        save_setfit_dir(self.body, self.head, self.class_names, out_dir)

    def fast_head(self):
        return None if self.differentiable else self.head

    def continuation(self):
        return self.body


SIEVE_HEAD = "sieve_head"  # Sieve's own copy of the head, in a format that runs no code on load


def save_setfit_dir(body, head_model, class_names: list[str], out_dir: Path) -> None:
    """Write a directory that `SetFitModel.from_pretrained(out_dir)` loads without Sieve (its
    `model_head.pkl` is for the user), plus the head as plain arrays, which is what Sieve reads."""
    import json

    from setfit import SetFitModel

    import torch

    differentiable = isinstance(head_model, torch.nn.Module)
    out_dir.mkdir(parents=True, exist_ok=True)
    for_setfit = head_model if differentiable else heads.plain_estimator(head_model, len(class_names))
    SetFitModel(model_body=body, model_head=for_setfit, labels=list(class_names)).save_pretrained(str(out_dir))
    (out_dir / SIEVE_HEAD).mkdir()
    (out_dir / SIEVE_HEAD / "classes.json").write_text(json.dumps(list(class_names)))

    if not differentiable:  # a scikit-learn head from the allow-list
        heads.save(head_model, out_dir / SIEVE_HEAD)
    else:  # SetFit's differentiable head: its tensors as safetensors, its shape as JSON
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in head_model.state_dict().items()},
                  str(out_dir / SIEVE_HEAD / "head.safetensors"))
        (out_dir / SIEVE_HEAD / "shape.json").write_text(json.dumps(
            {"in_features": head_model.in_features, "out_features": head_model.out_features}))


def train_setfit(model, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
                 args: SetFitArguments | None = None, progress: Progress | None = None,
                 budget: TimeBudget | None = None) -> TrainedSetFit:
    """`setfit`: contrastive body training, then the chosen scikit-learn head on the new embeddings."""
    args = args or SetFitArguments()
    body, info = train_body(model, texts, label_ids, args, progress, budget)
    y = np.asarray(label_ids)
    fitted = heads.fit(embeddings.encode(body, texts), y, args.head)
    return TrainedSetFit(body, fitted, class_names, info)


def train_setfit_diff(model: str | None, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
                      args: SetFitDiffArguments | None = None, progress: Progress | None = None,
                      budget: TimeBudget | None = None) -> TrainedSetFit:
    """`setfit-diff`: SetFit's two phases with the differentiable head (out_features = classes)."""
    from datasets import Dataset
    from setfit import Trainer

    args = args or SetFitDiffArguments()
    if len(class_names) < 2:
        raise ValueError("The differentiable head needs at least two classes.")
    on = embeddings.device()
    model_obj = _load(model, on, differentiable_classes=list(class_names))
    dtype = embeddings.autocast_dtype(on)
    dataset = Dataset.from_dict({"text": list(texts), "label": [int(i) for i in label_ids]})
    with artifacts.scratch_dir("setfit") as scratch, _training_length(model_obj.model_body, args.max_length):
        training_args = _training_arguments(
            str(scratch), on, dtype, batch_size=args.batch_size, num_epochs=args.num_epochs, max_steps=args.max_steps,
            num_iterations=args.num_iterations, body_learning_rate=args.body_learning_rate,
            head_learning_rate=args.head_learning_rate, l2_weight=args.l2_weight, end_to_end=args.end_to_end,
            max_length=args.max_length, seed=args.seed)
        each_step = _step_callback(progress, 0, 0.8, budget)  # the budget bounds the contrastive phase
        trainer = Trainer(model=model_obj, args=training_args, train_dataset=dataset, callbacks=[each_step])
        started = time.perf_counter()
        x, y = list(texts), [int(i) for i in label_ids]
        _train_embeddings(trainer, training_args, x, y, on, dtype)
        # The head phase runs in full precision: in bf16 its many small steps drifted
        # (ag_news, 512 labels: 0.48 accuracy in bf16).
        trainer.train_classifier(x, y, args=training_args)
        info = TrainingInfo(steps=int(trainer.st_trainer.state.global_step), seconds=time.perf_counter() - started,
                            device=on, precision=embeddings.precision_name(dtype),
                            stopped_at_budget=each_step.stopped_at_budget)
    model_obj.model_head.eval()
    return TrainedSetFit(model_obj.model_body, model_obj.model_head, class_names, info, differentiable=True)


def train_body_multilabel(model, texts: Sequence[str], Y: np.ndarray, args: SetFitArguments | None = None,
                          progress: Progress | None = None,
                          budget: TimeBudget | None = None) -> tuple[object, TrainingInfo]:
    """Fine-tune the encoder contrastively on label sets (texts x labels 0/1); returns (body, info).

    The pairs come from `core.learning.multilabel_pairs` under `args.pair_rule` (by default texts
    sharing a label are positives), as many as SetFit would draw (num_iterations x 2 per text)
    up to the step cap (max_steps x batch_size); the rest is SetFit's own contrastive phase
    (cosine-similarity loss, same precision, the body back at its own length afterwards)."""
    from datasets import Dataset
    from setfit import Trainer

    from core.learning import multilabel_pairs

    args = args or SetFitArguments()
    on = embeddings.device()
    model_obj = _load(model, on)
    dtype = embeddings.autocast_dtype(on)
    n_pairs = min(args.num_iterations * 2 * len(texts), args.max_steps * args.batch_size)
    columns = multilabel_pairs.pair_texts(list(texts), np.asarray(Y), n_pairs, args.pair_rule, args.seed)
    if not columns["label"]:
        raise ValueError("Too few labeled texts to draw text pairs from.")
    dataset = Dataset.from_dict(columns)

    class PairTrainer(Trainer):
        def get_dataset(self, x, y, args, max_pairs=-1):  # our pairs instead of SetFit's sampler
            return dataset, args.loss(self.model.model_body)

    with artifacts.scratch_dir("setfit") as scratch, _training_length(model_obj.model_body, args.max_length):
        training_args = _training_arguments(
            str(scratch), on, dtype, batch_size=args.batch_size, num_epochs=1, max_steps=args.max_steps,
            num_iterations=args.num_iterations, body_learning_rate=args.body_learning_rate, seed=args.seed)
        each_step = _step_callback(progress, 0, 1, budget)
        trainer = PairTrainer(model=model_obj, args=training_args, callbacks=[each_step])
        started = time.perf_counter()
        with torch_autocast(on, dtype, training_args):
            trainer.train_embeddings(list(texts), [0] * len(texts), args=training_args)
        info = TrainingInfo(steps=int(trainer.st_trainer.state.global_step), seconds=time.perf_counter() - started,
                            device=on, precision=embeddings.precision_name(dtype),
                            stopped_at_budget=each_step.stopped_at_budget)
    model_obj.model_body.eval()
    return model_obj.model_body, info


@contextlib.contextmanager
def torch_autocast(on: str, dtype, training_args):
    import torch

    with torch.autocast(on, dtype=dtype, enabled=dtype is not None and not training_args.use_amp):
        yield


def load(path: Path) -> TrainedSetFit:
    """A SetFit directory Sieve wrote: the body from safetensors and the head from its plain-array
    copy (`sieve_head/`), never from the pickled `model_head.pkl`."""
    import json

    path = Path(path)
    own = path / SIEVE_HEAD
    if not (own / "classes.json").exists():
        raise embeddings.UnsafeModel(f"{path} has no {SIEVE_HEAD}/ (only a pickled head, which Sieve does not load).")
    body = embeddings.open_encoder(str(path))
    names = json.loads((own / "classes.json").read_text())
    if (own / "head.safetensors").exists():
        from safetensors.torch import load_file
        from setfit.modeling import SetFitHead

        shape = json.loads((own / "shape.json").read_text())
        head = SetFitHead(**shape, device=body.device)
        head.load_state_dict(load_file(str(own / "head.safetensors"), device=str(body.device)))
        return TrainedSetFit(body, head.eval(), names, differentiable=True)
    return TrainedSetFit(body, heads.load(own), names)
