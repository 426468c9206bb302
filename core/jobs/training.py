"""What the worker's training jobs do: embed the pool, refit the head, retrain the encoder.

Each function reads the store, computes, and hands a `VersionRecord` to `publishing`, which
writes artifacts atomically and publishes the result in one transaction, so a crash at any
point leaves the last good version serving.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from core import artifacts, store
from core.learning import class_examples, classifiers, comparison, embeddings, neighbours, strategies
from core.learning.classifiers import head
from core.learning.classifiers.protocol import Progress
from core.jobs import multilabel_training, ray_backend
from core.jobs.label_arrays import LabelRows, label_rows, unlabeled_pool_rows, unlabeled_sample
from core.jobs.publishing import VersionRecord, publish


def _noop(_fraction: float, _message: str) -> None:
    pass


class NothingToDo(Exception):
    """The job has no work (e.g. too few labels); it finishes with this message and no version."""


# ---------------------------------------------------------------- embed


FIRST_EMBED_CHUNK = 256  # texts embedded and published first, so a first model can fit within seconds
# Partial publishes up to this many texts recompute the cold-start queue (k-means, seconds); larger
# ones keep the last one, which already holds typical texts of the pool, until the final publish.
COLD_START_RECOMPUTE_UNTIL = 4_000


def embed_order(db, project_id: int, missing: np.ndarray) -> np.ndarray:
    """The texts to embed, those an annotator meets first first: labeled ones (a head fits on them
    as soon as they are embedded), then the eval sample in its serving order, then the pool in the
    shuffled order the Annotate page serves unembedded texts in (`store.SHUFFLE_KEY`)."""
    labeled = {r["example_id"] for r in store.current_labels(db, project_id)}
    evals = store.eval_in_order(db, project_id)
    eval_rank = {example_id: i for i, example_id in enumerate(evals)}

    def rank(example_id: int) -> tuple[int, int]:
        if example_id in labeled:
            return 0, 0
        if example_id in eval_rank:
            return 1, eval_rank[example_id]
        return 2, (example_id * 2654435761) % 4294967296

    return np.array(sorted(missing.tolist(), key=rank), dtype=np.int64)


def embed_pool(db, project_id: int, job_id: int | None = None, progress: Progress = _noop) -> int:
    """Embed every example the latest encoder lacks (all of them the first time).

    In growing chunks (FIRST_EMBED_CHUNK texts, then twice as many each time), each published as
    it is done, so annotators label and a head fits on the embedded labeled texts while the rest
    is embedded (issue 20: 426 s of "No model yet" for 8,057 texts); the texts shown first and
    those already labeled go first (`embed_order`). Doubling keeps the rewrites of the growing
    embedding file under twice its final size. Ray embeds in one piece."""
    project = store.project(db, project_id)
    latest = store.latest_encoder(db, project_id)
    model = latest["model"] if latest else project["model"]
    all_ids = np.array(store.example_ids(db, project_id), dtype=np.int64)
    old_ids = embeddings.read(latest["path"])[0] if latest else np.array([], np.int64)
    missing = np.setdiff1d(all_ids, old_ids)
    if len(missing) == 0:
        raise NothingToDo("every text is already embedded")
    progress(0.0, f"loading encoder for {len(missing):,} texts")
    texts = store.texts_by_id(db, missing.tolist())
    started = time.perf_counter()
    if ray_backend.configured():  # on the cluster's actor pool; the vectors come back here
        vectors = ray_backend.embed_texts(model, [texts[i] for i in missing], lambda f, m: progress(0.95 * f, m),
                                          family=latest["family"] if latest else None)
        return publish_embeddings(db, project_id, missing, vectors, time.perf_counter() - started, job_id)
    if latest and latest["family"] == "transformer":
        encoder = classifiers.load("transformer", Path(model))

        def encode(chunk_texts, _report):
            return encoder.embed_and_score(chunk_texts)[0]
    else:
        encoder = embeddings.load_encoder(model)

        def encode(chunk_texts, report):
            return embeddings.encode(encoder, chunk_texts, progress=report)
    remaining, done, size, encoder_id, total = missing, 0, FIRST_EMBED_CHUNK, None, len(missing)
    while len(remaining):
        ordered = embed_order(db, project_id, remaining)  # again each time: texts labeled meanwhile go next
        chunk, remaining = ordered[:size], ordered[size:]

        def report(fraction: float, _message: str, base=done, n=len(chunk)) -> None:
            progress(0.95 * (base + fraction * n) / total, f"embedded {base + fraction * n:,.0f} of {total:,} texts")
        vectors = encode([texts[i] for i in chunk], report)
        done += len(chunk)
        last = not len(remaining)
        encoder_id = publish_embeddings(db, project_id, chunk, vectors, time.perf_counter() - started,
                                        job_id, embedded=(done, total), finish=last,
                                        cold_start=last or done <= COLD_START_RECOMPUTE_UNTIL)
        if not last:
            progress(0.95 * done / total, f"embedded {done:,} of {total:,} texts; labeling can use them")
        size *= 2
    return encoder_id


def publish_embeddings(db, project_id: int, ids: np.ndarray, vectors: np.ndarray, seconds: float,
                       job_id: int | None = None, embedded: tuple[int, int] | None = None,
                       cold_start: bool = True, finish: bool = True) -> int:
    """Add embeddings of `ids` to the latest encoder's as a new encoder artifact, with a cold-start queue.

    Nothing is published for a cancelled `job_id` (its project deleted); with `finish` (the last
    chunk) the job is finished with it; `embedded` (done, of) says how far the job is.
    Without `cold_start` the latest encoder's cold-start queue is kept (a partial publish of a large
    pool: k-means over tens of thousands of texts takes half a minute on a loaded CPU)."""
    project = store.project(db, project_id)
    latest = store.latest_encoder(db, project_id)
    added = len(ids)
    if latest:
        old_ids, old_vectors = embeddings.read(latest["path"])
        ids, vectors = np.concatenate([old_ids, ids]), np.concatenate([np.asarray(old_vectors), vectors])
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "encoders", "enc") as (tmp, final):
        embeddings.write(tmp, ids, vectors)
        neighbours.save(tmp, vectors)  # for density-weighted queries, so no refit has to compute it
        if cold_start or latest is None:
            write_cold_start_queue(db, project_id, tmp, ids, vectors)
        else:
            for name in ("queue.npy", "queue_scores.npy"):
                shutil.copyfile(Path(latest["path"]) / name, tmp / name)
    with artifacts.discarded_unless_published(final), store.transaction(db) as conn:
        store.check_open(conn, job_id)  # a cancelled job (a deleted project) publishes nothing
        encoder_id = store.add_encoder(conn, project_id, store.NewEncoder(
            latest["model"] if latest else project["model"], str(final), len(ids), vectors.shape[1], seconds,
            latest["family"] if latest else classifiers.SENTENCE_ENCODER,
            version_id=latest["version_id"] if latest else None))
        if job_id is not None and finish:
            total = embedded[1] if embedded else added
            store.finish_job(conn, job_id, message=f"embedded {total:,} texts in {seconds:.1f} s")
        if store.label_count(db, project_id):
            store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": "new embeddings"})
    return encoder_id


COLD_START_BATCH = 50


def write_cold_start_queue(db, project_id: int, directory: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Before any model: typical, diverse texts first (k-means centroids), then a shuffled rest."""
    settings = store.settings(db, project_id)
    labeled = [r["example_id"] for r in store.current_labels(db, project_id)]
    pool = np.setdiff1d(store.example_ids(db, project_id, store.Split.POOL), labeled)
    candidates = np.flatnonzero(np.isin(ids, pool))
    queue = strategies.rank_queue("kmeans", None, vectors, candidates, settings.queue_size,
                                  min(COLD_START_BATCH, settings.queue_size), np.random.default_rng(0))
    artifacts.save_npy(directory / "queue.npy", ids[queue.indices])
    artifacts.save_npy(directory / "queue_scores.npy", queue.scores.astype(np.float32))


