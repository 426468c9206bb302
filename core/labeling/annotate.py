"""The annotator's side of the loop: which text comes next, and recording labels.

The UI calls only these functions. A label is committed to SQLite (synchronous=FULL)
before `submit_label` returns, and the same transaction schedules the refits it triggers.
"""
from __future__ import annotations

import functools
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import store
from core.jobs import kinds
from core.labeling import pace, scheduling
from core.learning import embeddings, strategies
from core.team import auth

LEASE_S = 600.0  # an example shown to one annotator is hidden from the others this long


class AnnotationError(ValueError):
    """A request the annotation flow refuses, with a message for the user."""


class TextTaken(AnnotationError):
    """Someone else labeled the text, or is reading it (holds a live lease on it)."""


class Busy(AnnotationError):
    """The database stayed locked past the busy timeout; nothing was written, so trying again is safe."""


def _locks_as_busy(fn):
    """A lock error ("database is locked") reaches the page as a Busy message, not a traceback.

    Safe to try again: a failed BEGIN or COMMIT rolls the whole transaction back."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            raise Busy("Sieve is busy saving other work and could not save or fetch this in time; "
                       "nothing was lost, please try again.") from err
    return wrapper


@dataclass
class NextText:
    """A text as it was shown to an annotator: what `submit_label` records the label against."""

    example_id: int
    text: str
    meta: dict
    split: str
    strategy: str | None  # why this text: the strategy that chose it (None: not chosen, see `direct`)
    score: float | None
    version_id: int | None  # the version whose suggestion came with it
    suggestion: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)

    @classmethod
    def direct(cls, example_id: int) -> "NextText":
        """A text labeled by id without being served (scripts, benchmarks, tests): nothing chose it
        and no suggestion came with it, so the label records no strategy, score or version."""
        return cls(example_id, "", {}, "", None, None, None)


@functools.lru_cache(maxsize=32)
def _queue(version_path: str) -> tuple[np.ndarray, np.ndarray]:
    path = Path(version_path)
    return np.load(path / "queue.npy"), np.load(path / "queue_scores.npy")


@functools.lru_cache(maxsize=32)
def _probs(version_path: str) -> np.ndarray:
    return np.load(Path(version_path) / "probs.npy", mmap_mode="r")


def _queued(source: dict | None) -> list[tuple[int, float]]:
    """(example id, score) in queue order; `source` is a version or, before any model, an encoder."""
    if source is None:
        return []
    queue, scores = _queue(source["path"])
    return list(zip(queue.tolist(), scores.tolist()))


CLAIM_CHUNK = 100  # candidates checked per query while claiming


def _claim_first(conn, project_id: int, annotator: str, candidates, skip: set[int],
                 overlap: float = 0.0) -> tuple[int, float | None] | None:
    """Lease the first candidate (example id, score) that is free and not in `skip`; call inside the transaction."""
    candidates = [(i, score) for i, score in candidates if i not in skip]
    for start in range(0, len(candidates), CLAIM_CHUNK):
        chunk = candidates[start:start + CLAIM_CHUNK]
        taken = store.unavailable(conn, project_id, annotator, [i for i, _ in chunk], overlap)
        for example_id, score in chunk:
            if example_id not in taken and store.lease(conn, project_id, example_id, annotator, LEASE_S):
                return example_id, score
    return None


def _claim_shuffled(conn, project_id: int, annotator: str, split: str, skip: set[int], overlap: float = 0.0):
    """Claim a text no queue covers: the fixed shuffled order, read from a random point round the ring.

    Why a random point: read from the start, every claim would walk over every text labeled
    from this order before, inside the write lock (tens of ms once thousands are labeled)."""
    start = random.randrange(1 << 32)
    for low, high in ((start, 1 << 32), (0, start)):
        while rows := store.shuffled_examples(conn, project_id, split, low, high, CLAIM_CHUNK):
            picked = _claim_first(conn, project_id, annotator, [(i, None) for i, _ in rows], skip, overlap)
            if picked is not None:
                return picked
            low = rows[-1][1] + 1
    return None


@_locks_as_busy
def next_text(db, actor: auth.Actor, project_id: int, split: str = store.Split.POOL) -> NextText | None:
    """The next text for this annotator, leased to them; None when nothing is left.

    A text they were shown and have not answered yet (a live lease) comes back first. Then texts
    chosen for overlap that another annotator labeled and that wait for a second label; then pool
    texts come from the latest version's queue (the strategy's order), then any text the queue
    does not cover; eval texts come in the project's fixed shuffled order (`store.eval_in_order`),
    which nothing about the texts or the model influences. Texts the
    annotator skipped come back last, the longest-ago skip first. Nobody is given a text they
    labeled, nor (outside overlap) one someone else labeled; the text comes without anyone's label.
    The choice and the lease are one write transaction, so two annotators never get the same
    text; what can be read before it (the version, its queue file) is read before it.
    """
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    version = store.current_version(db, project_id)
    source = version or store.latest_encoder(db, project_id)
    # Eval texts: the project's fixed shuffle, first free one first (store.eval_in_order), never the model's order.
    queued = (_queued(source) if split == store.Split.POOL
              else [(i, None) for i in store.eval_in_order(db, project_id)])
    overlap = store.settings(db, project_id).overlap
    waiting = store.waiting_for_second_label(db, project_id, annotator, split, overlap)
    queue_why = ("eval sample (random)" if split == store.Split.EVAL
                 else version["params"].get("strategy", "model queue") if version else "cold start: kmeans")
    rest_why = "eval sample (random)" if split == store.Split.EVAL else "not embedded yet (shuffled order)"
    with _writing(db) as conn:
        held = store.own_lease(conn, project_id, annotator, split)
        picked, why = ((held, None), "shown before, not answered yet") if held is not None else (None, None)
        if picked is None:
            store.release_leases(conn, project_id, annotator)
            skipped = set(store.skipped_by(conn, project_id, annotator, split))
            picked, why = _claim_first(conn, project_id, annotator, [(i, None) for i in waiting], skipped,
                                       overlap), "second opinion"
        if picked is None:
            picked, why = _claim_first(conn, project_id, annotator, queued, skipped, overlap), queue_why
        if picked is None:
            picked, why = _claim_shuffled(conn, project_id, annotator, split, skipped, overlap), rest_why
        if picked is None:
            picked, why = _claim_first(conn, project_id, annotator, [(i, None) for i in
                                                                     store.skipped_by(conn, project_id, annotator,
                                                                                      split)], set(), overlap), \
                "skipped earlier: offered again"
    if picked is None:
        return None
    example_id, score = picked
    return _show(db, project_id, example_id, version, why, score)


def _show(db, project_id: int, example_id: int, version: dict | None, why: str, score: float | None) -> NextText:
    """A text already leased to the annotator, with the model's suggestion; reads only."""
    row = store.example(db, example_id)
    shown = NextText(example_id, row["text"], row["meta"], row["split"], why, score,
                     version["id"] if version else None)
    if version is not None and not _labeled(db, project_id, example_id):
        _add_suggestion(db, project_id, version, shown)
    return shown


