"""The contract between the worker and every classifier family.

A family's `train(model, texts, label_ids, class_names, args, progress)` returns an object
that satisfies `TrainedModel`; its arguments class derives from `FamilyArguments`. Label ids
are integers inside (positions in the project's class list); class names appear only at
the edges (saving, exporting).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

Progress = Callable[[float, str], None]


@dataclass
class TimeBudget:
    """A wall-time budget for one training run: families check it after every step and stop
    when it is spent, and it turns the measured pace into the time left shown to the user."""

    seconds: float | None  # None: no budget
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def expired(self) -> bool:
        return self.seconds is not None and self.elapsed() >= self.seconds

    def seconds_left(self, done: int, total: int) -> float | None:
        """Time to finish `total` steps at the pace of the first `done`, capped by the budget."""
        if done <= 0:
            return None
        at_pace = self.elapsed() / done * max(total - done, 0)
        return at_pace if self.seconds is None else min(at_pace, max(self.seconds - self.elapsed(), 0.0))


def describe_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"about {seconds:.0f} s left" if seconds < 90 else f"about {seconds / 60:.0f} min left"


def step_message(step: int, total: int, budget: TimeBudget | None, prefix: str = "training") -> str:
    """"training step 12 of 80, about 40 s left" for progress bars."""
    left = describe_time(budget.seconds_left(step, total)) if budget else ""
    return f"{prefix} step {step} of {total}" + (f", {left}" if left else "")


@dataclass
class TrainingInfo:
    """What every trained model reports about its training, the same fields for every family."""

    steps: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    precision: str = "float32"
    history: list[dict] = field(default_factory=list)  # per epoch, where the family records it
    stopped_at_budget: bool = False  # the wall-time budget ended training before its step count

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@runtime_checkable
class TrainedModel(Protocol):
    """A trained model of any family, as the worker and the simulator use it."""

    info: TrainingInfo

    def embed_and_score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(L2-normalised embeddings, class probabilities) for `texts`, rows in the same order."""
        ...

    def save(self, out_dir: Path) -> None:
        """A directory that loads without Sieve with the family's own library loader."""
        ...

    def fast_head(self) -> Any | None:
        """The scikit-learn head on this model's embeddings, if it has one (kept with the version)."""
        ...

    def continuation(self) -> Any | None:
        """What a warm-started next retrain continues from (an in-memory encoder), or None."""
        ...


@dataclass
class FamilyArguments:
    """Base of every family's arguments: one way to read them from settings and write them back."""

    @classmethod
    def from_dict(cls, values: dict | None) -> "FamilyArguments":
        """From stored settings; an unknown key is an error that names the keys this family takes."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown setting(s) {', '.join(unknown)} for this model family; "
                             f"it takes {', '.join(sorted(known))}.")
        return cls(**cls._convert(values))

    @classmethod
    def _convert(cls, values: dict) -> dict:
        """Turn JSON values (lists, nested dicts) back into the field types; families override."""
        return values

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def warm_start(self) -> bool:
        """Whether retrains after the first continue from the last fine-tuned encoder."""
        return False

    def continuing(self) -> "FamilyArguments":
        """The arguments of a retrain that continues from a fine-tuned encoder."""
        return self
