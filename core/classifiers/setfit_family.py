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

import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core import config, embeddings
from core.classifiers import head as heads


@dataclass
class SetFitArguments:
    num_iterations: int = 5  # pairs per label and epoch before the step cap
    max_steps: int = 80  # hard cap on contrastive steps
    batch_size: int = 16
    body_learning_rate: float = 2e-5
    max_length: int = 128  # tokens; longer texts are truncated
    seed: int = 0
    head: heads.HeadArguments = field(default_factory=heads.HeadArguments)
    # Continue from the last fine-tuned encoder instead of the base model: each retrain then
    # needs only a few steps for the new labels (see docs/benchmarks.md, "SetFit rounds").
    warm_start: bool = False
    warm_steps: int = 10  # step cap of a retrain that continues from a fine-tuned encoder

    def continuing(self) -> "SetFitArguments":
        """The arguments of a warm-started retrain: the first one trains from the base model with
        `max_steps`, later ones only adapt it to the new labels."""
        return replace(self, max_steps=min(self.max_steps, self.warm_steps))

    @classmethod
    def from_dict(cls, values: dict) -> "SetFitArguments":
        values = dict(values)
        if isinstance(values.get("head"), dict):
            values["head"] = heads.HeadArguments(**values["head"])
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SetFitDiffArguments:
    """SetFit's own two-phase arguments: (body phase, head phase) tuples."""

    batch_size: tuple[int, int] = (16, 8)
    num_epochs: tuple[int, int] = (1, 10)
    max_steps: int = 80  # caps the contrastive (body) phase, as for `setfit`
    num_iterations: int = 5
    body_learning_rate: tuple[float, float] = (2e-5, 1e-5)
    head_learning_rate: float = 1e-2
    l2_weight: float = 0.01
    end_to_end: bool = False  # also update the body in the head phase
    max_length: int = 128
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict) -> "SetFitDiffArguments":
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def _load(model, on: str, **kwargs):
    """A SetFitModel from a model name or path, or around an in-memory SentenceTransformer (warm start)."""
    from setfit import SetFitModel

    if model is None or isinstance(model, (str, Path)):
        return SetFitModel.from_pretrained(config.resolve_model(str(model) if model else None), device=on, **kwargs)
    from sklearn.linear_model import LogisticRegression

    return SetFitModel(model_body=model, model_head=LogisticRegression())


def _progress_callback(progress, start: float, span: float):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, _args, state, control, **kwargs):
            if progress and state.max_steps:
                progress(start + span * state.global_step / state.max_steps,
                         f"training step {state.global_step} of {state.max_steps}")

    return Progress()


def train_body(model, texts: Sequence[str], label_ids: Sequence[int], args: SetFitArguments | None = None,
               progress: Callable[[float, str], None] | None = None) -> tuple[object, dict]:
    """Fine-tune the encoder contrastively on the labels; returns (SentenceTransformer, figures).

    `model` is a name, a path, or an in-memory SentenceTransformer to continue from (warm start).
    Uses CUDA with mixed precision when present, bf16 autocast on CPUs that support it, else fp32.
    """
    import torch
    from setfit import Trainer, TrainingArguments

    args = args or SetFitArguments()
    on = embeddings.device()
    model_obj = _load(model, on)
    model_obj.model_body.max_seq_length = args.max_length
    dtype = embeddings.autocast_dtype(on)
    with tempfile.TemporaryDirectory() as scratch:
        training_args = TrainingArguments(
            output_dir=scratch, batch_size=args.batch_size, num_epochs=1, max_steps=args.max_steps,
            num_iterations=args.num_iterations, body_learning_rate=args.body_learning_rate,
            seed=args.seed, report_to="none", save_strategy="no", show_progress_bar=False,
            logging_strategy="no", use_amp=on == "cuda" and dtype == torch.float16,
        )
        trainer = Trainer(model=model_obj, args=training_args, callbacks=[_progress_callback(progress, 0, 1)])
        started = time.perf_counter()
        with torch.autocast(on, dtype=dtype, enabled=dtype is not None and not training_args.use_amp):
            trainer.train_embeddings(list(texts), [int(i) for i in label_ids], args=training_args)
        seconds = time.perf_counter() - started
        steps = int(trainer.st_trainer.state.global_step)
    model_obj.model_body.eval()
    return model_obj.model_body, {"steps": steps, "seconds": seconds, "device": on,
                                  "precision": str(dtype).replace("torch.", "") if dtype is not None else "float32"}


