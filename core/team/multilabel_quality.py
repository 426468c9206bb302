"""Label quality of multi-label projects (issue 21): conflicts and adjudication per label, agreement
per label and over sets.

**Conflicts.** A text two or more annotators labeled whose sets differ has *disputed labels*: each
label some of them gave and others left out. A reviewer decides each disputed label (in or out),
or accepts the majority for all of them. A decision is appended to the adjudications table (never
overwritten) with its `label` a JSON object {label: 0/1} (`multilabel.encode_decision`); the
newest decision of a text holds every label decided on it so far (a new decision keeps the
earlier ones it does not change), and the final set (`multilabel.final_sets`) takes each decided
label as decided and the majority for the rest. A single-label style decision (one class for the
text, `quality.adjudicate`) is refused on a multi-label project.

**Agreement** over the texts two or more annotators labeled (imported labels left out), in the
worker's `quality` job like the single-label figures (scikit-learn stays out of the UI process):
per label, each text is a binary answer (the label is in the annotator's set or not), with
Krippendorff's alpha (nominal, the `krippendorff` package) and Cohen's kappa (scikit-learn) per
annotator pair, averaged over the pairs; overall, the mean of each over the labels, and
Krippendorff's alpha on whole sets with the MASI distance (Passonneau 2006): 1 - J * M, J the
Jaccard overlap, M 1 for equal sets, 2/3 when one contains the other, 1/3 when they only overlap, 0
when disjoint (two empty sets, both "none of these", are at distance 0).

Annotators see none of this (they label blind: `quality.own_labels_only`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Sequence

import numpy as np

from core import store
from core.labeling import multilabel
from core.team import auth, quality

IN, OUT = 1, 0


@dataclass
class LabelConflict:
    label: str
    given_by: list[str]  # annotators whose set holds the label
    left_out_by: list[str]  # annotators whose set does not
    majority: int | None  # 1 in, 0 out, None a tie (out until decided)
    decided: int | None = None  # a reviewer's decision on it, if any


@dataclass
class SetConflict:
    example_id: int
    split: str
    votes: dict[str, list[str]]  # annotator -> set
    labels: list[LabelConflict]  # the disputed labels, in class order
    final: list[str]  # the final set as it stands
    decided_by: str | None = None

    @property
    def open(self) -> list[LabelConflict]:
        """The disputed labels nobody decided yet."""
        return [c for c in self.labels if c.decided is None]

    @property
    def ties(self) -> list[LabelConflict]:
        return [c for c in self.open if c.majority is None]


def _conflict(final: multilabel.FinalSet, classes: list[str]) -> SetConflict | None:
    votes = final.votes
    if len(votes) < 2 or len({tuple(v) for v in votes.values()}) < 2:
        return None
    disputed = []
    for name in classes:
        given = [a for a, s in votes.items() if name in s]
        if given and len(given) < len(votes):
            disputed.append(LabelConflict(name, given, [a for a in votes if a not in given],
                                          multilabel.majority(votes, name), final.decided.get(name)))
    return SetConflict(final.example_id, final.split, votes, disputed, final.labels, final.decided_by)


def conflicts(db, project_id: int, actor: auth.Actor | None = None, decided_too: bool = False) -> list[SetConflict]:
    """Texts whose annotators' sets differ, with the disputed labels: by default only those with a
    disputed label nobody decided yet; texts with a tie first, then by example id. None for an
    annotator (they see no other person's labels)."""
    if quality.own_labels_only(db, actor):
        return []
    classes = store.class_names(db, project_id)
    out = [c for f in multilabel.final_sets(db, project_id) if (c := _conflict(f, classes)) is not None
           and (decided_too or c.open)]
    return sorted(out, key=lambda c: (not c.ties, c.example_id))


def _require_multi(db, project_id: int) -> None:
    if not multilabel.is_multi(db, project_id):
        raise store.StoreError("This project is single-label: decide one class for the text.")


def adjudicate_labels(db, actor: auth.Actor, project_id: int, example_id: int, decided: dict[str, int | bool],
                      reason: str = "") -> int:
    """Decide labels of a text of a multi-label project, each in (1, True) or out (0, False): appended
    with who and why, keeping the labels decided on it before; the heads are refitted."""
    actor = auth.require(db, actor, auth.ADJUDICATE, project_id)
    _require_multi(db, project_id)
    if store.example_project(db, example_id) != project_id:
        raise store.StoreError("That text is not part of this project.")
    if not decided:
        raise store.StoreError("Decide at least one label.")
    if any(not isinstance(v, (bool, int, np.integer)) or int(v) not in (IN, OUT) for v in decided.values()):
        raise store.StoreError("Decide each label as in (1) or out (0).")
    classes = store.class_names(db, project_id)
    previous = next((f for f in multilabel.final_sets(db, project_id) if f.example_id == example_id), None)
    if previous is None:
        raise store.StoreError("That text has no labels yet: there is nothing to decide.")
    try:
        stored = multilabel.encode_decision({**previous.decided, **{k: int(v) for k, v in decided.items()}}, classes)
    except multilabel.labelsets.BadLabelSet as err:
        raise store.StoreError(str(err)) from None
    before = multilabel.labelsets.encode(previous.labels, classes)
    with store.transaction(db) as conn:
        decision_id = store.add_decision(conn, project_id, example_id, stored, actor.name, quality.ADJUDICATION,
                                         before, reason.strip())
        auth.audit(conn, actor, quality.ADJUDICATION, project_id, example_id=example_id,
                   labels={k: int(v) for k, v in decided.items()}, previous=before, reason=reason.strip())
        store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": quality.ADJUDICATION})
    return decision_id


def accept_majority(db, actor: auth.Actor, project_id: int, example_id: int, reason: str = "") -> int:
    """Decide every undecided disputed label of the text as most annotators have it (a tie: out, as
    the final set has it)."""
    auth.require(db, actor, auth.ADJUDICATE, project_id)
    _require_multi(db, project_id)
    conflict = next((c for c in conflicts(db, project_id, decided_too=True) if c.example_id == example_id), None)
    if conflict is None or not conflict.open:
        raise store.StoreError("That text has no disputed label left to decide.")
    return adjudicate_labels(db, actor, project_id, example_id, {c.label: c.majority or OUT for c in conflict.open},
                             reason)


# ---------------------------------------------------------------- agreement (worker side)


def masi_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """MASI distance between two label sets: 1 - Jaccard * monotonicity (0 for two empty sets)."""
    a, b = set(a), set(b)
    if not a and not b:
        return 0.0
    both = len(a & b)
    m = 1.0 if a == b else 2 / 3 if both == min(len(a), len(b)) else 1 / 3 if both else 0.0
    return 1.0 - both / len(a | b) * m


def _alpha(data: np.ndarray, metric="nominal", domain=None) -> float | None:
    """Krippendorff's alpha of a coders x units matrix (NaN: not coded); None when undefined
    (no unit coded twice, or a single value: nothing varies to agree on)."""
    import krippendorff

    paired = (~np.isnan(data)).sum(0) >= 2
    values = data[:, paired][~np.isnan(data[:, paired])]
    if not paired.any() or len(np.unique(values)) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data[:, paired], level_of_measurement=metric,
                                    value_domain=domain))