def _labeled(db, project_id: int, example_id: int) -> bool:
    """Whether a label is in effect on the text. The model then learned that label, so its
    suggestion would show a second annotator (overlap) the first one's label: none is shown."""
    return bool(store.label_holders(db.conn, project_id, example_id))


def _add_suggestion(db, project_id: int, version: dict, shown: NextText) -> None:
    """The version's guess for a pool text. Never for an eval text (issue 20): eval labels never
    train, so "your label teaches it the most" would be false, and a label nudged by the model's
    guess would no longer measure the model."""
    if shown.split == store.Split.EVAL:
        return
    ids = embeddings.read(store.encoder(db, version["encoder_id"])["path"])[0]
    row = int(np.searchsorted(ids, shown.example_id))
    if row >= len(ids) or ids[row] != shown.example_id:
        return
    names = store.class_names(db, project_id)
    probs = np.asarray(_probs(version["path"])[row], dtype=float)
    best = int(probs.argmax())
    shown.suggestion, shown.confidence = names[best], float(probs[best])
    shown.probabilities = {name: float(p) for name, p in zip(names, probs)}


def refresh_suggestion(db, project_id: int, shown: NextText) -> NextText:
    """The same text with the suggestion of the version served now (a new one may have been
    published while the annotator was reading)."""
    version = store.current_version(db, project_id)
    if version is None or version["id"] == shown.version_id:
        return shown
    fresh = NextText(shown.example_id, shown.text, shown.meta, shown.split, shown.strategy, shown.score,
                     version["id"])
    if not _labeled(db, project_id, shown.example_id):
        _add_suggestion(db, project_id, version, fresh)
    return fresh


def suggestion(db, project_id: int, example_id: int) -> tuple[str, float] | None:
    """The served version's view of a text: (its most likely class, how sure), None without one."""
    version = store.current_version(db, project_id)
    if version is None:
        return None
    view = NextText.direct(example_id)
    _add_suggestion(db, project_id, version, view)
    return (view.suggestion, view.confidence) if view.suggestion is not None else None