# ---------------------------------------------------------------- head refit


def _labels_on_latest_encoder(db, project_id: int):
    """(encoder row, ids, vectors, class names, label rows) for a refit or retrain."""
    encoder_row = store.latest_encoder(db, project_id)
    if encoder_row is None:
        raise NothingToDo("the pool is not embedded yet")
    names = store.class_names(db, project_id)
    ids, vectors = embeddings.read(encoder_row["path"])
    return encoder_row, ids, vectors, names, label_rows(db, project_id, ids, names)


def refit_head(db, project_id: int, job_id: int | None = None) -> int:
    """Fit the head on the latest encoder's embeddings, score the pool, publish a `head` version.

    The first refit after a full retrain compares the new encoder with the previous one
    (`core.learning.comparison`) and serves the better; every later refit uses the encoder it chose."""
    if store.project_kind(db, project_id) == "multi":  # one-vs-rest heads (issue 21)
        try:
            return multilabel_training.refit(db, project_id, job_id)
        except multilabel_training.NotYet as err:
            raise NothingToDo(str(err)) from None
    encoder_row = store.latest_encoder(db, project_id)
    if encoder_row is not None and (pending := _pending_comparison(db, project_id, encoder_row)):
        return compare_after_retrain(db, project_id, *pending, job_id=job_id)
    return _refit_on(db, project_id, encoder_row, job_id)