def train_encoder(model, texts: Sequence[str], label_ids: Sequence[int], out_dir: Path,
                  args: SetFitArguments | None = None,
                  progress: Callable[[float, str], None] | None = None) -> dict:
    """`train_body`, saved as a SentenceTransformer directory."""
    body, info = train_body(model, texts, label_ids, args, progress)
    body.save(str(out_dir))
    return info


@dataclass
class TrainedSetFit:
    """A fine-tuned body plus a head; embeds and scores texts, saves a SetFit directory."""

    body: object  # SentenceTransformer
    head: object  # scikit-learn estimator or SetFitHead
    class_names: list[str]
    info: dict

    def embed_and_score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        vectors = embeddings.encode(self.body, texts)
        if hasattr(self.head, "classes_"):
            return vectors, heads.predict_proba(self.head, vectors, len(self.class_names))
        import torch

        with torch.inference_mode():
            probs = self.head.predict_proba(torch.as_tensor(vectors, device=self.body.device))
        return vectors, np.asarray(probs.float().cpu(), dtype=np.float32)

    def save(self, out_dir: Path) -> None:
        save_setfit_dir(self.body, self.head, self.class_names, out_dir)


def save_setfit_dir(body, head_model, class_names: list[str], out_dir: Path) -> None:
    """Write a directory that `SetFitModel.from_pretrained(out_dir)` loads without Sieve."""
    from setfit import SetFitModel

    out_dir.mkdir(parents=True, exist_ok=True)
    SetFitModel(model_body=body, model_head=head_model, labels=list(class_names)).save_pretrained(str(out_dir))


def train_setfit(model, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
                 args: SetFitArguments | None = None, progress: Callable[[float, str], None] | None = None
                 ) -> TrainedSetFit:
    """`setfit`: contrastive body training, then the chosen scikit-learn head on the new embeddings."""
    args = args or SetFitArguments()
    body, info = train_body(model, texts, label_ids, args, progress)
    y = np.asarray(label_ids)
    fitted = heads.fit(embeddings.encode(body, texts), y, args.head)
    return TrainedSetFit(body, fitted, class_names, info)


def train_setfit_diff(model: str | None, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
                      args: SetFitDiffArguments | None = None,
                      progress: Callable[[float, str], None] | None = None) -> TrainedSetFit:
    """`setfit-diff`: SetFit's two phases with the differentiable head (out_features = classes)."""
    import torch
    from datasets import Dataset
    from setfit import Trainer, TrainingArguments

    args = args or SetFitDiffArguments()
    if len(class_names) < 2:
        raise ValueError("The differentiable head needs at least two classes.")
    on = embeddings.device()
    model_obj = _load(model, on, use_differentiable_head=True,
                      head_params={"out_features": len(class_names)}, labels=list(class_names))
    model_obj.model_body.max_seq_length = args.max_length
    dtype = embeddings.autocast_dtype(on)
    dataset = Dataset.from_dict({"text": list(texts), "label": [int(i) for i in label_ids]})
    with tempfile.TemporaryDirectory() as scratch:
        training_args = TrainingArguments(
            output_dir=scratch, batch_size=args.batch_size, num_epochs=args.num_epochs, max_steps=args.max_steps,
            num_iterations=args.num_iterations, body_learning_rate=args.body_learning_rate,
            head_learning_rate=args.head_learning_rate, l2_weight=args.l2_weight, end_to_end=args.end_to_end,
            max_length=args.max_length, seed=args.seed, report_to="none", save_strategy="no",
            show_progress_bar=False, logging_strategy="no", use_amp=on == "cuda" and dtype == torch.float16,
        )
        trainer = Trainer(model=model_obj, args=training_args, train_dataset=dataset,
                          callbacks=[_progress_callback(progress, 0, 0.8)])
        started = time.perf_counter()
        x, y = list(texts), [int(i) for i in label_ids]
        with torch.autocast(on, dtype=dtype, enabled=dtype is not None and not training_args.use_amp):
            trainer.train_embeddings(x, y, args=training_args)
        # The head phase runs in full precision: in bf16 its many small steps drifted
        # (ag_news, 512 labels: 0.48 accuracy in bf16).
        trainer.train_classifier(x, y, args=training_args)
        info = {"steps": int(trainer.st_trainer.state.global_step), "seconds": time.perf_counter() - started,
                "device": on, "precision": str(dtype).replace("torch.", "") if dtype is not None else "float32"}
    model_obj.model_head.eval()
    return TrainedSetFit(model_obj.model_body, model_obj.model_head, class_names, info)


def load(path: Path) -> TrainedSetFit:
    from setfit import SetFitModel

    model = SetFitModel.from_pretrained(str(path), device=embeddings.device())
    return TrainedSetFit(model.model_body, model.model_head, list(model.labels or []), {})
