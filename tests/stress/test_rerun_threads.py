"""Issue 19 item 2, under load: a Streamlit session's overlapping reruns and its fragment in
threads of this process, while annotator processes label and retrains are scheduled.

What a session does, as Streamlit 1.67 does it: every rerun is a new thread; with fast reruns
the next one starts at once while the stopped one still runs; a rerun first calls the callbacks
of the buttons the browser shows, which are closures over the `db` of the run that drew them
(so two quick key presses call the same run's callback from two threads); a fragment
(`run_every`) keeps the `db` of the run that defined it. Any error other than a refusal the page
shows as a message (someone else has the text) fails the test; every label acknowledged is in
the store. On the code before the fix this failed within a second with "cannot start a
transaction within a transaction".
"""
import random
import threading
import time

import pytest

from core import store
from core.labeling import annotate, scheduling
from core.team import auth, projects
from tests.stress.harness import PASSWORD, annotator_name, check, create_project, env_int, run_annotators

pytestmark = pytest.mark.stress


class Session:
    """One browser tab's Annotate page: overlapping reruns and a fragment, as threads."""

    def __init__(self, project_id: int, actor: auth.Actor, admin: auth.Actor, seed: int):
        self.project_id, self.actor, self.admin, self.rng = project_id, actor, admin, random.Random(seed)
        self.callbacks = None  # what the buttons the browser shows call: made by the run that drew them
        self.lock = threading.Lock()
        self.errors, self.saved, self.refused = [], [], 0

    def rerun(self) -> None:
        """One script run: the callback of the pressed button first, then the page."""
        try:
            with self.lock:
                pressed = self.callbacks
            if pressed is not None:
                label = self.rng.choice(pressed["classes"])
                self.saved.append(pressed["on_label"](label))
                if self.rng.random() < 0.1:
                    pressed["train_now"]()
            db = store.connect()  # the page's `db = store.connect()`
            shown = annotate.next_text(db, self.actor, self.project_id)
            annotate.progress(db, self.project_id)
            if shown is None:
                return
            classes = store.class_names(db, self.project_id)
            with self.lock:
                self.callbacks = {
                    "classes": classes,
                    "on_label": lambda label: annotate.submit_label(db, self.actor, self.project_id, shown, label),
                    "train_now": lambda: scheduling.train_now(db, self.actor, self.project_id),
                    "db": db}
        except annotate.TextTaken:
            self.refused += 1
        except Exception as exc:  # noqa: BLE001 — what would reach the page as a traceback
            self.errors.append(repr(exc))

    def fragment(self, stop: threading.Event) -> None:
        """`@st.fragment(run_every=...)`: reads with the `db` of the run that defined it, and now and
        then an admin's change (a transaction) from it."""
        while not stop.is_set():
            with self.lock:
                pressed = self.callbacks
            if pressed is not None:
                try:
                    db = pressed["db"]
                    store.current_version(db, self.project_id)
                    store.active_jobs(db, self.project_id)
                    if self.rng.random() < 0.2:
                        projects.update_settings(db, self.admin, self.project_id,
                                                 {"queue_size": self.rng.choice([200, 201])})
                except Exception as exc:  # noqa: BLE001
                    self.errors.append(repr(exc))
            stop.wait(0.01)


def test_overlapping_reruns_and_fragments_with_annotator_processes_never_nest_a_transaction(db, data_dir):
    n_processes = env_int("SIEVE_STRESS_ANNOTATORS", 3)
    labels = env_int("SIEVE_STRESS_LABELS", 30)
    project_id = create_project(db, 2000, [annotator_name(i) for i in range(n_processes)])
    admin = auth.login(db, "stress-admin", PASSWORD).actor
    projects.update_settings(db, admin, project_id, {"retrain_every": 3, "refit_every": 2})
    # Reviewers: they label and may press Train now.
    sessions = [Session(project_id, auth.create_user(db, admin, f"tab{i}", PASSWORD, auth.REVIEWER), admin, i)
                for i in range(2)]
    stop = threading.Event()
    fragments = [threading.Thread(target=s.fragment, args=(stop,), daemon=True) for s in sessions]
    runs: list[threading.Thread] = []

    def key_presses() -> None:
        """Quick key presses: each starts a new rerun without waiting for the last (fast reruns); a
        person does not press faster than a few keys a second per tab, and never with more than a
        few reruns of one tab still running."""
        while not stop.is_set():
            for session in sessions:
                if sum(t.is_alive() for t in runs[-8:]) < 4:
                    thread = threading.Thread(target=session.rerun, daemon=True)
                    thread.start()
                    runs.append(thread)
            time.sleep(random.uniform(0.005, 0.05))

    presser = threading.Thread(target=key_presses, daemon=True)
    for thread in [*fragments, presser]:
        thread.start()
    try:
        results = run_annotators(data_dir, n_processes, labels, timeout=300)
        time.sleep(1.0)
    finally:
        stop.set()
        presser.join(10)
        for thread in [*fragments, *runs]:
            thread.join(30)
    errors = [e for s in sessions for e in s.errors]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    found = check(db, project_id, results)
    assert found.errors == [] and found.missing == [] and found.integrity == "ok"
    saved = [i for s in sessions for i in s.saved]
    assert len(saved) > 20, "the sessions hardly labeled: the test did not exercise the overlap"
    assert {r["id"] for r in store.annotations(db, project_id)} >= set(saved)
    assert store.has_active_job(db, project_id, store.JobKind.FULL)  # retrains were scheduled