def _refit_on(db, project_id: int, encoder_row: dict | None, job_id: int | None = None,
              serving: dict | None = None) -> int:
    """A head on `encoder_row` with every current label, published (with `serving`: why it is or is not served)."""
    t0 = time.perf_counter()
    settings = store.settings(db, project_id)
    if encoder_row is None:
        raise NothingToDo("the pool is not embedded yet")
    names = store.class_names(db, project_id)
    ids, vectors = embeddings.read(encoder_row["path"])
    labels = label_rows(db, project_id, ids, names)
    if len(np.unique(labels.y)) < 2:
        raise NothingToDo("waiting for labels of at least two classes")
    rows, y = labels.sorted_train()
    candidates = unlabeled_pool_rows(db, project_id, ids, labels.rows)
    examples = class_examples.for_encoder(encoder_row, store.classes(db, project_id)) if settings.head.class_names else None
    try:
        model = head.fit(np.asarray(vectors[rows], dtype=np.float32), y, settings.head,
                         unlabeled=unlabeled_sample(vectors, candidates), class_examples=examples)
    except ValueError as err:  # e.g. a calibrated SVM with a single label in some class
        raise NothingToDo(str(err)) from None
    t_fit = time.perf_counter()
    probs = head.predict_proba(model, vectors, len(names))
    t_score = time.perf_counter()
    params = {"head": settings.head.to_dict(), **({"serving": serving} if serving else {})}
    version_id = publish(db, VersionRecord(
        project_id, store.JobKind.HEAD, ids, vectors, probs, labels, params=params,
        timings={"fit_s": t_fit - t0, "score_s": t_score - t_fit}, head_model=model, encoder_id=encoder_row["id"],
        candidates=candidates, job_id=job_id, class_examples=examples))
    store.update_timing(db, version_id, "total_s", time.perf_counter() - t0)
    return version_id


# ---------------------------------------------------------------- serving a retrain on evidence


def _pending_comparison(db, project_id: int, encoder_row: dict) -> tuple[dict, dict, dict] | None:
    """(full version, its encoder, the previous encoder) when `encoder_row` comes from a full retrain
    that no head has been fitted on yet, else None."""
    full = store.latest_version(db, project_id, store.JobKind.FULL)
    if full is None or not full["params"].get("serving", {}).get("pending"):
        return None
    new = store.encoder(db, full["encoder_id"])
    if new is None or new["model"] != encoder_row["model"]:
        return None  # a later encoder (e.g. the previous one, chosen by the comparison) is in use
    compared = store.head_on_model_since(db, project_id, new["model"], full["id"])
    previous = store.encoder_before(db, project_id, new["id"], new["model"])
    if compared or previous is None:
        return None
    return full, encoder_row, previous


def _side(db, project_id: int, encoder_row: dict, names: list[str], settings):
    ids, vectors = embeddings.read(encoder_row["path"])
    labels = label_rows(db, project_id, ids, names)
    candidates = unlabeled_pool_rows(db, project_id, ids, labels.rows)
    examples = class_examples.for_encoder(encoder_row, store.classes(db, project_id)) if settings.head.class_names else None
    return ids, vectors, labels, unlabeled_sample(vectors, candidates), examples


