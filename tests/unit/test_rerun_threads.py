"""Issue 19 item 2: "cannot start a transaction within a transaction" on the Annotate page.

Why it happened: Streamlit runs every rerun in a new ScriptRunner thread and, with
`runner.fastReruns` (on by default), starts the next rerun at once while the one it stopped is
still running until its next `st.` call. A page's callbacks (`on_label`, `on_skip`) are closures
made by the run that drew the buttons, over that run's `db = store.connect()`, and the next run
calls them. So two threads used one sqlite connection: while one was inside a write
transaction, the other's BEGIN IMMEDIATE failed (and the writer lock, an flock on one shared
descriptor, did not keep them apart). A store handle now always uses the connection of the
thread that uses it, whichever thread made it.
"""
import threading
import time

from core import store
from core.labeling import annotate
from core.team import auth
from tests.conftest import make_project


def test_a_callback_made_by_one_rerun_and_called_by_the_next_uses_its_own_connection(db):
    pid = make_project(db, texts=[f"text number {i}" for i in range(20)])
    actor = auth.local_actor("ann")
    inside, release, page = threading.Event(), threading.Event(), {}

    def stopped_run():
        """Run N: draws the label button, then (stopped by a fast rerun, not yet at an interrupt
        point) is still inside a write transaction of its own connection."""
        page_db = store.connect()
        shown = annotate.next_text(page_db, actor, pid)
        page["on_label"] = lambda: annotate.submit_label(page_db, actor, pid, shown, "yes")
        with store.transaction(page_db):
            inside.set()
            release.wait(10)

    errors, saved = [], []

    def next_run():
        """Run N+1, a new ScriptRunner thread: Streamlit calls the button's callback first."""
        try:
            saved.append(page["on_label"]())
        except Exception as exc:  # noqa: BLE001 — surfaced below
            errors.append(exc)

    first = threading.Thread(target=stopped_run)
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=next_run)
    second.start()
    time.sleep(0.3)  # the callback now waits for the writer lock (today it failed at once)
    release.set()
    first.join(10)
    second.join(10)
    assert errors == []
    assert len(saved) == 1 and [r["label"] for r in store.current_labels(db, pid)] == ["yes"]


def test_a_handle_used_in_another_thread_never_shares_the_sqlite_connection(db):
    seen = {}

    def other():
        seen["conn"] = db.conn
        seen["lock"] = db.writer_lock_fd

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen["conn"] is not db.conn
    assert seen["lock"] is None or seen["lock"] != db.writer_lock_fd
