"""Label quality: each annotator's labels, final labels, agreement, adjudication, suspicious labels.

Final label of a text, by precedence: the newest adjudication or review decision > the label
every annotator gave (unanimous) > the label most annotators gave (majority) > the single
annotator's label. A tie with no decision has no final label (it waits on the Adjudicate page)
and is left out of training. The model trains on final labels only (`core.label_arrays`).

Agreement (Cohen's kappa per annotator pair from scikit-learn, Krippendorff's alpha from the
`krippendorff` package) and suspicious labels (confident learning, cleanlab) need scikit-learn,
so they run in the worker as a `quality` job whose result the pages read from the store
(`latest_analysis`); the UI process never imports scikit-learn. Final labels and adjudication
are plain SQL and Python, fit for the UI.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from core import store
from core.team import auth

QUALITY = store.JobKind.QUALITY  # the job kind of the analysis
ADJUDICATION, REVIEW = "adjudication", "review"
UNANIMOUS, MAJORITY, SINGLE, DISPUTED = "unanimous", "majority", "single", "disputed"
MAX_ISSUES = 500  # suspicious labels kept in an analysis, the most suspicious first


def annotator_labels(db, project_id: int) -> list[dict]:
    """The label each annotator has in effect on each text (their newest label not undone):
    (example_id, annotator, label, seconds, created_at, annotation_id, split), by example then annotation."""
    return store.annotator_labels(db, project_id)


def own_labels_only(db, actor: auth.Actor | None) -> bool:
    """Whether `actor` may see only their own labels: annotators label blind (another person's label,
    or an overlap text's first label while it waits for its second, would sway them). Read from the
    store, so a role changed a moment ago counts. None (no actor given): an internal caller, sees all."""
    if actor is None or actor.user_id is None:
        return False  # single-user mode: the local admin
    row = store.user(db, actor.user_id)
    return row is None or not row["active"] or row["role"] == auth.ANNOTATOR


def decisions(db, project_id: int) -> dict[int, dict]:
    """The adjudication or review decision in effect per text (the newest)."""
    return store.decisions(db, project_id)


@dataclass
class FinalLabel:
    example_id: int
    split: str
    label: str | None  # None: annotators tie and nobody decided yet
    source: str  # adjudication, review, unanimous, majority, single, disputed
    votes: dict[str, str] = field(default_factory=dict)  # annotator -> label
    decided_by: str | None = None


def resolve(votes: dict[str, str], decision: dict | None) -> tuple[str | None, str]:
    """(final label, how it was reached) from the annotators' labels and a decision, by precedence."""
    if decision is not None:
        return decision["label"], decision["source"]
    counts = Counter(votes.values()).most_common()
    if not counts:
        return None, DISPUTED
    if len(counts) == 1:
        return counts[0][0], SINGLE if len(votes) == 1 else UNANIMOUS
    if counts[0][1] > counts[1][1]:
        return counts[0][0], MAJORITY
    return None, DISPUTED


def final_labels(db, project_id: int, split: str | None = None) -> list[FinalLabel]:
    """Every labeled (or decided) text with its final label and every annotator's label, by example id."""
    decided = decisions(db, project_id)
    votes: dict[int, dict[str, str]] = {}
    splits: dict[int, str] = {}
    for row in annotator_labels(db, project_id):
        votes.setdefault(row["example_id"], {})[row["annotator"]] = row["label"]
        splits[row["example_id"]] = row["split"]
    for example_id in decided.keys() - splits.keys():
        splits[example_id] = store.example(db, example_id)["split"]
    out = []
    for example_id in sorted(splits):
        if split is not None and splits[example_id] != split:
            continue
        decision = decided.get(example_id)
        label, source = resolve(votes.get(example_id, {}), decision)
        out.append(FinalLabel(example_id, splits[example_id], label, source, votes.get(example_id, {}),
                              decision["reviewer"] if decision else None))
    return out


def disagreements(db, project_id: int, actor: auth.Actor | None = None) -> list[FinalLabel]:
    """Texts whose annotators gave different labels and that nobody adjudicated yet, ties first
    (none for an annotator: they see no other person's labels)."""
    if own_labels_only(db, actor):
        return []
    rows = [f for f in final_labels(db, project_id)
            if f.source in (MAJORITY, DISPUTED) and len(set(f.votes.values())) > 1]
    return sorted(rows, key=lambda f: (f.source != DISPUTED, f.example_id))


def proposed_label(item: FinalLabel) -> str:
    """The label a reviewer is offered first for a disagreement: the final label by precedence
    (`resolve`: the majority's), or for a tie the label given first among the most given."""
    label, _ = resolve(item.votes, None)
    return label if label is not None else Counter(item.votes.values()).most_common(1)[0][0]


def open_issues(db, project_id: int, analysis: dict, actor: auth.Actor | None = None) -> list[dict]:
    """The analysis's suspicious labels that no reviewer has kept or changed yet, most suspicious first
    (none for an annotator: each issue names every annotator's label)."""
    if own_labels_only(db, actor):
        return []
    done = reviewed(db, project_id)
    return [issue for issue in analysis["issues"] if issue["example_id"] not in done]


def adjudicate(db, actor: auth.Actor, project_id: int, example_id: int, label: str, reason: str = "",
               source: str = ADJUDICATION) -> int:
    """Settle a text's label (a disagreement, or a suspicious label on review): appended, never
    overwriting, with who and why; the head is refitted on the new final labels."""
    actor = auth.require(db, actor, auth.ADJUDICATE if source == ADJUDICATION else auth.REVIEW, project_id)
    if source not in (ADJUDICATION, REVIEW):
        raise ValueError(f"unknown decision source {source!r}")
    if store.project_kind(db, project_id) == "multi":  # one class for a set would break its final set
        raise store.StoreError("This project is multi-label: decide each disputed label of the text "
                               "(in or out) instead of one class for it.")
    if label not in store.class_names(db, project_id):
        raise store.StoreError(f"{label!r} is not a class of this project.")
    if store.example_project(db, example_id) != project_id:
        raise store.StoreError("That text is not part of this project.")
    previous = next((f for f in final_labels(db, project_id) if f.example_id == example_id), None)
    with store.transaction(db) as conn:
        decision_id = store.add_decision(conn, project_id, example_id, label, actor.name, source,
                                         previous.label if previous else None, reason.strip())
        auth.audit(conn, actor, source, project_id, example_id=example_id, label=label,
                   previous=previous.label if previous else None, reason=reason.strip())
        store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": source})
    return decision_id


# ---------------------------------------------------------------- agreement (worker side)


def reliability_matrix(votes: list[dict[str, str]], classes: list[str]) -> tuple[list[str], np.ndarray]:
    """(annotators, coders x units matrix of class ids, NaN where a coder did not label the unit)."""
    annotators = sorted({a for v in votes for a in v})
    position = {c: i for i, c in enumerate(classes)}
    data = np.full((len(annotators), len(votes)), np.nan)
    for unit, v in enumerate(votes):
        for a, label in v.items():
            data[annotators.index(a), unit] = position.get(label, np.nan)
    return annotators, data


def agreement(db, project_id: int) -> dict:
    """Kappa per annotator pair, Krippendorff's alpha overall and per class (one class against the rest),
    over the texts two or more annotators labeled (imported labels left out)."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    classes = store.class_names(db, project_id)
    votes = [{a: l for a, l in f.votes.items() if a != store.IMPORTED} for f in final_labels(db, project_id)]
    votes = [v for v in votes if len(v) >= 2]
    out = {"texts": len(votes), "pairs": [], "alpha": None, "alpha_per_class": {}}
    if not votes:
        return out
    annotators, data = reliability_matrix(votes, classes)
    for i, a in enumerate(annotators):
        for j in range(i + 1, len(annotators)):
            both = ~np.isnan(data[i]) & ~np.isnan(data[j])
            if both.sum() == 0:
                continue
            x, y = data[i, both].astype(int), data[j, both].astype(int)
            kappa = cohen_kappa_score(x, y, labels=list(range(len(classes))))
            out["pairs"].append({"a": a, "b": annotators[j], "texts": int(both.sum()),
                                 "agreement": float((x == y).mean()),
                                 "kappa": None if np.isnan(kappa) else float(kappa)})
    out["alpha"] = _alpha(krippendorff, data)
    for k, name in enumerate(classes):
        binary = np.where(np.isnan(data), np.nan, (data == k).astype(float))
        out["alpha_per_class"][name] = _alpha(krippendorff, binary)
    return out


def _alpha(krippendorff, data: np.ndarray) -> float | None:
    values = data[~np.isnan(data)]
    if len(np.unique(values)) < 2:
        return None  # one value only: alpha is undefined (no variation to agree on)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


# ---------------------------------------------------------------- suspicious labels (worker side)


def label_issues(db, project_id: int, max_folds: int = 5, seed: int = 0) -> list[dict]:
    """Final labels ranked by how likely they are wrong, the most suspicious first.

    Out-of-fold probabilities of the project's head (its settings) on the current encoder's
    embeddings, then cleanlab's label quality scores (self-confidence) and its confident-learning
    filter. Each row: example_id, label, quality, suggested (the model's best other class),
    confidence (its probability), flagged (find_label_issues calls it an issue)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.model_selection import StratifiedKFold

    from core.learning import embeddings
    from core.learning.classifiers import head

    version = store.current_version(db, project_id)
    encoder_row = store.encoder(db, version["encoder_id"]) if version else store.latest_encoder(db, project_id)
    if encoder_row is None:
        return []
    names = store.class_names(db, project_id)
    position = {c: i for i, c in enumerate(names)}
    ids, vectors = embeddings.read(encoder_row["path"])
    finals = [f for f in final_labels(db, project_id) if f.label in position]
    example_ids = np.array([f.example_id for f in finals], dtype=np.int64)
    rows = np.searchsorted(ids, example_ids)
    present = (rows < len(ids)) & (ids[np.minimum(rows, len(ids) - 1)] == example_ids)
    finals = [f for f, p in zip(finals, present) if p]
    rows = rows[present]
    y = np.array([position[f.label] for f in finals], dtype=np.int64)
    counts = np.bincount(y, minlength=len(names))
    folds = min(max_folds, int(counts[counts > 0].min()) if len(y) else 0)
    if folds < 2 or (counts > 0).sum() < 2:
        return []
    x = np.asarray(vectors[np.sort(rows)], dtype=np.float32)[np.argsort(np.argsort(rows))]
    settings = store.settings(db, project_id)
    probs = np.zeros((len(y), len(names)), dtype=np.float64)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = head.fit(x[train], y[train], settings.head)
        probs[test] = head.predict_proba(model, x[test], len(names))
    probs = np.clip(probs, 1e-6, None)
    probs /= probs.sum(1, keepdims=True)
    quality = get_label_quality_scores(y, probs, method="self_confidence")
    flagged = find_label_issues(y, probs, filter_by="prune_by_noise_rate")
    others = probs.copy()
    others[np.arange(len(y)), y] = -1
    best = others.argmax(1)
    order = np.argsort(quality, kind="stable")[:MAX_ISSUES]
    return [{"example_id": int(finals[i].example_id), "label": finals[i].label, "quality": float(quality[i]),
             "suggested": names[int(best[i])], "confidence": float(probs[i, best[i]]), "flagged": bool(flagged[i]),
             "source": finals[i].source, "votes": finals[i].votes} for i in order]


def analyse(db, project_id: int) -> dict:
    """The `quality` job of a single-label project: agreement and suspicious labels, stored as the job's
    result (a multi-label project's job runs `core.team.multilabel_quality.analyse`)."""
    return {"agreement": agreement(db, project_id), "issues": label_issues(db, project_id),
            "labels": len(final_labels(db, project_id))}


def request_analysis(db, actor: auth.Actor, project_id: int) -> int:
    """Queue a `quality` job (agreement and suspicious labels), unless one is already waiting."""
    auth.require(db, actor, auth.REVIEW, project_id)
    with store.transaction(db) as conn:
        for job in store.active_jobs(db, project_id):
            if job["kind"] == QUALITY:
                return job["id"]
        return store.enqueue(conn, project_id, QUALITY, {"watermark": store.max_annotation_id(db, project_id)},
                             priority=2)


def latest_analysis(db, project_id: int) -> dict | None:
    """The newest finished analysis: {"agreement", "issues", "labels", "finished_at"}, None if none yet."""
    row = store.latest_result(db, project_id, QUALITY)
    if row is None:
        return None
    return {**row["result"], "finished_at": row["finished_at"]}


def reviewed(db, project_id: int) -> set[int]:
    """Texts a reviewer has already kept or changed on review (left out of the list)."""
    return store.decided_examples(db, project_id)


# ---------------------------------------------------------------- per annotator


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def team_figures(db, project_id: int, analysis: dict | None = None) -> list[dict]:
    """Per annotator: labels, labels per hour (over their active spans), median seconds per label,
    kappa with others (from the latest analysis: the mean over their pairs weighted by the texts each
    pair shares) with the shared texts it rests on, and the share of their labels a decision changed.
    Rounded as shown (people read them; nobody needs a twelfth digit)."""
    rows = annotator_labels(db, project_id)
    decided = decisions(db, project_id)
    per: dict[str, list[dict]] = {}
    for row in rows:
        if row["annotator"] != store.IMPORTED:
            per.setdefault(row["annotator"], []).append(row)
    # Each pair's kappa counts by the texts it rests on: a kappa over 3 shared texts says little
    # next to one over 300, so the mean is weighted by them, and the count is shown beside it.
    kappas: dict[str, list[tuple[float, int]]] = {}
    for pair in ((analysis or {}).get("agreement") or {}).get("pairs", []):
        if pair["kappa"] is not None:
            kappas.setdefault(pair["a"], []).append((pair["kappa"], pair["texts"]))
            kappas.setdefault(pair["b"], []).append((pair["kappa"], pair["texts"]))
    if store.project_kind(db, project_id) == "multi":  # a decision per label changes some of a set, or none
        from core.labeling import multilabel

        classes = store.class_names(db, project_id)
        changed_by = lambda decision, mine: multilabel.decision_changes(decision, mine, classes)  # noqa: E731
    else:
        changed_by = lambda decision, mine: decision != mine  # noqa: E731
    out = []
    for name, labels in sorted(per.items()):
        seconds = [r["seconds"] for r in labels if r["seconds"] is not None]
        times = sorted(r["created_at"] for r in labels)
        # Active time: gaps over 10 minutes are breaks, not labeling.
        active = sum(min(b - a, 600.0) for a, b in zip(times, times[1:])) + (np.median(seconds) if seconds else 0)
        changed = sum(1 for r in labels if r["example_id"] in decided and changed_by(decided[r["example_id"]]["label"], r["label"]))
        pairs = kappas.get(name, [])
        shared = sum(texts for _, texts in pairs)
        out.append({"annotator": name, "labels": len(labels),
                    "labels_per_hour": _round(len(labels) / (active / 3600), 1) if active > 0 else None,
                    "median_seconds": _round(float(np.median(seconds)), 1) if seconds else None,
                    "kappa_with_others": _round(sum(k * t for k, t in pairs) / shared, 2) if shared else None,
                    "shared_texts": shared,
                    "changed_share": _round(changed / len(labels), 3)})
    return out