def compare_after_retrain(db, project_id: int, full: dict, new_row: dict, old_row: dict,
                          job_id: int | None = None) -> int:
    """The head on the new encoder against the head on the previous one, scored on labeled texts
    the new encoder never saw (or the eval sample, when it has enough labels): both are published
    with every current label, the better one last and served. Returns the served version's id."""
    settings = store.settings(db, project_id)
    names = store.class_names(db, project_id)
    sides = {"new": _side(db, project_id, new_row, names, settings),
             "old": _side(db, project_id, old_row, names, settings)}
    seen = {r["example_id"] for r in store.labels_at(db, project_id, full["label_watermark"], store.Split.POOL)}
    seen -= set(full["params"].get("held_out", []))

    def by_example(side, eval_split: bool):
        ids, vectors, labels, _, _ = side
        rows, y = (labels.eval_rows, labels.eval_y) if eval_split else (labels.rows, labels.y)
        return dict(zip(ids[rows].tolist(), rows.tolist())), dict(zip(ids[rows].tolist(), y.tolist()))

    (new_rows, y_of), (old_rows, _) = by_example(sides["new"], False), by_example(sides["old"], False)
    common = np.array(sorted(set(new_rows) & set(old_rows)), dtype=np.int64)
    y = np.array([y_of[e] for e in common], dtype=np.int64)
    (new_eval, eval_y_of), (old_eval, _) = by_example(sides["new"], True), by_example(sides["old"], True)
    common_eval = np.array(sorted(set(new_eval) & set(old_eval)), dtype=np.int64)
    if len(common_eval) >= comparison.MIN_EVAL:
        on, train_ids, test_ids = "the eval sample", common, common_eval
        y_train, y_test = y, np.array([eval_y_of[e] for e in common_eval], dtype=np.int64)
        test_rows = {"new": new_eval, "old": old_eval}
    else:
        unseen = ~np.isin(common, np.fromiter(seen, np.int64, len(seen)))
        on, train_ids, test_ids = "labeled texts the retrained encoder never saw", common[~unseen], common[unseen]
        y_train, y_test = y[~unseen], y[unseen]
        test_rows = {"new": new_rows, "old": old_rows}
    figures = {}
    if len(test_ids) and len(np.unique(y_train)) >= 2:
        for name, (ids, vectors, _, unlabeled, examples) in sides.items():
            train_rows = {"new": new_rows, "old": old_rows}[name]
            side = comparison.Candidate(
                np.asarray(vectors[[train_rows[e] for e in train_ids]], dtype=np.float32),
                np.asarray(vectors[[test_rows[name][e] for e in test_ids]], dtype=np.float32), examples, unlabeled)
            figures[name] = comparison.score(side, y_train, y_test, len(names), settings.head)
    if figures:
        decision = comparison.decide(figures["new"], figures["old"], on)
        new_serving, old_serving = decision.to_params("new"), decision.to_params("old")
    else:
        reason = "no labeled texts the retrained encoder had not seen, so nothing to compare"
        new_serving = {"served": True, "reason": f"served without a comparison: {reason}"}
        old_serving = None
    if new_serving["served"]:
        if old_serving is not None:
            _refit_on(db, project_id, old_row, serving=old_serving)
        return _refit_on(db, project_id, new_row, job_id, serving=new_serving)
    # The previous encoder stays in service: it becomes the latest encoder again, so head refits,
    # added texts and the next retrain's comparison all use it.
    with store.transaction(db) as conn:
        store.check_open(conn, job_id)
        back = store.add_encoder(conn, project_id, store.NewEncoder(
            old_row["model"], old_row["path"], old_row["n"], old_row["dim"], old_row["seconds"] or 0.0,
            old_row["family"], version_id=old_row["version_id"]))
    _refit_on(db, project_id, new_row, serving=new_serving)
    version_id = _refit_on(db, project_id, store.encoder(db, back), job_id, serving=old_serving)
    if store.example_count(db, project_id) > old_row["n"]:  # texts only the new encoder embedded
        with store.transaction(db) as conn:
            store.enqueue(conn, project_id, store.JobKind.EMBED, {"reason": "texts added during a retrain"}, priority=10)
    return version_id


# ---------------------------------------------------------------- full retrain


