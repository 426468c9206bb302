"""Classifier families behind one small protocol.

`head` is the fast refit: a scikit-learn head on cached embeddings (see `head`). The full
retrain trains one of the FAMILIES on all labels and returns a trained model that
  - `embed_and_score(texts)` -> (normalised embeddings, class probabilities), and
  - `save(out_dir)` -> a directory that loads without Sieve with the library's own loader
    (`SetFitModel.from_pretrained` or `transformers.pipeline("text-classification", ...)`).
Each family has an arguments dataclass; label ids are integers inside (positions in the
project's class list), class names appear only at the edges.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

FAMILIES = ("setfit", "setfit-diff", "transformer")
CLASSIFIERS = ("head",) + FAMILIES  # what `simulate --classifier` accepts
LOADERS = {"setfit": "SetFitModel.from_pretrained", "setfit-diff": "SetFitModel.from_pretrained",
           "transformer": 'transformers.pipeline("text-classification", model=...)'}


@dataclass
class FamilySpec:
    name: str
    arguments: type
    train: Callable
    load: Callable


def spec(name: str) -> FamilySpec:
    from core.classifiers import setfit_family, transformer

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


def arguments(name: str, values: dict | None = None):
    """The family's arguments dataclass from a settings dict (unknown keys are an error)."""
    cls = spec(name).arguments
    values = values or {}
    if hasattr(cls, "from_dict"):
        return cls.from_dict(values)
    return cls(**values)


def train(name: str, model: str | None, texts: Sequence[str], label_ids: Sequence[int], class_names: list[str],
          args=None, progress: Callable[[float, str], None] | None = None):
    family = spec(name)
    return family.train(model, texts, label_ids, class_names, args or family.arguments(), progress=progress)


def load(name: str, path: Path):
    return spec(name).load(path)