def binary_matrix(votes: list[dict[str, list[str]]], annotators: list[str], label: str) -> np.ndarray:
    """Coders x units: 1 where the annotator's set holds `label`, 0 where it does not, NaN unlabeled."""
    data = np.full((len(annotators), len(votes)), np.nan)
    for unit, v in enumerate(votes):
        for a, labels in v.items():
            data[annotators.index(a), unit] = float(label in labels)
    return data


def set_alpha(votes: list[dict[str, list[str]]]) -> float | None:
    """Krippendorff's alpha on whole sets with the MASI distance."""
    annotators = sorted({a for v in votes for a in v})
    sets = sorted({tuple(sorted(s)) for v in votes for s in v.values()})
    index = {s: i for i, s in enumerate(sets)}
    data = np.full((len(annotators), len(votes)), np.nan)
    for unit, v in enumerate(votes):
        for a, labels in v.items():
            data[annotators.index(a), unit] = index[tuple(sorted(labels))]
    distances = np.array([[masi_distance(x, y) for y in sets] for x in sets])

    def masi(v1, v2, i1, i2, n_v, dtype=np.float64):
        return distances[np.asarray(v1, dtype=int), np.asarray(v2, dtype=int)].astype(dtype)

    return _alpha(data, masi, np.arange(len(sets)))