def _writing(db):
    """The write transaction of the annotation flow (looked up at call time, so tests can watch it)."""
    return store.transaction(db)


def _ensure_free(conn, project_id: int, example_id: int, annotator: str, next_one: bool = False,
                 overlap: float = 0.0) -> None:
    """Refuse a text someone else has: their label is in effect (outside overlap: a text chosen for
    overlap takes one label from each of two annotators), or they hold a live lease on it.

    Call inside the write transaction that then writes, so nobody can take it in between.
    The annotator's own label may be replaced (relabel, or label again after undo)."""
    then = "; here is the next one." if next_one else "."
    holders = store.label_holders(conn, project_id, example_id)
    others = holders - {annotator}
    if others and not (len(others) == 1 and store.IMPORTED not in others
                       and store.overlap_chosen(project_id, example_id, overlap)):
        raise TextTaken("Someone else labeled this text while you were reading it" + then)
    leased_by = store.lease_holder(conn, project_id, example_id)
    if leased_by is not None and leased_by != annotator:
        raise TextTaken("Someone else is labeling this text now" + then)


@_locks_as_busy
def submit_label(db, actor: auth.Actor, project_id: int, shown: NextText, label: str,
                 seconds: float | None = None) -> int:
    """Append a label for the text that was shown, and schedule the refits it triggers, in one
    committed transaction. The annotation records why it was shown (strategy, score) and the
    version whose suggestion came with it.

    Refused (TextTaken) if someone else labeled the text (outside overlap) or holds a live lease on it."""
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    if label not in store.class_names(db, project_id):
        raise AnnotationError(f"{label!r} is not a class of this project.")
    if store.project_kind(db, project_id) == "multi":  # a set is recorded by core.labeling.multilabel
        raise AnnotationError("This project is multi-label: give a set of classes.")
    _check_example(db, project_id, shown.example_id)
    overlap = store.settings(db, project_id).overlap
    with _writing(db) as conn:
        _ensure_free(conn, project_id, shown.example_id, annotator, next_one=True, overlap=overlap)
        annotation_id = store.add_annotation(conn, project_id, shown.example_id, annotator, store.Action.LABEL, label=label,
                                             seconds=seconds, model_version_id=shown.version_id,
                                             strategy=shown.strategy, score=shown.score)
        store.release_leases(conn, project_id, annotator)
        scheduling.schedule_training(db, conn, project_id)
    return annotation_id


@_locks_as_busy
def skip(db, actor: auth.Actor, project_id: int, example_id: int, seconds: float | None = None) -> int:
    """Append a skip (the text comes back to this annotator after the rest); same checks as a label."""
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    _check_example(db, project_id, example_id)
    overlap = store.settings(db, project_id).overlap
    with _writing(db) as conn:
        _ensure_free(conn, project_id, example_id, annotator, next_one=True, overlap=overlap)
        annotation_id = store.add_annotation(conn, project_id, example_id, annotator, store.Action.SKIP, seconds=seconds)
        store.release_leases(conn, project_id, annotator)
    return annotation_id


@_locks_as_busy
def undo_last(db, actor: auth.Actor, project_id: int) -> int | None:
    """Revert the annotator's latest label or skip and lease its text back to them; returns its example id.

    One transaction, so nobody else can be given the text between the undo and the lease.
    Refused (TextTaken) if someone else is reading or has labeled that text meanwhile."""
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    overlap = store.settings(db, project_id).overlap
    with _writing(db) as conn:
        last = store.last_undoable(db, project_id, annotator)
        if last is None:
            return None
        _ensure_free(conn, project_id, last["example_id"], annotator, overlap=overlap)
        store.add_annotation(conn, project_id, last["example_id"], annotator, store.Action.UNDO, reverts=last["id"])
        store.release_leases(conn, project_id, annotator)
        store.lease(conn, project_id, last["example_id"], annotator, LEASE_S)
    return last["example_id"]


@_locks_as_busy
def undo_and_show(db, actor: auth.Actor, project_id: int) -> NextText | None:
    """`undo_last`, then the text it gave back (already leased), for the page to show; None if nothing to undo."""
    example_id = undo_last(db, actor, project_id)
    if example_id is None:
        return None
    return _show(db, project_id, example_id, store.current_version(db, project_id), "undo", None)


