"""Classifier families behind one protocol (`protocol.TrainedModel`).

`head` is the fast refit: a scikit-learn head on cached embeddings (see `head`). The full
retrain trains one of the FAMILIES on all labels and returns a `TrainedModel`: it embeds and
scores texts, saves a directory that loads without Sieve with the library's own loader, and
reports a uniform `TrainingInfo`. Each family has an arguments dataclass derived from
`FamilyArguments` (`from_dict` / `to_dict`) and one `FamilySpec` in `SPECS` below: its title and
description, its trainer and loader, how its export loads without Sieve, and the fields the
Settings page shows for it. Adding a family is its module and one spec here. Importing this
package loads no ML library (the family modules import torch and their libraries when they train).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from core.learning.classifiers.protocol import FamilyArguments, Progress, TimeBudget, TrainedModel, TrainingInfo

__all__ = ["FAMILIES", "CLASSIFIERS", "SPECS", "FamilyArguments", "FamilySpec", "Progress", "SettingField",
           "TimeBudget", "TrainedModel", "TrainingInfo", "arguments", "encoder_family", "load", "loader", "spec",
           "title", "train"]

SENTENCE_ENCODER = "sentence-transformers"  # the encoder family of a plain or SetFit-tuned sentence encoder
INT, FLOAT, TOGGLE = "int", "float", "toggle"  # the kinds of SettingField


@dataclass(frozen=True)
class SettingField:
    """One input on the Settings page for one argument of a family.

    `element`: the argument is a tuple (a (body, head) pair) and this input sets one element of it.
    `off`: the input value that stands for None (e.g. a layerwise decay of 1: no decay); that value
    and anything above it mean None. `enabled_by`: a toggle argument that must be on for this input
    to apply (it is shown disabled otherwise)."""

    argument: str
    label: str
    kind: str  # INT, FLOAT or TOGGLE
    low: float | None = None
    high: float | None = None
    help: str | None = None
    format: str | None = None  # printf-style format of a number input
    element: int | None = None
    off: float | None = None
    enabled_by: str | None = None
    width: int = 1  # relative width in its row

    @property
    def bounds(self) -> tuple[Any, Any]:
        """(low, high) of a number input, as ints for an INT field (the input then takes whole numbers)."""
        cast = int if self.kind == INT else float
        return cast(self.low), cast(self.high)

    def widget_value(self, current: dict) -> Any:
        """The value the input starts at, from the arguments in effect (`FamilyArguments.to_dict()`)."""
        value = current[self.argument]
        if self.element is not None:
            value = value[self.element]
        if value is None and self.off is not None:
            value = self.off
        return {INT: int, FLOAT: float, TOGGLE: bool}[self.kind](value)

    def argument_value(self, value: Any, current: dict) -> Any:
        """The argument an input value sets, given the arguments in effect."""
        if self.off is not None and value >= self.off:
            return None
        if self.element is not None:
            whole = list(current[self.argument])
            whole[self.element] = value
            return tuple(whole)
        return value


@dataclass(frozen=True)
class FamilySpec:
    """Everything Sieve knows about one model family."""

    name: str  # stored in settings and on every version
    title: str  # what a user reads (Settings, Model page, Train now)
    description: str  # one line on the Settings page
    arguments: type[FamilyArguments]
    train: Callable[..., TrainedModel]
    load: Callable[[Path], TrainedModel]
    loads_with: str  # the call that loads an exported directory without Sieve (model card, Export page)
    encoder_family: str  # the kind of encoder its models embed with
    rows: tuple[tuple[SettingField, ...], ...]  # the Settings page's inputs for it, row by row
    slow_on_cpu: bool = False  # the Settings page warns when the worker has no GPU
    # (n_labels, n_texts, arguments, device) -> seconds of one retrain, for that warning
    estimate_seconds: Callable[[int, int, Any, str], float] | None = None

    @property
    def fields(self) -> tuple[SettingField, ...]:
        return tuple(f for row in self.rows for f in row)

    def changed_arguments(self, inputs: dict[str, Any], current: FamilyArguments) -> dict:
        """The arguments the Settings page's inputs change, and only those (so the others keep
        following the defaults). `inputs` holds each field's input value under `field_key(field)`."""
        now = current.to_dict()
        changed: dict = {}
        for f in self.fields:
            key = field_key(f)
            if key not in inputs:
                continue
            value = f.argument_value(inputs[key], {**now, **changed})
            if value != now[f.argument]:
                changed[f.argument] = value
        return changed


def field_key(f: SettingField) -> str:
    return f.argument if f.element is None else f"{f.argument}[{f.element}]"