def _kappa(x: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(np.unique(np.concatenate([x, y]))) < 2:
        return None  # both gave one same answer throughout: kappa is undefined
    value = cohen_kappa_score(x, y, labels=[0, 1])
    return None if np.isnan(value) else float(value)


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def agreement_of(votes: list[dict[str, list[str]]], classes: list[str]) -> dict:
    """The figures on these texts (each a dict annotator -> set, two or more annotators each):
    per label alpha and the mean pairwise kappa; overall the means over labels and the MASI alpha
    on sets; per annotator pair the exact-set agreement and the mean over labels of its kappa."""
    votes = [v for v in votes if len(v) >= 2]
    annotators = sorted({a for v in votes for a in v})
    out = {"multilabel": True, "texts": len(votes), "annotators": annotators, "labels": [], "pairs": [],
           "mean_alpha": None, "mean_kappa": None, "alpha_masi": None, "alpha": None}
    if not votes:
        return out
    matrices = {name: binary_matrix(votes, annotators, name) for name in classes}
    pair_kappas: dict[tuple[int, int], list[float | None]] = {}
    for name, data in matrices.items():
        kappas = []
        for i, j in combinations(range(len(annotators)), 2):
            both = ~np.isnan(data[i]) & ~np.isnan(data[j])
            if both.any():
                kappa = _kappa(data[i, both].astype(int), data[j, both].astype(int))
                kappas.append(kappa)
                pair_kappas.setdefault((i, j), []).append(kappa)
        coded = data[~np.isnan(data)]
        out["labels"].append({"label": name, "alpha": _alpha(data), "kappa": _mean(kappas),
                              "given": int(coded.sum()), "answers": int(len(coded))})
    for (i, j), kappas in pair_kappas.items():
        shared = [v for v in votes if annotators[i] in v and annotators[j] in v]
        same = sum(set(v[annotators[i]]) == set(v[annotators[j]]) for v in shared)
        out["pairs"].append({"a": annotators[i], "b": annotators[j], "texts": len(shared),
                             "agreement": same / len(shared), "kappa": _mean(kappas)})
    out["mean_alpha"] = _mean(r["alpha"] for r in out["labels"])
    out["mean_kappa"] = _mean(r["kappa"] for r in out["labels"])
    out["alpha_masi"] = out["alpha"] = set_alpha(votes)  # "alpha": the one figure the Review page shows
    return out


def agreement(db, project_id: int) -> dict:
    """`agreement_of` the texts two or more annotators labeled (imported labels left out)."""
    votes = [{a: s for a, s in f.votes.items() if a != store.IMPORTED} for f in multilabel.final_sets(db, project_id)]
    return agreement_of(votes, store.class_names(db, project_id))


def analyse(db, project_id: int) -> dict:
    """The `quality` job of a multi-label project: agreement (suspicious labels are single-label only)."""
    return {"agreement": agreement(db, project_id), "issues": [], "labels": len(multilabel.final_sets(db, project_id)),
            "watermark": store.max_annotation_id(db, project_id)}


# ---------------------------------------------------------------- what the pages show


@dataclass
class AgreementReport:
    texts: int
    overall: list[dict]  # figure, value, what it means
    per_label: list[dict]  # label, alpha, kappa, share given
    pairs: list[dict]
    finished_at: float | None = None
    stale: bool = False  # labels were given after it was measured
    notes: list[str] = field(default_factory=list)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def report(db, project_id: int, actor: auth.Actor | None = None) -> AgreementReport | None:
    """The latest analysis's agreement as rows for the Team and Adjudicate pages; None for an
    annotator, or when no analysis of this kind has run yet."""
    if quality.own_labels_only(db, actor):
        return None
    analysis = quality.latest_analysis(db, project_id)
    if analysis is None or not analysis["agreement"].get("multilabel"):
        return None
    a = analysis["agreement"]
    overall = [
        {"figure": "Krippendorff's alpha, mean over labels", "value": _round(a["mean_alpha"])},
        {"figure": "Cohen's kappa, mean over labels (each the mean over annotator pairs)", "value": _round(a["mean_kappa"])},
        {"figure": "Krippendorff's alpha on whole sets (MASI distance)", "value": _round(a["alpha_masi"])},
    ]
    per_label = [{"label": r["label"], "Krippendorff's alpha": _round(r["alpha"]), "Cohen's kappa (mean over pairs)":
                  _round(r["kappa"]), "given in answers": f"{r['given']} of {r['answers']}"} for r in a["labels"]]
    pairs = [{"annotators": f"{p['a']} / {p['b']}", "texts": p["texts"], "same set": _round(p["agreement"]),
              "Cohen's kappa (mean over labels)": _round(p["kappa"])} for p in a["pairs"]]
    notes = ["A label nobody gave, or everybody gave on every text, has no alpha or kappa (nothing varies)."]
    return AgreementReport(a["texts"], overall, per_label, pairs, analysis["finished_at"],
                           analysis.get("watermark", 0) < store.max_annotation_id(db, project_id), notes)