@_locks_as_busy
def show_example(db, actor: auth.Actor, project_id: int, example_id: int, why: str) -> NextText:
    """A specific text (found by keyword search), leased to this annotator unless someone else has it."""
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    _check_example(db, project_id, example_id)
    version = store.current_version(db, project_id)
    overlap = store.settings(db, project_id).overlap
    with _writing(db) as conn:
        _ensure_free(conn, project_id, example_id, annotator, overlap=overlap)
        store.release_leases(conn, project_id, annotator)
        store.lease(conn, project_id, example_id, annotator, LEASE_S)
    return _show(db, project_id, example_id, version, why, None)


def _check_example(db, project_id: int, example_id: int) -> None:
    if store.example_project(db, example_id) != project_id:
        raise AnnotationError("That text is not part of this project.")


def progress(db, project_id: int) -> dict:
    """Label counts for the Annotate page: pool labels in all and per class, pool labels since the
    current model (None without one), eval labels, and `pace.Progress` against pool and budget.

    Every count here is of pool labels unless it says eval: "Labels 18" beside "Since the current
    model 20" (eval labels counted in one and not the other, and no model at all) read as a
    contradiction (issue 20 item 6)."""
    labels = store.current_labels(db, project_id)
    names = store.class_names(db, project_id)
    per_class = {name: 0 for name in names}
    for row in labels:
        if row["split"] == store.Split.POOL:
            per_class[row["label"]] = per_class.get(row["label"], 0) + 1
    version = store.current_version(db, project_id)
    pool_labels = sum(per_class.values())
    eval_labels = sum(r["split"] == store.Split.EVAL for r in labels)
    n_pool = store.example_count(db, project_id, store.Split.POOL)
    n_eval = store.example_count(db, project_id, store.Split.EVAL)
    since = (sum(r["split"] == store.Split.POOL and r["annotation_id"] > version["label_watermark"] for r in labels)
             if version else None)
    return {
        "labels": pool_labels,
        "per_class": per_class,
        "eval_labels": eval_labels,
        "pool": n_pool,
        "eval": n_eval,
        "since_model": since,
        "version": version,
        "progress": pace.Progress(pool_labels, n_pool, eval_labels, n_eval,
                                  store.settings(db, project_id).label_budget),
    }


# Why the Model page opened a text on Annotate ("label this"); also stored with the label as its strategy.
FROM_EVAL_MISTAKE = "model got it wrong on the eval sample"
FROM_VERSION_DISAGREEMENT = "the last two versions disagree"
# Why a text was shown when no query strategy chose it, in plain words first; a strategy's own
# words are its spec's `reason` (`strategies.STRATEGIES`), its technical name goes in the help text.
# Every strategy and every way a text reaches Annotate has its own words.
REASONS = {
    "cold start: kmeans": "A typical text: before there is a model, texts that cover the data come first.",
    "model queue": "Next in the model's queue.",
    "eval sample (random)": "Eval text: picked at random, so the model's accuracy on these is an honest estimate.",
    "not embedded yet (shuffled order)": "Texts are still being prepared for the model; shown in a shuffled order "
                                         "meanwhile.",
    "keyword search": "You picked this text by keyword.",
    FROM_EVAL_MISTAKE: "Opened from the Model page: the model got this eval text wrong; check its label.",
    FROM_VERSION_DISAGREEMENT: "Opened from the Model page: the last two model versions disagree about this text.",
    "undo": "You undid this label: label it again.",
    "shown before, not answered yet": "You were shown this text before and have not answered it yet.",
    "second opinion": "A second opinion: another annotator labeled this text too (their label is not shown), "
                      "so the team can measure agreement.",
    "skipped earlier: offered again": "You skipped this text earlier; everything else is done, so it is back.",
}
# Below this confidence a suggestion is noise (the queue holds the texts the model is least sure
# of) and would only nudge the annotator, so it is not shown.
SUGGESTION_MIN_CONFIDENCE = 0.75
# One text in EVAL_EVERY_EARLY comes from the eval sample until an annotator has EARLY_EVAL_LABELS
# eval labels, then one in EVAL_EVERY. Why (issue 20; docs/benchmarks.md, `bench/eval_rate.py`):
# at one in ten, 25 eval labels (an interval of +-17 points) took 250 labels; at one in five,
# 50 eval labels (+-12 points) take 250, for 25 fewer training labels at a point where each one
# moves the model little. Past 50 the interval narrows slowly, so the rate drops back.
EVAL_EVERY_EARLY = 5
EARLY_EVAL_LABELS = 50
EVAL_EVERY = 10


