"""Classifier families behind one protocol (`protocol.TrainedModel`).

`head` is the fast refit: a scikit-learn head on cached embeddings (see `head`). The full
retrain trains one of the FAMILIES on all labels and returns a `TrainedModel`: it embeds and
scores texts, saves a directory that loads without Sieve with the library's own loader, and
reports a uniform `TrainingInfo`. Each family has an arguments dataclass derived from
`FamilyArguments` (`from_dict` / `to_dict`). Importing this package loads no ML library.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from core.learning.classifiers.protocol import FamilyArguments, Progress, TimeBudget, TrainedModel, TrainingInfo

__all__ = ["FAMILIES", "CLASSIFIERS", "FamilyArguments", "Progress", "TimeBudget", "TrainedModel", "TrainingInfo",
           "arguments", "encoder_family", "load", "loader", "spec", "train"]

FAMILIES = ("setfit", "setfit-diff", "transformer")
CLASSIFIERS = ("head",) + FAMILIES  # what `simulate --classifier` accepts
SENTENCE_ENCODER = "sentence-transformers"  # the encoder family of a plain or SetFit-tuned sentence encoder
# How an exported directory of each family loads without Sieve.
LOADERS = {"setfit": "setfit.SetFitModel.from_pretrained(folder)",
           "setfit-diff": "setfit.SetFitModel.from_pretrained(folder)",
           "transformer": 'transformers.pipeline("text-classification", model=folder)'}
# What a user reads about each family (Settings, Model page, Train now).
TITLES = {"setfit": "SetFit", "setfit-diff": "SetFit (differentiable head)", "transformer": "transformer fine-tuning"}


@dataclass
class FamilySpec:
    name: str
    arguments: type[FamilyArguments]
    train: Callable[..., TrainedModel]
    load: Callable[[Path], TrainedModel]


def spec(name: str) -> FamilySpec:
    from core.learning.classifiers import setfit_family, transformer

    specs = {
        "setfit": FamilySpec("setfit", setfit_family.SetFitArguments, setfit_family.train_setfit,
                             setfit_family.load),
        "setfit-diff": FamilySpec("setfit-diff", setfit_family.SetFitDiffArguments, setfit_family.train_setfit_diff,
                                  setfit_family.load),
        "transformer": FamilySpec("transformer", transformer.TransformerArguments, transformer.train, transformer.load),
    }
    if name not in specs:
        raise ValueError(f"Unknown classifier family {name!r}; choose from {', '.join(FAMILIES)}.")
    return specs[name]


def arguments(name: str, values: dict | None = None) -> FamilyArguments:
    """The family's arguments dataclass from a settings dict (unknown keys are an error)."""
    return spec(name).arguments.from_dict(values or {})


def loader(family: str) -> str:
    """The call that loads an exported directory of this family without Sieve."""
    return LOADERS[family]


def encoder_family(family: str) -> str:
    """The kind of encoder a family's model embeds with: SetFit tunes a sentence encoder."""
    return "transformer" if family == "transformer" else SENTENCE_ENCODER


def train(name: str, model, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
          args: FamilyArguments | None = None, progress: Progress | None = None,
          budget: TimeBudget | None = None) -> TrainedModel:
    """Train family `name` from `model` (a name, a path, or an in-memory encoder to continue from);
    training stops early, with what it has, when `budget` is spent."""
    family = spec(name)
    return family.train(model, texts, label_ids, class_names, args or family.arguments(), progress=progress,
                        budget=budget)


def load(name: str, path: Path) -> TrainedModel:
    return spec(name).load(path)
