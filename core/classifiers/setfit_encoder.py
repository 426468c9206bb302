"""The full retrain: SetFit contrastive fine-tuning of the sentence encoder.

SetFit's default pair sampling grows with the square of the labels, far too slow for a
CPU. `SetFitArguments.max_steps` caps the number of contrastive steps (and so the pairs
generated: max_steps * batch_size), which bounds a retrain's time whatever the label count.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core import config, embeddings


@dataclass
class SetFitArguments:
    num_iterations: int = 5  # pairs per label and epoch before the step cap
    max_steps: int = 80  # hard cap on contrastive steps: ~2 min on a 2-core CPU
    batch_size: int = 16
    body_learning_rate: float = 2e-5
    max_length: int = 128  # tokens; longer texts are truncated
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def train_encoder(model: str | None, texts: Sequence[str], label_ids: Sequence[int], out_dir: Path,
                  args: SetFitArguments | None = None,
                  progress: Callable[[float, str], None] | None = None) -> dict:
    """Fine-tune the encoder contrastively on the labels and save it to `out_dir`.

    Returns training figures (pairs, steps, seconds). Uses CUDA with mixed precision when
    present, bf16 autocast on CPUs that support it, else fp32.
    """
    import time

    import torch
    from setfit import SetFitModel, Trainer, TrainingArguments
    from transformers import TrainerCallback

    args = args or SetFitArguments()
    on = embeddings.device()
    model_obj = SetFitModel.from_pretrained(config.resolve_model(model), device=on)
    model_obj.model_body.max_seq_length = args.max_length
    dtype = embeddings.autocast_dtype(on)

    class Progress(TrainerCallback):
        def on_step_end(self, _args, state, control, **kwargs):
            if progress and state.max_steps:
                progress(state.global_step / state.max_steps, f"training step {state.global_step} of {state.max_steps}")

    with tempfile.TemporaryDirectory() as scratch:
        training_args = TrainingArguments(
            output_dir=scratch, batch_size=args.batch_size, num_epochs=1, max_steps=args.max_steps,
            num_iterations=args.num_iterations, body_learning_rate=args.body_learning_rate,
            seed=args.seed, report_to="none", save_strategy="no", show_progress_bar=False,
            logging_strategy="no", use_amp=on == "cuda" and dtype == torch.float16,
        )
        trainer = Trainer(model=model_obj, args=training_args, callbacks=[Progress()])
        started = time.perf_counter()
        with torch.autocast(on, dtype=dtype, enabled=dtype is not None and not training_args.use_amp):
            trainer.train_embeddings(list(texts), [int(i) for i in label_ids], args=training_args)
        seconds = time.perf_counter() - started
        state = trainer.st_trainer.state
    model_obj.model_body.save(str(out_dir))
    return {"steps": int(state.global_step), "seconds": seconds, "device": on,
            "precision": str(dtype).replace("torch.", "") if dtype is not None else "float32"}


def save_setfit_model(encoder_dir: Path, head_model, class_names: list[str], out_dir: Path) -> None:
    """Write a directory that `SetFitModel.from_pretrained(out_dir)` loads without Sieve."""
    import joblib

    out_dir.mkdir(parents=True, exist_ok=True)
    for path in Path(encoder_dir).rglob("*"):
        if path.is_file():
            target = out_dir / path.relative_to(encoder_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    joblib.dump(head_model, out_dir / "model_head.pkl")
    (out_dir / "config_setfit.json").write_text(json.dumps({"normalize_embeddings": False, "labels": class_names}))


def load_classes(model_dir: Path) -> list[str]:
    return json.loads((Path(model_dir) / "config_setfit.json").read_text())["labels"]


def predict(model_dir: Path, texts: Sequence[str]) -> np.ndarray:
    """Class names predicted by an exported model (used by tests and the CLI)."""
    from setfit import SetFitModel

    model = SetFitModel.from_pretrained(str(model_dir))
    return np.asarray(model.predict(list(texts)))