def describe(shown: NextText) -> tuple[str, str]:
    """Why this text was chosen: (plain words, technical detail)."""
    if shown.strategy in strategies.STRATEGIES:
        words = strategies.STRATEGIES[shown.strategy].reason
    else:
        words = REASONS.get(shown.strategy, "Chosen by the model's query strategy.")
    detail = f"strategy: {shown.strategy}" + (f", score {shown.score:.3f}" if shown.score is not None else "")
    return words, detail


def confident_suggestion(shown: NextText) -> tuple[str, float] | None:
    """The model's suggestion when it is sure enough to be worth showing, else None."""
    if shown.suggestion is None or shown.confidence is None or shown.confidence < SUGGESTION_MIN_CONFIDENCE:
        return None
    return shown.suggestion, shown.confidence


def eval_due(pool_labels: int, eval_labels: int) -> bool:
    """Whether the next text should be an eval text, given an annotator's labels so far: one in
    EVAL_EVERY_EARLY until EARLY_EVAL_LABELS eval labels, then one in EVAL_EVERY."""
    if eval_labels < EARLY_EVAL_LABELS:
        return pool_labels >= (eval_labels + 1) * (EVAL_EVERY_EARLY - 1)
    return pool_labels >= (EARLY_EVAL_LABELS * (EVAL_EVERY_EARLY - 1)
                           + (eval_labels - EARLY_EVAL_LABELS + 1) * (EVAL_EVERY - 1))


def choose_split(db, project_id: int, annotator: str) -> str:
    """Pool or eval for the next text (`eval_due`): eval texts are a random sample the model never
    picks from, served until it is all labeled."""
    if not store.example_count(db, project_id, store.Split.EVAL):
        return store.Split.POOL
    counts = store.labels_by_split(db, project_id, annotator)
    due = eval_due(counts.get(store.Split.POOL, 0), counts.get(store.Split.EVAL, 0))
    if due and store.unlabeled_count(db, project_id, store.Split.EVAL):
        return store.Split.EVAL
    return store.Split.POOL


def model_status(db, project_id: int, now: float | None = None) -> str:
    """The served model in a line for the Annotate page; before the first one, what is happening.

    While the texts are embedded it says how far along and how long is left, and that labeling
    goes on meanwhile (issue 20: "No model yet... once two classes have labels" stood through 104
    labels while 8,057 texts were embedded)."""
    version = store.current_version(db, project_id)
    if version is not None:
        return f"Model: version {version['number']} ({version['kind']}, {version['n_labels']} labels)"
    embedding = [j for j in store.active_jobs(db, project_id) if j["kind"] == store.JobKind.EMBED]
    if not embedding:
        return "No model yet: the first one trains once two classes have labels."
    job = next((j for j in embedding if j["status"] == store.JobStatus.RUNNING), embedding[0])
    if job["status"] != store.JobStatus.RUNNING:
        doing = "preparing the texts for the model (waiting for the background worker to start)"
    else:
        line = kinds.status_line(job, time.time() if now is None else now).text
        doing = "preparing the texts for the model: " + line.removeprefix(kinds.name(job) + ": ")
    embedded = store.latest_encoder(db, project_id)
    first = ("The first model trains on the labeled texts prepared so far as soon as two classes have labels."
             if embedded else "The first model trains as soon as the first texts are prepared and two classes "
                              "have labels.")
    return f"No model yet: {doing}. Keep labeling meanwhile; every label is kept. {first}"


FROM_HISTORY = "changed in the label history"


@_locks_as_busy
def relabel(db, actor: auth.Actor, project_id: int, example_id: int, label: str) -> int:
    """Change one of the annotator's past labels (found in their label history, issue 20 item 8):
    a new label annotation is appended, as undo appends one, so the old label stays on record and
    the new one is in effect from now on. Refused for a text the annotator never labeled, and (as a
    label is) for a text someone else holds or labeled outside overlap."""
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    if label not in store.class_names(db, project_id):
        raise AnnotationError(f"{label!r} is not a class of this project.")
    _check_example(db, project_id, example_id)
    overlap = store.settings(db, project_id).overlap
    with _writing(db) as conn:
        if annotator not in store.label_holders(conn, project_id, example_id):
            raise AnnotationError("You have not labeled that text: label it on the Annotate page.")
        _ensure_free(conn, project_id, example_id, annotator, overlap=overlap)
        annotation_id = store.add_annotation(conn, project_id, example_id, annotator, store.Action.LABEL, label=label,
                                             strategy=FROM_HISTORY)
        scheduling.schedule_training(db, conn, project_id)
    return annotation_id