def _specs() -> tuple[FamilySpec, ...]:
    from core.learning.classifiers import setfit_family, transformer

    setfit_loader = "setfit.SetFitModel.from_pretrained(folder)"
    steps = SettingField("max_steps", "Training steps (at most)", INT, 1, 10_000,
                         help="Contrastive steps of 16 text pairs: about 0.65 s a step on a 2-core CPU.")
    training_tokens = SettingField(
        "max_length", "Max tokens per text in training", INT, 8, 512,
        help="Longer texts are cut to this many tokens while the encoder trains. Embedding and predicting always "
             "read as much as the base encoder does (256 tokens for the default model).")
    tokens = SettingField("max_length", "Max tokens per text", INT, 8, 512)
    return (
        FamilySpec(
            "setfit", "SetFit", "contrastive fine-tuning of the encoder, then the head above",
            setfit_family.SetFitArguments, setfit_family.train_setfit, setfit_family.load, setfit_loader,
            SENTENCE_ENCODER,
            rows=((steps, training_tokens, SettingField("batch_size", "Pairs per step", INT, 2, 256)),
                  (SettingField("warm_start", "Continue from the last fine-tuned encoder (warm start)", TOGGLE,
                                help="The first retrain starts from the base model; later ones continue from the "
                                     "last one and need far fewer steps. On trec6, rounds of 6 steps took a sixth "
                                     "of small-text's SetFit round and were more accurate (docs/benchmarks.md).",
                                width=2),
                   SettingField("warm_steps", "Steps when continuing", INT, 1, 10_000, enabled_by="warm_start")))),
        FamilySpec(
            "setfit-diff", "SetFit (differentiable head)", "SetFit with its torch head",
            setfit_family.SetFitDiffArguments, setfit_family.train_setfit_diff, setfit_family.load, setfit_loader,
            SENTENCE_ENCODER,
            rows=((steps, training_tokens,
                   SettingField("head_learning_rate", "Head learning rate", FLOAT, 1e-5, 1.0, format="%.5f")),
                  (SettingField("num_epochs", "Head epochs", INT, 1, 100, element=1),
                   SettingField("l2_weight", "L2 weight", FLOAT, 0.0, 1.0),
                   SettingField("end_to_end", "End to end (also train the body in the head phase)", TOGGLE)))),
        FamilySpec(
            "transformer", "transformer fine-tuning", "full fine-tuning with a classification head",
            transformer.TransformerArguments, transformer.train, transformer.load,
            'transformers.pipeline("text-classification", model=folder)', "transformer",
            rows=((SettingField("num_epochs", "Epochs", INT, 1, 100),
                   SettingField("learning_rate", "Learning rate", FLOAT, 1e-6, 1e-2, format="%.6f"),
                   tokens),
                  (SettingField("batch_size", "Batch size", INT, 1, 256),
                   SettingField("layerwise_gradient_decay", "Layerwise learning-rate decay (1: off)", FLOAT, 0.05,
                                1.0, off=1.0),
                   SettingField("early_stopping_patience", "Early stopping patience (epochs, 0: off)", INT, 0, 20)),
                  (SettingField("freeze_encoder", "Freeze the encoder (train only the head)", TOGGLE),
                   SettingField("gradual_unfreezing", "Gradual unfreezing (one more layer per epoch)", TOGGLE))),
            slow_on_cpu=True, estimate_seconds=transformer.estimate_seconds),
    )


SPECS: dict[str, FamilySpec] = {s.name: s for s in _specs()}
FAMILIES = tuple(SPECS)
CLASSIFIERS = ("head",) + FAMILIES  # what `simulate --classifier` accepts


def spec(name: str) -> FamilySpec:
    if name not in SPECS:
        raise ValueError(f"Unknown classifier family {name!r}; choose from {', '.join(FAMILIES)}.")
    return SPECS[name]


def title(name: str) -> str:
    """What a user reads for a family; an unknown (older) family name as it is."""
    return SPECS[name].title if name in SPECS else name


def arguments(name: str, values: dict | None = None) -> FamilyArguments:
    """The family's arguments dataclass from a settings dict (unknown keys are an error)."""
    return spec(name).arguments.from_dict(values or {})


def argument_names(name: str) -> set[str]:
    return {f.name for f in dataclasses.fields(spec(name).arguments)}


def loader(family: str) -> str:
    """The call that loads an exported directory of this family without Sieve."""
    if family == "multilabel":  # one-vs-rest heads with thresholds (core.files.multilabel_export, issue 21)
        return "import predict; predict.predict(texts)  # numpy + sentence-transformers, see README.md"
    return spec(family).loads_with


def encoder_family(family: str) -> str:
    """The kind of encoder a family's model embeds with: SetFit tunes a sentence encoder."""
    return spec(family).encoder_family


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
