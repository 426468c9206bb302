"""A project's settings: one typed record with its defaults and its checks.

Stored as JSON in `projects.settings`. `from_dict` reads what any earlier version stored
(missing keys take today's defaults, keys no longer used are dropped) and `to_dict` writes
it back. Every reader and writer goes through this class, so a setting is defined once.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.learning import classifiers, strategies
from core.learning.classifiers.head import HeadArguments

DEFAULT_FAMILY = "setfit"
CPU_RETRAIN_EVERY = 50  # a SetFit retrain takes a minute or more on a CPU: not after every batch
# Automatic wall-time budgets of a full retrain's training phase. On a 2-core CPU, 180 s is
# ~80 SetFit steps of 16 pairs (the step cap); on a GPU the step cap is reached far sooner.
AUTO_RETRAIN_BUDGET_S = {"cpu": 180, "cuda": 120}


MULTI_TARGET_STRATEGIES = ("one-vs-rest", "multi-output", "classifier-chain")  # core.learning.multilabel_full
MULTILABEL_FAMILIES = ("setfit", "transformer")  # the families a multi-label project's full retrain can use


def families_for(kind: str) -> tuple[str, ...]:
    """The model families a project of this kind ("single" or "multi") can choose."""
    return MULTILABEL_FAMILIES if kind == "multi" else classifiers.FAMILIES


class SettingsError(ValueError):
    """Settings that cannot be used, with a message meant for the user."""


@dataclass
class ProjectSettings:
    refit_every: int = 5  # new labels between fast head refits
    # New labels between full retrains; 0: only on request; None: automatic, after every batch
    # (`refit_every`) when the worker has a GPU, every CPU_RETRAIN_EVERY labels on a CPU.
    retrain_every: int | None = None
    strategy: str = "auto"  # which texts to show next (core.strategies.STRATEGIES)
    queue_size: int = 200  # ranked texts published per version
    batch_size: int = 20  # the diversified head of the queue
    label_budget: int | None = None  # labels the team plans to give; a stopping signal
    retrain_budget_s: int | None = None  # wall time a full retrain may train; None: automatic by device
    head: HeadArguments = field(default_factory=HeadArguments)  # the fast head, also SetFit's head
    family: str = DEFAULT_FAMILY  # the full retrain's model family
    family_args: dict[str, dict] = field(default_factory=dict)  # per family, what differs from its defaults
    # Percent of texts (0-100) also sent to a second annotator, to measure agreement; which
    # texts is a fixed hash per text (`store.overlap_chosen`), so random among the queued ones.
    overlap: int = 0
    # Multi-label projects: how the heads on the sentence encoder treat the labels (core.learning.multilabel_full).
    multi_target_strategy: str = "one-vs-rest"

    def __post_init__(self):
        problems = []
        if not isinstance(self.refit_every, int) or self.refit_every < 1:
            problems.append("refit every must be a whole number of labels, at least 1")
        if self.retrain_every is not None and (not isinstance(self.retrain_every, int) or self.retrain_every < 0):
            problems.append("retrain every must be a whole number of labels, 0 or more")
        if self.retrain_budget_s is not None and (not isinstance(self.retrain_budget_s, int)
                                                  or self.retrain_budget_s < 10):
            problems.append("the retrain time budget must be at least 10 seconds")
        if self.strategy not in strategies.STRATEGIES:
            problems.append(f"unknown strategy {self.strategy!r} (choose from {', '.join(strategies.STRATEGIES)})")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            problems.append("batch size must be at least 1")
        elif not isinstance(self.queue_size, int) or self.queue_size < self.batch_size:
            problems.append("queue size must be at least the batch size")
        if self.label_budget is not None and (not isinstance(self.label_budget, int) or self.label_budget < 1):
            problems.append("the label budget must be a positive whole number, or none")
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, int) or not 0 <= self.overlap <= 100:
            problems.append("overlap must be a whole percentage from 0 to 100")
        if self.multi_target_strategy not in MULTI_TARGET_STRATEGIES:
            problems.append(f"unknown multi-target strategy {self.multi_target_strategy!r} "
                            f"(choose from {', '.join(MULTI_TARGET_STRATEGIES)})")
        if self.family not in classifiers.FAMILIES:
            problems.append(f"unknown model family {self.family!r} (choose from {', '.join(classifiers.FAMILIES)})")
        else:
            try:
                self.family_arguments()
            except (TypeError, ValueError) as err:
                problems.append(str(err).rstrip("."))
        if problems:
            raise SettingsError("These settings cannot be used: " + "; ".join(problems) + ".")

    @classmethod
    def from_dict(cls, values: dict | None) -> "ProjectSettings":
        """From stored JSON of any earlier version: unknown keys are dropped, missing ones defaulted."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        if isinstance(values.get("head"), dict):
            try:
                values["head"] = HeadArguments.from_dict(values["head"])
            except (TypeError, ValueError) as err:
                raise SettingsError(f"These settings cannot be used: {err}") from None
        if values.get("label_budget") == 0:
            values["label_budget"] = None
        return cls(**values)

    @classmethod
    def from_user(cls, values) -> "ProjectSettings":
        """From settings a person typed (the CLI's JSON): unlike stored JSON, anything that is not
        a known setting is an error, so a misspelt one is never silently ignored."""
        if not isinstance(values, dict):
            raise SettingsError('Settings must be a JSON object, such as {"retrain_every": 100}.')
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError(f"Unknown setting(s): {', '.join(unknown)}. Known: {', '.join(known)}.")
        if "head" in values and not isinstance(values["head"], dict):
            raise SettingsError('"head" must be an object, such as {"head": {"self_training": 0}}.')
        if "family_args" in values and not isinstance(values["family_args"], dict):
            raise SettingsError('"family_args" must be an object, such as {"family_args": {"setfit": {"max_steps": 40}}}.')
        return cls.from_dict(values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def full_retrain_every(self, device: str | None) -> int:
        """Labels between full retrains on the worker's device (0: only on request)."""
        if self.retrain_every is not None:
            return self.retrain_every
        return self.refit_every if device == "cuda" else CPU_RETRAIN_EVERY

    def retrain_budget(self, device: str) -> int:
        """Seconds a full retrain may train on `device`."""
        return self.retrain_budget_s or AUTO_RETRAIN_BUDGET_S.get(device, AUTO_RETRAIN_BUDGET_S["cpu"])

    def family_arguments(self, family: str | None = None) -> classifiers.FamilyArguments:
        """The arguments dataclass of the project's family (or another one, for the Settings page).

        SetFit's head is the project's head unless the family settings name their own.
        """
        family = family or self.family
        values = dict(self.family_args.get(family, {}))
        if family == "setfit" and "head" not in values:
            values["head"] = self.head.to_dict()
        return classifiers.arguments(family, values)

    def with_changes(self, changes: dict) -> "ProjectSettings":
        """A copy with `changes` applied (same keys as `to_dict`; `family_args` merged per family)."""
        merged = self.to_dict()
        for key, value in changes.items():
            if key == "family_args":
                merged["family_args"] = {**merged["family_args"],
                                         **{f: {**merged["family_args"].get(f, {}), **v} for f, v in value.items()}}
            else:
                merged[key] = value
        return ProjectSettings.from_dict(merged)


def changes(before: ProjectSettings, after: ProjectSettings) -> dict:
    """What differs between two settings, as `with_changes` takes it: what a user changed on a form."""
    old, new = before.to_dict(), after.to_dict()
    out = {k: v for k, v in new.items() if k != "family_args" and v != old[k]}
    family_changes = {}
    for family, values in new["family_args"].items():
        was = old["family_args"].get(family, {})
        diff = {k: v for k, v in values.items() if was.get(k, _MISSING) != v}
        if diff:
            family_changes[family] = diff
    if family_changes:
        out["family_args"] = family_changes
    return out


_MISSING = object()

# What the Settings page calls each setting, for "Saved: ..." messages.
READABLE = {"refit_every": "quick-model refits", "retrain_every": "full retrains", "strategy": "query strategy",
            "queue_size": "queue size", "batch_size": "batch size", "label_budget": "label budget",
            "retrain_budget_s": "retrain time budget", "family": "model family", "family_args": "full-training options",
            "overlap": "overlap", "multi_target_strategy": "multi-target strategy", "kind": "quick model type", "params": "quick model parameters",
            "self_training": "learning from its surest texts", "class_names": "learning from the class names",
            "pseudo_weight": "weight of its surest texts", "self_training_check": "self-training check",
            "pseudo_min_gold": "self-training minimum"}


def describe(before: ProjectSettings, changed: dict) -> list[str]:
    """The changed settings in the Settings page's words (the quick model's options one by one)."""
    names = []
    for key in sorted(changed):
        if key == "head":
            old = before.head.to_dict()
            names += [READABLE.get(k, k.replace("_", " ")) for k, v in changed["head"].items() if old.get(k) != v]
        else:
            names.append(READABLE.get(key, key.replace("_", " ")))
    return names