def full_retrain(db, project_id: int, job_id: int | None = None, progress: Progress = _noop) -> int:
    """Train the project's family on all labels, re-embed and score the pool, publish a `full` version.

    Starts from the project's base model, so errors do not compound across retrains, unless
    the family's `warm_start` asks to continue from the last fine-tuned encoder.
    """
    project = store.project(db, project_id)
    if project["kind"] == "multi":  # the family on label sets (issue 21)
        try:
            return multilabel_training.full_retrain(db, project_id, job_id, progress)
        except multilabel_training.NotYet as err:
            raise NothingToDo(str(err)) from None
    settings = project["settings"]
    base, ids, _, names, labels = _labels_on_latest_encoder(db, project_id)
    counts = np.bincount(labels.y, minlength=len(names))
    if (counts >= 2).sum() < 2:
        raise NothingToDo("a full retrain needs at least two classes with two labels each")
    family, args = settings.family, settings.family_arguments()
    start_from = project["model"]
    if args.warm_start and (Path(base["model"]) / "config_setfit.json").exists():
        start_from = base["model"]  # the last SetFit-tuned encoder
        args = args.continuing()
    texts_by = store.texts_by_id(db, ids.tolist())
    # A fold the encoder never sees, so the comparison that follows can score it fairly (core.learning.comparison).
    held_out = comparison.held_out(ids[labels.rows], labels.y)
    held_out_ids = sorted(int(i) for i in ids[labels.rows[held_out]])
    labels = LabelRows(labels.rows[~held_out], labels.y[~held_out], labels.eval_rows, labels.eval_y,
                       labels.watermark)
    t0 = time.perf_counter()
    on_ray = ray_backend.configured()
    budget = classifiers.TimeBudget(settings.retrain_budget(ray_backend.device() if on_ray else embeddings.device()))
    train_texts, pool_texts = [texts_by[i] for i in ids[labels.rows]], [texts_by[i] for i in ids]
    if on_ray:  # trained on a Ray node, the pool scored by the actor pool; files and arrays come back
        remote = ray_backend.retrain(family, start_from, train_texts, labels.y, names, args, budget.seconds,
                                     pool_texts, progress)
        trained, vectors, probs = remote.trained, remote.vectors, remote.probs
        t_train = t0 + remote.train_s
    else:
        trained = classifiers.train(family, start_from, train_texts, labels.y, names, args,
                                    progress=lambda f, m: progress(0.7 * f, m), budget=budget)
        t_train = time.perf_counter()
        progress(0.7, f"scoring {len(ids):,} texts with the new model")
        vectors, probs = trained.embed_and_score(pool_texts)
    t_embed = time.perf_counter()
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "encoders", "enc") as (tmp, final):
        trained.save(tmp / "model")
        embeddings.write(tmp, ids, vectors)
        neighbours.save(tmp, vectors)
    progress(0.95, "publishing")
    info = trained.info
    params = {"family": family, family: args.to_dict(), "base_model": project["model"]}
    if getattr(trained, "embed_length", None):  # trained at args.max_length tokens, embeds at this many
        params["embed_max_length"] = trained.embed_length
    if info.history:
        params["history"] = info.history
    params["held_out"] = held_out_ids
    params["serving"] = {"served": False, "pending": True, "reason": (
        f"not served itself: the quick model refitted on its encoder with every label is compared with the one on "
        f"the previous encoder ({len(held_out_ids)} labels were kept out of this training for that) and the "
        f"better one is served")}
    timings = {"train_s": t_train - t0, "embed_s": t_embed - t_train, "train_steps": info.steps,
               "device": info.device, "precision": info.precision, "budget_s": budget.seconds,
               "stopped_at_budget": info.stopped_at_budget}
    if on_ray:
        timings["ray"] = True
    new_encoder = store.NewEncoder(str(final / "model"), str(final), len(ids), vectors.shape[1], t_embed - t_train,
                             classifiers.encoder_family(family))
    version_id = publish(db, VersionRecord(
        project_id, store.JobKind.FULL, ids, vectors, probs, labels, params, timings, head_model=trained.fast_head(),
        new_encoder=new_encoder, job_id=job_id))
    store.update_timing(db, version_id, "total_s", time.perf_counter() - t0)
    if store.example_count(db, project_id) > len(ids):  # texts added while it trained: embed them too
        with store.transaction(db) as conn:
            store.enqueue(conn, project_id, store.JobKind.EMBED, {"reason": "texts added during a retrain"}, priority=10)
    return version_id
