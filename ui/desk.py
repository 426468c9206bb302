"""What one annotator's Annotate page shows, kept where a key press cannot lose it (issue 20).

Streamlit stops a run at any read or write of `st.session_state` once a newer run is asked for, and
with `runner.fastReruns` (its default) it starts that newer run in a new thread at once, while the
old one goes on until its next such point. Key presses a few milliseconds apart therefore ran their
callbacks side by side: the first stored its label and was stopped before it could record the next
text, the second labeled the same text again, and a press stopped before its label was lost (a
browser test of five presses within 100 ms stored three, one text three times).

A `Desk` is one plain object in the session state, handed to the label, skip and undo callbacks as
an argument, so they read and change it without touching `st.session_state`: nothing can stop them
between storing a label and recording the next text. Its lock makes the callbacks of runs that
overlap take turns, so each press labels the text the press before it moved on to.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core import store


@dataclass(eq=False)
class Desk:
    actor: Any  # who the page was last drawn for (callbacks check their session is still live)
    shown: Any = None  # the `annotate.NextText` on screen; None: nothing left to label
    ready: bool = False  # False: `shown` is answered (or none was picked yet): pick the next text
    shown_at: float = field(default_factory=time.time)
    flash: tuple[str, str] | None = None  # ("saved" | "error", message) for the next run to show
    chosen: set = field(default_factory=set)  # multi-label: the classes toggled on for `shown`
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _tickets: Any = field(default_factory=itertools.count, repr=False)
    _serving: int = 0
    _turns: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @contextlib.contextmanager
    def turn(self, patience_s: float = 10.0):
        """Callbacks take turns in the order they arrived (runs that overlap race for a plain lock, and
        two presses applied out of order would give each text the other's label). Nothing between
        taking a ticket and taking the turn can stop a run, so no ticket is left unserved;
        `patience_s` is only a guard against waiting for ever."""
        ticket = next(self._tickets)  # atomic: no other thread runs between the read and the step
        with self._turns:
            deadline = time.monotonic() + patience_s
            while self._serving < ticket and time.monotonic() < deadline:
                self._turns.wait(0.05)
            self._serving = max(self._serving, ticket)
        try:
            yield
        finally:
            with self._turns:
                self._serving = max(self._serving, ticket + 1)
                self._turns.notify_all()

    def show(self, shown) -> None:
        self.shown, self.ready, self.shown_at, self.chosen = shown, True, time.time(), set()

    def seconds(self) -> float:
        """How long the text has been on screen."""
        return time.time() - self.shown_at


def desk(key: str, actor) -> Desk:
    """The page's desk (made on the first run), drawn for `actor` from now on."""
    found = st.session_state.get(key)
    if found is None:
        found = st.session_state[key] = Desk(actor)
    found.actor = actor
    return found


def callback(fn):
    """`ui.callback` for a desk's callbacks (the desk is their first argument): the same check that the
    account is still signed in, on the desk's actor instead of `st.session_state`, and the desk's
    lock held throughout."""
    @functools.wraps(fn)
    def guarded(on: Desk, *args, **kwargs):
        from core.team import auth

        with on.turn(), on.lock:
            if on.actor is not None and on.actor.session is not None and not auth.session_live(store.connect(), on.actor):
                return None
            return fn(on, *args, **kwargs)

    return guarded
